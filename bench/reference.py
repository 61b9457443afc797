"""Auptimizer 2.0 as its users run it: its own database set-up and its own SQLiteConnector.

Imported through tracking.interop.loader, which works around Auptimizer's import fault
on current Python without touching its files.
"""

from configparser import ConfigParser

from tracking.interop.loader import import_auptimizer


def create_auptimizer_database(path, username, cpu=1):
    """A database file exactly as `python -m aup.setup` makes it, with `cpu` cpu slots."""
    import_auptimizer()
    from aup.setupdb.sqlite import create_database

    config = ConfigParser()
    config.add_section("Auptimizer")
    config.set("Auptimizer", "SQLITE_FILE", str(path))
    create_database(config, [username], cpu, "localhost")


def auptimizer_connector(path):
    import_auptimizer()
    from aup.ET.Connector.SQLiteConnector import SQLiteConnector

    return SQLiteConnector(str(path))
