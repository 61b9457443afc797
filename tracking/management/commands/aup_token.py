"""Issue, list and revoke API tokens (for RestConnector and scripts).

    python manage.py aup_token create --user alice --name gpu-box-1
    python manage.py aup_token list [--user alice]
    python manage.py aup_token revoke ID [ID ...]

The secret is printed once, by create: only its sha256 is stored.
"""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from tracking.models import ApiToken


class Command(BaseCommand):
    help = "Issue, list and revoke API tokens."

    def add_arguments(self, parser):
        actions = parser.add_subparsers(dest="action", required=True)
        create = actions.add_parser("create", help="issue a token and print its secret (once)")
        create.add_argument("--user", required=True, help="the user the token acts as")
        create.add_argument("--name", required=True, help="what it is for, e.g. the machine it lives on")
        listing = actions.add_parser("list", help="list tokens (never their secrets)")
        listing.add_argument("--user", help="only this user's")
        revoke = actions.add_parser("revoke", help="revoke tokens by id (see list)")
        revoke.add_argument("ids", nargs="+", type=int, metavar="ID")

    def handle(self, *args, action, **options):
        getattr(self, f"handle_{action}")(**options)

    def handle_create(self, user, name, **options):
        account = get_user_model()._default_manager.filter(username=user).first()
        if account is None:
            raise CommandError(f"no user {user!r}; create it first (manage.py aup_setup --user {user})")
        if not account.is_active:
            raise CommandError(f"user {user!r} is inactive: a token of theirs would not work")
        name = name.strip()
        if not name or len(name) > ApiToken._meta.get_field("name").max_length:
            raise CommandError("--name must be 1 to 100 characters")
        token, secret = ApiToken.issue(account, name)
        self.stdout.write(f"token {token.pk} “{token.name}” for {user}; its secret, shown this once:")
        self.stdout.write(secret)
        self.stdout.write(
            "Use it as RestConnector(<site url>, <secret>) or the header 'Authorization: Bearer <secret>'."
        )

    def handle_list(self, user=None, **options):
        tokens = ApiToken.objects.select_related("user").order_by("pk")
        if user is not None:
            tokens = tokens.filter(user__username=user)
        rows = [
            (
                str(token.pk),
                token.user.get_username(),
                token.name,
                f"{token.prefix}…",
                f"{token.created:%Y-%m-%d %H:%M}",
                f"{token.last_used:%Y-%m-%d %H:%M}" if token.last_used else "never",
                f"revoked {token.revoked:%Y-%m-%d %H:%M}" if token.revoked else "active",
            )
            for token in tokens
        ]
        if not rows:
            self.stdout.write("no tokens")
            return
        header = ("id", "user", "name", "secret", "created", "last used", "state")
        widths = [max(len(row[column]) for row in [header, *rows]) for column in range(len(header))]
        for row in [header, *rows]:
            self.stdout.write("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())

    def handle_revoke(self, ids, **options):
        with transaction.atomic():
            tokens = list(ApiToken.objects.filter(pk__in=ids))
            missing = sorted(set(ids) - {token.pk for token in tokens})
            if missing:
                raise CommandError(f"no token with id {', '.join(map(str, missing))}; nothing was revoked")
            for token in tokens:
                was_active = token.revoked is None
                token.revoke()
                self.stdout.write(
                    f"revoked token {token.pk} “{token.name}”"
                    if was_active
                    else f"token {token.pk} was already revoked"
                )
