"""WSGI entry for gunicorn: the demo host (``panelpay.demo.app.create_app``) built from the environment.

``BENCH_DB_URL``: the database; ``BENCH_INSTANCE``: the instance folder (its secret and sandbox keys must
be those the benchmark signed with); ``BENCH_SITE_URL``: the public URL; ``BENCH_CONFIG``: extra config as
JSON (``PANELPAY_*`` keys).

    BENCH_DB_URL=... BENCH_INSTANCE=... gunicorn -w 2 -k gthread --threads 4 bench.wsgi_panelpay:app
"""
from __future__ import annotations

import json
import os

from panelpay.demo.app import create_app

app = create_app(
    os.environ["BENCH_DB_URL"],
    site_url=os.environ.get("BENCH_SITE_URL") or None,
    instance_path=os.environ["BENCH_INSTANCE"],
    config=json.loads(os.environ.get("BENCH_CONFIG") or "{}"),
)
