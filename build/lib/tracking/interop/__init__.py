"""Interoperability with LG's Auptimizer 2.0 (PyPI ``auptimizer==2.0``).

- ``loader``: importing Auptimizer on current Python (its known import fault, worked
  around without touching its files).
- ``runner``: running an Auptimizer ``Experiment`` with aupsite's connector, with a stop
  that always ends (``manage.py aup_run``).
- ``schema``: Auptimizer's SQLite database, both variants of its schema.
- ``importer`` / ``exporter``: ``manage.py aup_import`` and ``aup_export``.

``loader``, ``runner`` and ``schema`` import neither Django nor Auptimizer at module
level, so plain scripts (the tests' reference run of Auptimizer) can use them.
"""
