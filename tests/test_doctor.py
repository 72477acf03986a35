"""The doctor probes each channel's effective notify URL and tells what answers apart."""
from __future__ import annotations

from contextlib import ExitStack

import pytest

from tests.conftest import World
from tests.support.hostapp import make_host
from tests.support.servers import hanging_server, serve_app, stand_in


@pytest.fixture
def doctor_world(make_app, sandbox):
    app = make_app(PANELPAY_DOCTOR_TIMEOUT=0.5)
    return World(app, sandbox, configs=("epay", "alipay"))


def _checks(world, channel_uuid):
    response = world.admin.post("/payment/admin/api/doctor")
    assert response.status_code == 200
    body = response.get_json()
    return body, [c for c in body["checks"] if c.get("channel") == channel_uuid]


def _point(world, name, base):
    uuid = world.channels[name]["uuid"]
    response = world.admin.patch(f"/payment/admin/api/channels/{uuid}", json={"notify_domain": base})
    assert response.status_code == 200, response.get_json()
    return uuid


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_each_failure_in_front_of_the_notify_path_gets_its_own_finding(doctor_world):
    world = doctor_world
    with ExitStack() as stack:
        html = stack.enter_context(stand_in(200, b"<html><body>Welcome to nginx</body></html>",
                                            Content_Type="text/html"))
        https = stack.enter_context(stand_in(301, b"", Location="https://{host}{path}"))
        missing = stack.enter_context(stand_in(404, b"not found", Content_Type="text/plain"))
        hang = stack.enter_context(hanging_server())
        cases = {"catch_all": html, "redirect_https": https, "not_found": missing, "timeout": hang}
        for code, base in cases.items():
            uuid = _point(world, "epay", base)
            body, checks = _checks(world, uuid)
            probes = [c for c in checks if c["code"] in ("catch_all", "redirect_https", "not_found", "timeout",
                                                         "reachable")]
            assert {c["code"] for c in probes} == {code}, (code, checks)
            assert all(c["level"] == "error" for c in probes if c["message"].find("GET") >= 0)
            assert body["ok"] is False


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_the_app_itself_is_reachable_and_ours_and_another_deployment_is_told_apart(doctor_world, backend):
    world = doctor_world
    with serve_app(world.app) as base:
        uuid = _point(world, "alipay", base)
        _, checks = _checks(world, uuid)
        assert {c["code"] for c in checks if c["level"] != "warning" or c["code"] == "reachable"} >= {"reachable"}
        assert [c["code"] for c in checks if "POST" in c["message"] or "GET" in c["message"]] == ["reachable"] * 2
    from tests.conftest import database_url

    other = make_host(database_url(backend), config={"SECRET_KEY": "a-different-deployment"}, migrate_tables=False)
    with serve_app(other) as base:
        uuid = _point(world, "alipay", base)
        _, checks = _checks(world, uuid)
        assert {c["code"] for c in checks if c["code"] in ("reachable", "other_deployment")} == {"other_deployment"}


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_doctor_cli_exits_1_on_an_error_finding(doctor_world):
    world = doctor_world
    with stand_in(404, b"nope") as base:
        _point(world, "epay", base)
        result = world.app.test_cli_runner().invoke(args=["panelpay", "doctor"])
    assert result.exit_code == 1
    assert "not_found" in result.output


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_doctor_probes_nothing_but_the_configured_notify_urls(doctor_world):
    world = doctor_world
    seen = []
    with stand_in(404, b"") as base:
        for name in ("epay", "alipay"):
            _point(world, name, base)
        body, _ = _checks(world, world.channels["epay"]["uuid"])
        seen = [c["message"] for c in body["checks"] if c["code"] == "not_found"]
    assert len(seen) == 4  # two channels × GET and POST
    for message in seen:
        assert f"{base}/payment/notify/" in message


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_what_answers_is_said_in_plain_words_never_in_a_librarys(doctor_world):
    """A closed port, a server that is no web server (PostgreSQL's port), a name that does not resolve:
    each has a finding of its own in plain words, with no library text (no 'HTTPConnectionPool', no 'Max
    retries')."""
    from tests.support.servers import free_port

    world = doctor_world
    uuid = _point(world, "epay", f"http://127.0.0.1:{free_port()}")
    for domain, code, words in ((None, "refused", "connection refused"),
                                ("http://127.0.0.1:5432", "not_http", "not with HTTP"),
                                ("http://no-such-host.invalid", "dns", "does not resolve")):
        if domain:
            _point(world, "epay", domain)
        _, checks = _checks(world, uuid)
        probes = [c for c in checks if "(GET " in c["message"] or "(POST " in c["message"]]
        assert {c["code"] for c in probes} == {code} and len(probes) == 2, checks
        for check in probes:
            assert words in check["message"] and "Pool" not in check["message"] and "retries" not in check["message"]


def test_a_reconcile_run_says_how_many_orders_it_left_for_later(world):
    """Run twice within seconds, the second run asks nobody, and says why instead of 'still pending 0'."""
    from panelpay import reconcile

    orders = [world.order("epay") for _ in range(3)]
    with world.app.app_context():
        first = reconcile.run(world.state)
        second = reconcile.run(world.state)
    assert first.queried == 3 and (second.queried, second.skipped) == (0, 3)
    result = world.app.test_cli_runner().invoke(args=["panelpay", "reconcile"])
    assert "3 more order(s) were not asked now: asked recently" in result.output
    assert len(orders) == 3
