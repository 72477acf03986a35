"""The test host served in its own process, so a test can SIGKILL it in the middle of ``settle()``.

Env: PANELPAY_TEST_DB_URL, PANELPAY_TEST_PORT; with PANELPAY_TEST_BLOCK_MARKER set, every settle blocks
inside its transaction (after the order row is updated, before the balance) once it has touched that file.
"""
import os
import time

from werkzeug.serving import make_server

from tests.support.hostapp import make_host

port = int(os.environ["PANELPAY_TEST_PORT"])
app = make_host(os.environ["PANELPAY_TEST_DB_URL"], migrate_tables=False,
                config={"PANELPAY_SITE_URL": f"http://127.0.0.1:{port}"})
marker = os.environ.get("PANELPAY_TEST_BLOCK_MARKER")
if marker:
    def block(order):
        with open(marker, "w") as handle:
            handle.write(order.trade_no)
        time.sleep(3600)

    app.extensions["panelpay"].state_for(app).on("settle:locked", block)

make_server("127.0.0.1", port, app, threaded=True).serve_forever()
