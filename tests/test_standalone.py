"""PanelPay on its own (panelpay.standalone): the operator's EPay site with no host panel, configured from the
environment, served over real HTTP, an emulated New-API as its merchant."""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile

import pytest
import requests

from panelpay import migrate
from panelpay.sandbox.panels import NewApiPanel
from panelpay.standalone import create_app
from tests.support.servers import free_port, serve_app, wait_for

def environment(db_url: str, base: str) -> dict:
    return {"PANELPAY_DATABASE_URL": db_url, "PANELPAY_SECRET_KEY": "s" * 40, "PANELPAY_SITE_URL": base,
            "PANELPAY_ADMIN_PASSWORD": "correct horse", "PANELPAY_ALLOW_PRIVATE_URLS": "true",
            "PANELPAY_SANDBOX": "true", "PANELPAY_INSTANCE": tempfile.mkdtemp(prefix="pp-standalone-")}


def test_it_refuses_to_start_without_its_settings_and_names_them():
    with pytest.raises(RuntimeError, match="PANELPAY_DATABASE_URL, PANELPAY_SECRET_KEY, PANELPAY_ADMIN_PASSWORD"):
        create_app({})


def test_the_operator_logs_in_adds_a_merchant_and_a_panel_is_paid_through_it(tmp_path):
    db_url = f"sqlite:///{tmp_path}/panelpay.sqlite"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = environment(db_url, base)
    upgrade = subprocess.run([sys.executable, "-m", "flask", "--app", "panelpay.standalone", "panelpay", "db",
                              "upgrade"], env={**os.environ, **env}, capture_output=True, text=True, timeout=60)
    assert upgrade.returncode == 0, upgrade.stderr
    app = create_app(env)
    with serve_app(app, port):
        operator = requests.Session()
        page = operator.get(f"{base}/payment/admin")
        assert page.url.startswith(f"{base}/login") and "PANELPAY_ADMIN_PASSWORD" in page.text
        token = page.text.split('name="csrf_token" value="')[1].split('"')[0]
        wrong = operator.post(page.url, data={"csrf_token": token, "password": "wrong"})
        assert wrong.status_code == 401 and "not the operator" in wrong.text
        settings = operator.post(page.url, data={"csrf_token": token, "password": "correct horse"})
        assert settings.status_code == 200 and settings.url == f"{base}/payment/admin"
        csrf = {"X-CSRFToken": settings.text.split('name="csrf_token" value="')[1].split('"')[0]} \
            if 'name="csrf_token"' in settings.text else {}
        state = app.extensions["panelpay"]
        config = state.sandbox.channel_configs(base + "/payment/sandbox")["alipay_qr"]
        channel = operator.post(f"{base}/payment/admin/api/channels", headers=csrf,
                                json={"kind": "alipay", "name": "Alipay", "config": config})
        assert channel.status_code == 201, channel.text
        panel_port = free_port()
        merchant = operator.post(f"{base}/payment/admin/api/merchants", headers=csrf, json={
            "name": "New-API", "notify_hosts": [f"127.0.0.1:{panel_port}"]}).json()
        panel = NewApiPanel(f"sqlite:///{tmp_path}/newapi.sqlite", PayAddress=base, EpayId=merchant["pid"],
                            EpayKey=merchant["key"], ServerAddress=f"http://127.0.0.1:{panel_port}")
        with serve_app(panel.app, panel_port):
            user = panel.add_user("dave")
            trade_no, fields, action = panel.create_topup(user, 1)
            cashier = requests.post(action, data=fields, allow_redirects=True)
            assert cashier.status_code == 200 and "Alipay" in cashier.text
            ours = cashier.url.split("/pay/")[1].split("/")[0]
            assert requests.post(f"{base}/payment/sandbox/_pay/{ours}").status_code == 200
            wait_for(lambda: panel.topup(trade_no)["status"] == "success")
        assert panel.topup(trade_no)["status"] == "success" and panel.quota(user) == 500000
        assert requests.get(f"{base}/payment/checkout").url.startswith(f"{base}/login")  # no users here
    with app.app_context():
        assert migrate.current(app.extensions["panelpay"].engine) == migrate.head()


def test_login_sends_back_only_to_a_path_of_this_site_and_counts_each_client_behind_its_proxy(tmp_path):
    env = environment(f"sqlite:///{tmp_path}/p.sqlite", "http://127.0.0.1:5999")
    with pytest.raises(RuntimeError, match="PANELPAY_PROXIES"):
        create_app({**env, "PANELPAY_PROXIES": "one"})
    app = create_app({**env, "PANELPAY_PROXIES": "1", "PANELPAY_REJECTIONS_PER_SOURCE": "3"})
    app.config["WTF_CSRF_ENABLED"] = False
    client = app.test_client()
    for back in ("/%09/evil.example.net/phish", "//evil.example.net", "/\\evil.example.net", "https://evil.example.net"):
        answer = client.post(f"/login?next={back}", data={"password": "correct horse"})
        assert answer.status_code == 302 and answer.headers["Location"] == "/", (back, answer.headers["Location"])
    assert client.post("/login?next=/payment/admin", data={"password": "correct horse"}).headers["Location"] \
        == "/payment/admin"
    for _ in range(3):
        assert client.post("/login", data={"password": "no"}, headers={"X-Forwarded-For": "203.0.113.9"}
                           ).status_code == 401
    assert client.post("/login", data={"password": "no"}, headers={"X-Forwarded-For": "203.0.113.9"}).status_code == 429
    assert client.post("/login", data={"password": "no"}, headers={"X-Forwarded-For": "198.51.100.4"}).status_code == 401
