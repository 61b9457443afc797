"""Django set up for a plain Python process, by importing this module.

An executor is a plain Python script: it imports tracking.connector without going
through manage.py, a WSGI server or pytest, so nothing has set Django up for it.
Importing this module does, once, when the app registry is not ready yet (settings
from DJANGO_SETTINGS_MODULE, ``aupsite.settings`` by default). Where Django is already
set up (the site, manage.py, the tests) importing it does nothing.

A module that an executor may import first imports this before anything that needs
the app registry (models, the auth user model).
"""

import os

import django
from django.apps import apps

if not apps.ready:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "aupsite.settings")
    django.setup()
