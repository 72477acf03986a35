"""`panelpay demo` as an operator runs it: a process that serves the demo panel within seconds, where a
top-up through either sandbox channel lands on the balance, and `flask panelpay …` works on it."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time

import requests

from tests.support.servers import free_port


def test_panelpay_demo_serves_and_a_top_up_lands(tmp_path):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    command = shutil.which("panelpay", path=os.path.dirname(sys.executable)) or "panelpay"
    demo = subprocess.Popen([command, "demo", "--port", str(port)], cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        started = time.monotonic()
        lines = []
        while not any(f"{base}/" in line for line in lines):  # the URL is printed before serving starts
            lines.append(demo.stdout.readline())
            assert lines[-1] and len(lines) < 20, lines
        while True:
            try:
                requests.get(f"{base}/login", timeout=1)
                break
            except requests.ConnectionError:
                assert time.monotonic() - started < 30
                time.sleep(0.1)
        alice = requests.Session()
        me = alice.post(f"{base}/login", json={"username": "alice", "password": "alice"})
        assert me.status_code == 200 and me.json() == {"username": "alice", "balance": "0.00"}
        assert alice.post(f"{base}/login", json={"username": "alice", "password": "nope"}).status_code == 401
        channels = {c["kind"]: c for c in alice.get(f"{base}/payment/api/channels").json()}
        assert set(channels) == {"epay", "alipay"}

        qr = alice.post(f"{base}/payment/api/orders", json={"channel": channels["alipay"]["uuid"],
                                                            "amount": "0.01"}).json()
        assert qr["pay"]["method"] == "qrcode" and qr["pay"]["qr_code"].startswith(f"{base}/payment/sandbox/")
        form = alice.post(f"{base}/payment/api/orders", json={"channel": channels["epay"]["uuid"],
                                                              "amount": "10.00"}).json()
        assert form["pay"]["method"] == "form"
        assert requests.post(form["pay"]["url"], data=form["pay"]["fields"]).status_code == 200
        for order in (qr, form):
            assert requests.post(f"{base}/payment/sandbox/_pay/{order['trade_no']}").status_code == 200
        deadline = time.monotonic() + 15
        while alice.get(f"{base}/api/me").json()["balance"] != "10.01":
            assert time.monotonic() < deadline, alice.get(f"{base}/api/me").json()
            time.sleep(0.1)
        assert alice.get(f"{base}/payment/api/orders/{qr['trade_no']}").json()["status"] == "paid"

        # The README's way to run PanelPay's commands on the demo: in its folder, quietly.
        flask = shutil.which("flask", path=os.path.dirname(sys.executable)) or "flask"
        for command, expected in ((["channels"], f"notify: {base}/payment/notify/epay/{channels['epay']['uuid']}"),
                                  (["doctor"], "0 error(s)")):
            cli = subprocess.run([flask, "--app", "panelpay.demo.app", "panelpay", *command], cwd=tmp_path,
                                 capture_output=True, text=True, timeout=60)
            assert cli.returncode == 0 and expected in cli.stdout, (cli.stdout, cli.stderr)
            assert "PANELPAY_SANDBOX" not in cli.stdout + cli.stderr
    finally:
        demo.terminate()
        output = "".join(lines) + demo.communicate(timeout=10)[0]
    assert (tmp_path / "instance").is_dir()
    assert output.count("PANELPAY_SANDBOX is on") == 1, output  # when it starts serving, not at each request


def test_the_demo_host_is_an_example_of_a_safe_host(tmp_path):
    """Operators copy the demo: no open redirect, no login or logout from another site, a SameSite session."""
    import re

    from panelpay.demo.app import create_app, prepare

    app = create_app(instance_path=str(tmp_path), site_url="http://localhost")
    prepare(app, "http://localhost")
    client = app.test_client()

    def token() -> str:
        page = client.get("/login").get_data(as_text=True)
        return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)

    def log_in(target: str):
        return client.post(f"/login?next={target}", data={"username": "alice", "password": "alice",
                                                          "csrf_token": token()})

    sent = client.get("/payment/orders/PP0?x=1")  # a page of PanelPay's: to the demo's login, and back after it
    assert sent.status_code == 302 and sent.headers["Location"] == "/login?next=/payment/orders/PP0%3Fx%3D1"

    forged = client.post("/login", data={"username": "alice", "password": "alice"})  # no token: another site
    assert forged.status_code == 400 and client.get("/api/me").status_code == 401
    for target in ("//evil.example/steal", "/\\evil.example", "https://evil.example/", "javascript:alert(1)"):
        answer = log_in(target)
        assert answer.status_code == 302 and answer.headers["Location"] == "/", target
    assert "SameSite=Lax" in answer.headers["Set-Cookie"] and "HttpOnly" in answer.headers["Set-Cookie"]
    assert log_in("/payment/checkout").headers["Location"] == "/payment/checkout"

    assert client.get("/lang/zh_CN", headers={"Referer": "https://evil.example/x"}).headers["Location"] == "/"
    assert client.get("/lang/en", headers={"Referer": "http://localhost/payment/checkout"}).headers["Location"] == \
        "/payment/checkout"
    cross = client.post("/login", json={"username": "alice", "password": "alice"},
                        headers={"Origin": "https://evil.example"})
    assert cross.status_code == 403
    assert client.post("/logout").status_code == 400  # a logout needs the page's token too
    assert client.get("/api/me").status_code == 200
    assert client.post("/logout", data={"csrf_token": token()}).status_code == 302
    assert client.get("/api/me").status_code == 401
