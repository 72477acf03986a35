"""A visitor who is not logged in (issue 15.14): PanelPay's pages send them to the host's login page
(PANELPAY_LOGIN_URL) and the login brings them back; a host that names none gets a page saying to log in,
in the visitor's language. The JSON endpoints keep answering 401 in JSON."""
from __future__ import annotations

import pytest

from panelpay.config import ConfigError
from tests.conftest import add_user

#: What is said to a person does not depend on the database: one is enough.
pytestmark = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)


def test_pages_send_a_visitor_to_the_hosts_login_and_say_where_to_come_back(make_app):
    app = make_app(PANELPAY_LOGIN_URL="/login")
    visitor = app.test_client()
    checkout = visitor.get("/payment/checkout")
    assert checkout.status_code == 302 and checkout.headers["Location"] == "/login?next=/payment/checkout"
    admin = visitor.get("/payment/admin?tab=orders&status=paid")
    assert admin.headers["Location"] == "/login?next=/payment/admin%3Ftab%3Dorders%26status%3Dpaid"
    api = visitor.get("/payment/api/orders")
    assert api.status_code == 401 and api.get_json()["error"] == "unauthenticated"


def test_a_login_url_can_say_where_the_page_to_come_back_to_goes(make_app):
    app = make_app(PANELPAY_LOGIN_URL="https://panel.example.com/#/login?redirect={next}")
    answer = app.test_client().get("/payment/checkout")
    assert answer.headers["Location"] == "https://panel.example.com/#/login?redirect=/payment/checkout"
    app = make_app(PANELPAY_LOGIN_URL="/auth?mode=password")
    assert app.test_client().get("/payment/checkout").headers["Location"] == \
        "/auth?mode=password&next=/payment/checkout"


def test_without_a_login_url_the_visitor_is_told_to_log_in_in_their_language(make_app):
    app = make_app()
    english = app.test_client().get("/payment/checkout")
    assert english.status_code == 401 and english.mimetype == "text/html"
    page = english.get_data(as_text=True)
    assert "Log in first" in page and "log in to the panel" in page and "Unauthorized" not in page
    chinese = app.test_client().get("/payment/checkout", headers={"Accept-Language": "zh-CN"})
    assert chinese.status_code == 401 and "请先登录" in chinese.get_data(as_text=True)


def test_a_logged_in_user_is_not_redirected(make_app):
    app = make_app(PANELPAY_LOGIN_URL="/login")
    user = app.test_client()
    assert user.post(f"/_login/{add_user(app)}").status_code == 200
    assert user.get("/payment/checkout").status_code == 200


@pytest.mark.parametrize("value", ["login", "//evil.example/login", "ftp://panel.example.com/login"])
def test_a_login_url_that_is_not_a_page_is_refused(make_app, value):
    with pytest.raises(ConfigError) as info:
        make_app(PANELPAY_LOGIN_URL=value)
    assert "PANELPAY_LOGIN_URL" in info.value.problems
