"""The test host as a module for ``flask --app tests.support.cli_host …`` in a separate process.

Env: PANELPAY_TEST_DB_URL; PANELPAY_TEST_SITE_URL; PANELPAY_TEST_CONFIG (JSON of more config keys)."""
import json
import os

from tests.support.hostapp import make_host

app = make_host(os.environ["PANELPAY_TEST_DB_URL"], migrate_tables=False,
                config={"PANELPAY_SITE_URL": os.environ.get("PANELPAY_TEST_SITE_URL", "http://127.0.0.1:5999"),
                        **json.loads(os.environ.get("PANELPAY_TEST_CONFIG", "{}"))})
