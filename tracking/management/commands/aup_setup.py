"""Create a user and the resources executors run on, as Auptimizer's `python -m aup.setup` does.

    python manage.py aup_setup --user alice --cpu 4 --gpu 0,1 --node me@host1,me@host2 --passive
    python manage.py aup_setup --user alice --password-prompt      # alice logs in with it

Running it again creates only what is missing: resources are matched by type and name
(CPU slots on localhost by count), so nothing is ever duplicated. They are created in
Auptimizer's order (GPUs, nodes, AWS, CPU slots, passive), so get_resource_type()
answers as Auptimizer's. It always prints what exists and what it added: one line for
the user (created or existing), one per resource type.

A new user has no usable password unless --password-prompt asks for one (twice, as
createsuperuser does; refused when empty, mismatched or rejected by Django's password
validators). An existing user's password is changed only with --change-password too.
"""

from getpass import getpass

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from tracking.resources import add_resources, comma_list


class Command(BaseCommand):
    help = "Create a user (if missing) and the cpu, gpu, node, aws and passive resources executors run on."

    def add_arguments(self, parser):
        parser.add_argument(
            "--user", required=True, help="user name; created if missing, without a usable password unless --password-prompt"
        )
        parser.add_argument(
            "--password-prompt", action="store_true", help="ask for the new user's password (twice) so they can log in"
        )
        parser.add_argument(
            "--change-password", action="store_true", help="with --password-prompt: replace an existing user's password"
        )
        parser.add_argument("--cpu", type=int, default=0, help="number of CPU slots on localhost for parallel jobs")
        parser.add_argument("--gpu", type=comma_list, default=[], help="GPU ids, e.g. 0,1")
        parser.add_argument("--node", type=comma_list, default=[], help="remote nodes, e.g. me@host1,me@host2:2222")
        parser.add_argument("--aws", type=comma_list, default=[], help="AWS instance ids")
        parser.add_argument("--passive", action="store_true", help="add the passive resource")

    def handle(self, *args, user, password_prompt, change_password, cpu, gpu, node, aws, passive, **options):
        if cpu < 0:
            raise CommandError("--cpu must be 0 or more")
        if not user.strip():
            raise CommandError("--user must not be empty")
        if change_password and not password_prompt:
            raise CommandError("--change-password needs --password-prompt (the new password is asked for)")
        User = get_user_model()
        existing = User._default_manager.filter(username=user).first()
        account = existing or User(username=user)
        if existing is None:
            try:
                account.full_clean(exclude=["password"])
            except ValidationError as exc:
                raise CommandError(f"--user {user!r}: {' '.join(exc.messages)}") from None
        elif password_prompt and not change_password:
            raise CommandError(
                f"user {user!r} exists and keeps their password: add --change-password to replace it "
                f"(or run manage.py changepassword {user}). Nothing was changed."
            )
        # Asked before anything is written, so a refused password leaves nothing behind.
        password = self.ask_password(account) if password_prompt else None

        with transaction.atomic():
            if existing is None:
                if password is None:
                    account.set_unusable_password()
                else:
                    account.set_password(password)
                account.save()
                user_line = (
                    f"user {user}: created, with the password given"
                    if password is not None
                    else f"user {user}: created, without a usable password: give one with "
                    f"manage.py changepassword {user} (or in the admin, or create it with --password-prompt)"
                )
            elif password is not None:
                account.set_password(password)
                account.save(update_fields=["password"])
                user_line = f"user {user}: existing, password changed"
            else:
                user_line = f"user {user}: existing, password unchanged"
            reports = add_resources(cpu=cpu, gpu=gpu, node=node, aws=aws, passive=passive)
        self.stdout.write(user_line)
        for line in reports:
            self.stdout.write(str(line))

    def ask_password(self, account):
        """The password typed twice, checked by Django's validators; CommandError otherwise."""
        try:
            password = getpass(f"Password for {account.get_username()}: ")
            again = getpass("Password (again): ")
        except (EOFError, KeyboardInterrupt):
            raise CommandError("no password was given; nothing was changed") from None
        if password != again:
            raise CommandError("the two passwords differ; nothing was changed")
        if not password:
            raise CommandError("the password must not be empty; nothing was changed")
        try:
            validate_password(password, account)
        except ValidationError as exc:
            raise CommandError(f"that password is refused: {' '.join(exc.messages)} Nothing was changed.") from None
        return password
