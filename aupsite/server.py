"""The web server of `aupsite serve`: gunicorn, configured from these arguments alone.

    python -m aupsite.server --bind 127.0.0.1:8000 [--workers 2] [--threads 4]

`aupsite serve` starts it as a child process (aupsite.cli says why). It is gunicorn's own
application class rather than the `gunicorn` command because the command also reads a
./gunicorn.conf.py and GUNICORN_CMD_ARGS: a researcher's folder or shell would then
change how the dashboard is served. Static files are served by WhiteNoise inside the
Django application (aupsite.settings), so nothing else is needed in front of it.
"""

import argparse
import os
import signal
import threading
import time

from gunicorn.app.base import BaseApplication


class DashboardServer(BaseApplication):
    def __init__(self, options):
        self.options = options
        super().__init__()

    def load_config(self):
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self):
        # Imported in each worker after the fork (no preload): the supervising
        # `aupsite serve` process has already used the database, and a connection must
        # never be shared across a fork.
        from aupsite.wsgi import application

        return application


def stop_with_parent(parent):
    """SIGTERM this process (gunicorn's graceful stop) once `parent` is gone, so that a
    killed `aupsite serve` never leaves its server behind holding the port."""
    def watch():
        while os.getppid() == parent:
            time.sleep(1)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, daemon=True).start()


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m aupsite.server", description=__doc__.splitlines()[0])
    parser.add_argument("--bind", required=True, help="HOST:PORT ([HOST]:PORT for IPv6)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--parent", type=int, help="stop when this process (aupsite serve) is gone")
    args = parser.parse_args(argv)
    if args.parent:
        stop_with_parent(args.parent)
    DashboardServer({
        "bind": [args.bind],
        "workers": args.workers,
        # Threads, so that one worker answers a page's several htmx polls at once.
        "threads": args.threads,
        "worker_class": "gthread",
        # A stop (Ctrl-C, SIGTERM) should not wait 30 s for a browser's keep-alive poll.
        "graceful_timeout": 5,
        "proc_name": "aupsite",
        # Errors on stderr, no line per request (a dashboard polls every 2-3 s).
        "loglevel": "warning",
        "errorlog": "-",
        "accesslog": None,
    }).run()


if __name__ == "__main__":
    main()
