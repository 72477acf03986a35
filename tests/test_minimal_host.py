"""examples/minimal_host.py as its docstring runs it (issue 15.20): set up with the flask commands, served by
`flask run` with the sandbox on, an admin adds a channel and a user's top-up lands on the balance."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from decimal import Decimal

import requests
import sqlalchemy as sa

from panelpay.sandbox import Sandbox
from tests.support.servers import free_port

HOST = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples", "minimal_host.py")


def log_in(base: str, name: str, back: str = "", lands: str = "") -> requests.Session:
    user = requests.Session()
    login = f"{base}/login" + (f"?next={back}" if back else "")
    token = re.search(r'name="csrf_token" value="([^"]+)"', user.get(login).text).group(1)
    answer = user.post(login, data={"name": name, "password": name, "csrf_token": token}, allow_redirects=False)
    assert answer.status_code == 302 and answer.headers["Location"] == (lands or back or "/payment/checkout")
    return user


def test_the_minimal_host_starts_and_takes_a_payment(tmp_path):
    with open(HOST) as source:
        assert len(source.read().splitlines()) < 60
    flask = shutil.which("flask", path=os.path.dirname(sys.executable)) or "flask"
    env = {**os.environ, "FLASK_APP": HOST, "FLASK_SECRET_KEY": "a-long-random-string-for-this-test",
           "FLASK_PANELPAY_SANDBOX": "true", "FLASK_PANELPAY_ALLOW_PRIVATE_URLS": "true"}

    def command(*args: str) -> str:
        result = subprocess.run([flask, *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stdout + result.stderr
        return result.stdout + result.stderr

    assert "PanelPay tables at revision" in command("panelpay", "db", "upgrade")
    command("add-user", "admin", "--admin", "--password", "admin")
    assert "PANELPAY_SANDBOX" not in command("add-user", "alice", "--password", "alice")  # only when serving

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    # The sandbox's keys, in the file the host's sandbox reads them from.
    configs = Sandbox(state_file=tmp_path / "instance" / "panelpay-sandbox.json").channel_configs(
        f"{base}/payment/sandbox")
    log = tmp_path / "server.log"
    with open(log, "w") as output:
        server = subprocess.Popen([flask, "run", "--port", str(port)], cwd=tmp_path, env=env, stdout=output,
                                  stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                assert requests.get(f"{base}/login", timeout=1).status_code == 200
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline and server.poll() is None, log.read_text()
                time.sleep(0.1)
        visitor = requests.get(f"{base}/payment/admin", allow_redirects=False)  # to the login, and back after it
        assert visitor.status_code == 302 and visitor.headers["Location"] == "/login?next=/payment/admin"

        admin = log_in(base, "admin", back="/payment/admin")
        log_in(base, "admin", back="//evil.example", lands="/payment/checkout")  # never to another site
        assert admin.get(f"{base}/payment/admin").status_code == 200
        created = admin.post(f"{base}/payment/admin/api/channels",
                             json={"kind": "epay", "name": "EPay (sandbox)", "config": configs["epay"]})
        assert created.status_code == 201, created.text

        alice = log_in(base, "alice")
        assert alice.get(f"{base}/payment/admin").status_code == 403  # not an admin
        assert alice.get(f"{base}/payment/checkout").status_code == 200
        order = alice.post(f"{base}/payment/api/orders", json={"channel": created.json()["uuid"],
                                                               "amount": "10.00"}).json()
        assert requests.post(order["pay"]["url"], data=order["pay"]["fields"]).status_code == 200
        assert requests.post(f"{base}/payment/sandbox/_pay/{order['trade_no']}").status_code == 200
        deadline = time.monotonic() + 15
        while alice.get(f"{base}/payment/api/orders/{order['trade_no']}").json()["status"] != "paid":
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
    finally:
        server.terminate()
        server.wait(10)
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'instance' / 'minimal-host.sqlite'}")
    with engine.connect() as connection:
        balance = connection.execute(sa.text("SELECT balance FROM user WHERE name = 'alice'")).scalar_one()
    engine.dispose()
    assert Decimal(str(balance)) == Decimal("10.00")
    assert log.read_text().count("PANELPAY_SANDBOX is on") == 1  # logged when serving, once
