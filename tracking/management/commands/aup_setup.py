"""Create a user and the resources executors run on, as Auptimizer's `python -m aup.setup` does.

    python manage.py aup_setup --user alice --cpu 4 --gpu 0,1 --node me@host1,me@host2 --passive

Running it again creates only what is missing: resources are matched by type and name
(CPU slots by count), so nothing is ever duplicated. They are created in Auptimizer's
order (GPUs, nodes, AWS, CPU slots, passive), so get_resource_type() answers as Auptimizer's.
"""

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from tracking.resources import add_resources, comma_list


class Command(BaseCommand):
    help = "Create a user (if missing) and the cpu, gpu, node, aws and passive resources executors run on."

    def add_arguments(self, parser):
        parser.add_argument("--user", required=True, help="user name; created without a usable password if missing")
        parser.add_argument("--cpu", type=int, default=0, help="number of CPU slots for parallel jobs")
        parser.add_argument("--gpu", type=comma_list, default=[], help="GPU ids, e.g. 0,1")
        parser.add_argument("--node", type=comma_list, default=[], help="remote nodes, e.g. me@host1,me@host2:2222")
        parser.add_argument("--aws", type=comma_list, default=[], help="AWS instance ids")
        parser.add_argument("--passive", action="store_true", help="add the passive resource")

    def handle(self, *args, user, cpu, gpu, node, aws, passive, **options):
        if cpu < 0:
            raise CommandError("--cpu must be 0 or more")
        if not user.strip():
            raise CommandError("--user must not be empty")
        User = get_user_model()
        report = []
        with transaction.atomic():
            account = User.objects.filter(username=user).first()
            if account is None:
                account = User(username=user)
                account.set_unusable_password()
                try:
                    account.full_clean(exclude=["password"])
                except ValidationError as exc:
                    raise CommandError(f"--user {user!r}: {' '.join(exc.messages)}") from None
                account.save()
                report.append(f"created user {user!r} (no usable password: an admin sets one)")
            report += add_resources(cpu=cpu, gpu=gpu, node=node, aws=aws, passive=passive)
        if not report:
            report.append("nothing to do: the user and every resource already exist")
        for line in report:
            self.stdout.write(line)
