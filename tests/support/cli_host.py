"""The test host as a module for ``flask --app tests.support.cli_host …`` in a separate process."""
import os

from tests.support.hostapp import make_host

app = make_host(os.environ["PANELPAY_TEST_DB_URL"], migrate_tables=False,
                config={"PANELPAY_SITE_URL": os.environ.get("PANELPAY_TEST_SITE_URL", "http://127.0.0.1:5999")})
