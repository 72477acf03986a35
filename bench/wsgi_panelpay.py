"""WSGI entry for gunicorn: the demo host (``panelpay.demo.app.create_app``) built from the environment.

``BENCH_DB_URL``: the database (tables and channels already made by the benchmark); ``BENCH_INSTANCE``: the
instance folder (its secret and sandbox keys are those the benchmark signed with); ``BENCH_SITE_URL``.
"""
from __future__ import annotations

import os

from panelpay.demo.app import create_app

app = create_app(os.environ["BENCH_DB_URL"], site_url=os.environ["BENCH_SITE_URL"],
                 instance_path=os.environ["BENCH_INSTANCE"])
