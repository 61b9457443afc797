"""First-run set-up for `make run`: make sure someone can log in, and say how.

With no superuser in the database it creates `admin` with a random password and prints
it once; there is no fixed default password. Later runs only remind how to log in.
"""

import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Create an admin with a random password if the database has none, and print how to log in."

    def add_arguments(self, parser):
        parser.add_argument("--url", default="http://127.0.0.1:8000/", help="the address the server will answer on")

    def handle(self, *args, url, **options):
        User = get_user_model()
        self.stdout.write(f"aupsite: {url}")
        if User.objects.filter(is_superuser=True).exists():
            self.stdout.write(
                "Log in with your admin account (forgot the password? "
                ".venv/bin/python manage.py changepassword <name>)."
            )
            return
        password = secrets.token_urlsafe(12)
        User.objects.create_superuser(username="admin", email="", password=password)
        self.stdout.write(self.style.SUCCESS(f"Created user 'admin' with password: {password}"))
        self.stdout.write("It is shown only this once; change it with .venv/bin/python manage.py changepassword admin.")
