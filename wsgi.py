"""Gunicorn entry point: `gunicorn --preload wsgi:app`.

With --preload this module runs once in the master: jieba is initialised and the matching index is
mapped (the host's expert base on disk, see app/services/search/shared_index.py) before the
workers fork, so they share it. The sentence encoder is loaded in
each worker after the fork (never here: a process that has run it with several threads cannot
fork safely). Background jobs run in the consumer process (`flask --app app jobs-worker`, started
by scripts/run), never in these workers. See docs/semantic-service.md.
"""

import gc
import logging
import os

from app import create_app

app = create_app()

if app.config.get("WORKER_PID_HEADER"):

    @app.after_request
    def _worker_pid(response):  # noqa: ANN001, ANN202 - tells tests which worker answered
        response.headers["X-Worker-Pid"] = str(os.getpid())
        return response


try:
    app.extensions["search_index"].warm()
    app.extensions["db"].engine.dispose()  # no connection crosses the fork
except Exception:  # a database not migrated yet: workers build the index on first use
    logging.getLogger(__name__).exception("index not built before fork")
# What the master built is shared with the workers copy-on-write: keep the collector from
# touching (and so copying) those objects in every worker.
gc.collect()
gc.freeze()
