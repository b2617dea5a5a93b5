"""Gunicorn settings for the quick start: preload once, JSON log lines, workers after fork."""

import os

bind = f"127.0.0.1:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WORKERS", "2"))
threads = int(os.environ.get("THREADS", "4"))
preload_app = True  # jieba and the app load once, before the workers fork
timeout = 120
# No gunicornc control socket: its default path is one per user, so two servers of one user
# (two hosts on one machine, a test beside the quick start) would take it from each other.
control_socket_disable = True
accesslog = "-"
errorlog = "-"
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s",
            "rename_fields": {"asctime": "time", "levelname": "level"},
        }
    },
    "handlers": {
        # gunicorn merges this dict into its defaults shallowly: keep its handler names
        "console": {"class": "logging.StreamHandler", "formatter": "json",
                    "stream": "ext://sys.stderr"},
        "error_console": {"class": "logging.StreamHandler", "formatter": "json",
                          "stream": "ext://sys.stderr"},
    },
    "root": {"level": "INFO", "handlers": ["console"]},
    "loggers": {
        "gunicorn.error": {"handlers": ["error_console"], "level": "INFO", "propagate": False},
        "gunicorn.access": {"handlers": ["console"], "level": "INFO", "propagate": False},
    },
}


def post_fork(server, worker):  # noqa: ANN001
    """Load the worker's encoder only after the fork (workers only serve requests).

    The master (preload_app) never loads or runs the encoder: a process that has encoded with
    several OpenMP threads cannot fork safely (docs/semantic.md). Background work (embedding,
    imports, plans) runs in the job consumer that scripts/run starts beside gunicorn.
    """
    app = worker.app.wsgi()
    hook = app.extensions.get("post_fork")
    if hook:
        hook()
