"""`panelpay demo` as an operator runs it: a process that serves the demo panel within seconds, where a
top-up through either sandbox channel lands on the balance, and `flask panelpay …` works on it."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from contextlib import contextmanager
from html.parser import HTMLParser
from urllib.parse import urljoin

import requests

from tests.support.servers import free_port


def test_panelpay_demo_serves_and_a_top_up_lands(tmp_path):
    with running_demo(tmp_path, free_port()) as (base, lines):
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
    output = "".join(lines)
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


# --- gateway mode: the emulated panels the demo serves --------------------------------------------------------

@contextmanager
def running_demo(folder, port: int):
    """``panelpay demo --port port`` in ``folder``, serving; yields its base URL and the lines it printed (with
    the rest of its output once it has stopped)."""
    base = f"http://127.0.0.1:{port}"
    command = shutil.which("panelpay", path=os.path.dirname(sys.executable)) or "panelpay"
    demo = subprocess.Popen([command, "demo", "--port", str(port)], cwd=folder,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = []
    try:
        while not any("Gateway mode:" in line for line in lines):
            lines.append(demo.stdout.readline())
            assert lines[-1] and len(lines) < 20, lines
        started = time.monotonic()
        while True:
            try:
                requests.get(f"{base}/login", timeout=1)
                break
            except requests.ConnectionError:
                assert time.monotonic() - started < 30
                time.sleep(0.1)
        yield base, lines
    finally:
        demo.terminate()
        lines.append(demo.communicate(timeout=10)[0])


class Forms(HTMLParser):
    """The forms of a page: ``[{"action", "method", "fields", "choices"}]`` (hidden inputs as fields,
    radio buttons as the values of their name), and the links (``id`` → ``href``)."""

    def __init__(self, html: str):
        super().__init__()
        self.forms, self.links = [], {}
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self.forms.append({"action": attrs.get("action", ""), "method": attrs.get("method", "get").lower(),
                               "fields": {}, "choices": {}})
        elif tag == "input" and self.forms:
            if attrs.get("type") == "hidden":
                self.forms[-1]["fields"][attrs["name"]] = attrs.get("value", "")
            elif attrs.get("type") == "radio":
                self.forms[-1]["choices"].setdefault(attrs["name"], []).append(attrs["value"])
        elif tag == "a" and attrs.get("id"):
            self.links[attrs["id"]] = attrs.get("href", "")


def submit(session: requests.Session, page: requests.Response, form: dict, **extra) -> requests.Response:
    """Posts ``form`` of ``page`` as a browser would (following redirects)."""
    return session.post(urljoin(page.url, form["action"]), data={**form["fields"], **extra})


def pay_at_panelpay(buyer: requests.Session, base: str, choose: requests.Response, channel_name: str):
    """From PanelPay's "Choose how to pay" page to the panel's page after paying: choose the channel, open
    the sandbox from PanelPay's cashier, pay, come back to the cashier (Paid), click back to the panel.
    Returns (PanelPay's trade_no, the panel's page)."""
    assert "Choose how to pay" in choose.text, choose.text[:500]
    form = next(f for f in Forms(choose.text).forms if "panelpay_channel" in f["choices"])
    uuid = next(value for value in form["choices"]["panelpay_channel"]
                if re.search(f'value="{value}"[^>]*>\\s*<span[^>]*>\\s*<span[^>]*>{re.escape(channel_name)}</span>',
                             choose.text))
    cashier = submit(buyer, choose, form, panelpay_channel=uuid)
    assert cashier.status_code == 200 and "/payment/epay/pay/" in cashier.url, cashier.text[:500]
    trade_no = cashier.url.split("/pay/")[1].split("/")[0]
    page = Forms(cashier.text)
    if "pp-cashier-link" in page.links:  # a QR code: "Open the cashier"
        sandbox = buyer.get(page.links["pp-cashier-link"])
    else:  # a form: "Continue to pay"
        sandbox = submit(buyer, cashier, next(f for f in page.forms if f["method"] == "post"))
    assert sandbox.status_code == 200 and "/payment/sandbox/" in sandbox.url, sandbox.text[:500]
    paid = requests.post(f"{base}/payment/sandbox/_pay/{trade_no}")  # what the sandbox's Pay button does
    assert paid.status_code == 200 and paid.json()["ok"], paid.text
    back = buyer.get(paid.json()["redirect_url"]) if paid.json()["redirect_url"] else buyer.get(cashier.url)
    assert back.url.split("?")[0] == cashier.url.split("?")[0], back.url
    deadline = time.monotonic() + 15
    while "pp-back" not in Forms(back.text).links:  # the cashier says Paid and links back to the panel
        assert time.monotonic() < deadline, back.text[:1000]
        time.sleep(0.2)
        back = buyer.get(cashier.url)
    assert "Paid." in back.text
    return trade_no, buyer.get(Forms(back.text).links["pp-back"])


def until(session: requests.Session, page: requests.Response, text: str) -> requests.Response:
    """``page`` loaded again until it shows ``text`` (the panel is told just after the cashier says Paid)."""
    deadline = time.monotonic() + 15
    while text not in page.text:
        assert time.monotonic() < deadline, page.text[-1500:]
        time.sleep(0.2)
        page = session.get(page.url)
    return page


def test_the_demo_shows_gateway_mode_with_both_emulated_panels(tmp_path):
    """The demo's home page links both emulated panels; a plan bought in the emulated Xboard and a top-up in
    the emulated New-API are paid at PanelPay's cashier, each panel's order turns paid once, and the operator
    sees one delivered notification each. A restart keeps the merchants and the panels' settings."""
    with running_demo(tmp_path, free_port()) as (base, lines):
        admin = requests.Session()
        assert admin.post(f"{base}/login", json={"username": "admin", "password": "admin"}).status_code == 200
        links = Forms(admin.get(f"{base}/").text).links
        assert links["demo-xboard"] == "/xboard/" and links["demo-newapi"] == "/newapi/console/topup"

        # Xboard: a plan, bought and paid through PanelPay's EPay channel.
        buyer = requests.Session()
        home = buyer.get(base + links["demo-xboard"])
        assert home.status_code == 200 and "No orders yet" in home.text
        buy = next(f for f in Forms(home.text).forms if f["fields"].get("plan_id") == "1")
        choose = submit(buyer, home, buy)
        assert choose.url.startswith(f"{base}/submit.php?")
        xboard_trade, panel_page = pay_at_panelpay(buyer, base, choose, "EPay (sandbox)")
        assert panel_page.url.startswith(f"{base}/xboard/?")
        panel_page = until(buyer, panel_page, "已完成 (completed)")
        assert panel_page.text.count("已完成 (completed)") == 1 and "待支付" not in panel_page.text

        # New-API: a top-up of 10, paid through PanelPay's Alipay channel (its QR code's cashier).
        buyer = requests.Session()
        topup = buyer.get(base + links["demo-newapi"])
        assert topup.status_code == 200 and "quota 0 " in topup.text
        form = next(f for f in Forms(topup.text).forms if f["action"].endswith("/console/topup"))
        going = submit(buyer, topup, form, amount="10", pay_type="alipay")
        autopost = next(f for f in Forms(going.text).forms if f["action"] == f"{base}/submit.php")
        choose = submit(buyer, going, autopost)
        newapi_trade, panel_page = pay_at_panelpay(buyer, base, choose, "Alipay QR (sandbox)")
        assert panel_page.url.startswith(f"{base}/newapi/console/log?")
        panel_page = until(buyer, panel_page, "quota 5000000 ")
        assert panel_page.text.count("<td>success</td>") == 1 and "<td>pending</td>" not in panel_page.text

        deliveries = admin.get(f"{base}/payment/admin/api/deliveries").json()["items"]
        assert sorted((d["trade_no"], d["status"], d["attempts"]) for d in deliveries) == \
            sorted([(xboard_trade, "delivered", 1), (newapi_trade, "delivered", 1)])
        kept = json.loads((tmp_path / "instance" / "demo-gateway.json").read_text())
        assert {name: len(ids["key"]) for name, ids in kept.items()} == {"xboard": 32, "newapi": 32}

    # Restarted on another port: the same merchants (and keys), their hosts the new address; buying works.
    with running_demo(tmp_path, free_port()) as (base, lines):
        assert json.loads((tmp_path / "instance" / "demo-gateway.json").read_text()) == kept
        admin = requests.Session()
        assert admin.post(f"{base}/login", json={"username": "admin", "password": "admin"}).status_code == 200
        merchants = admin.get(f"{base}/payment/admin/api/merchants").json()
        merchants = merchants["items"] if isinstance(merchants, dict) else merchants
        assert [(m["pid"], m["notify_hosts"]) for m in merchants] == \
            [(kept["xboard"]["pid"], [base.split("//")[1]]), (kept["newapi"]["pid"], [base.split("//")[1]])]
        buyer = requests.Session()
        home = buyer.get(f"{base}/xboard/")
        assert "已完成 (completed)" in home.text  # the panel's database survived too
        choose = submit(buyer, home, Forms(home.text).forms[0])
        assert "Choose how to pay" in choose.text, choose.text[:500]
