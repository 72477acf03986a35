"""The test host served in its own process, so a test can SIGKILL it in the middle of ``settle()``.

Env: PANELPAY_TEST_DB_URL, PANELPAY_TEST_PORT. With PANELPAY_TEST_BLOCK_MARKER set, an event listener
of the test's (PanelPay's code is unchanged) stops every settle transaction just before its ledger row is
written, after the order row was updated: it touches that file, then waits to be killed.
"""
import os
import time

import sqlalchemy as sa
from werkzeug.serving import make_server

from tests.support.hostapp import make_host

port = int(os.environ["PANELPAY_TEST_PORT"])
app = make_host(os.environ["PANELPAY_TEST_DB_URL"], migrate_tables=False,
                config={"PANELPAY_SITE_URL": f"http://127.0.0.1:{port}"})
marker = os.environ.get("PANELPAY_TEST_BLOCK_MARKER")
if marker:
    def block(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("INSERT INTO PANELPAY_LEDGER"):
            with open(marker, "w") as handle:
                handle.write(statement)
            time.sleep(3600)

    with app.app_context():
        sa.event.listen(app.extensions["panelpay"].engine, "before_cursor_execute", block)

make_server("127.0.0.1", port, app, threaded=True).serve_forever()
