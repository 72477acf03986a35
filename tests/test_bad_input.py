"""Bad input gets a clear answer (a status and a message), never a 500, never a partial write."""
from __future__ import annotations

import http.client
import io

import pytest

from tests.support.faults import statement_fails


def _error(response, status: int) -> dict:
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True)[:300])
    assert response.is_json, response.get_data(as_text=True)[:300]
    body = response.get_json()
    assert body["message"] and "Traceback" not in body["message"]
    return body


def test_a_huge_page_number_is_a_clear_400(world):
    for path in ("/payment/admin/api/orders", "/payment/admin/api/notifications"):
        for page in ("99999999999999999999", "0", "-1", "x"):
            _error(world.admin.get(f"{path}?page={page}"), 400)
    _error(world.alice.get("/payment/api/orders?page=99999999999999999999"), 400)
    assert world.admin.get("/payment/admin/api/orders?page=2").status_code == 200


def test_json_nested_thousands_deep_is_a_clear_400(world):
    deep = "[" * 5000 + "]" * 5000
    body = f'{{"channel": {deep}, "amount": "10"}}'
    _error(world.alice.post("/payment/api/orders", data=body, content_type="application/json"), 400)


def test_lone_surrogates_are_refused_before_they_reach_the_database(world):
    uuid = world.channels["epay"]["uuid"]
    escaped = '"\\ud800"'
    for client, method, path, body in (
            (world.alice, "post", "/payment/api/orders", f'{{"channel": {escaped}, "amount": "10"}}'),
            (world.admin, "post", "/payment/admin/api/channels",
             f'{{"kind": "epay", "name": {escaped}, "config": {{}}}}'),
            (world.admin, "patch", f"/payment/admin/api/channels/{uuid}", f'{{"config": {{"pid": {escaped}}}}}'),
            (world.admin, "patch", f"/payment/admin/api/channels/{uuid}", f'{{"config": {{"key": {escaped}}}}}'),
            (world.admin, "put", "/payment/admin/api/settings", f'{{"callback_domain": {escaped}}}')):
        response = getattr(client, method)(path, data=body, content_type="application/json")
        assert "Unicode" in _error(response, 400)["message"]
    assert world.order("epay")["status"] == "pending"  # the channel still works


@pytest.mark.parametrize("value", ["http://[::1", "https://pay.example.com:99999", "http://pay.example.com:0"])
def test_unreadable_urls_are_refused_with_a_message(world, value):
    put = world.admin.put("/payment/admin/api/settings", json={"callback_domain": value})
    assert _error(put, 422)["fields"]["callback_domain"]
    uuid = world.channels["epay"]["uuid"]
    patched = world.admin.patch(f"/payment/admin/api/channels/{uuid}", json={"config": {"gateway": value}})
    assert "must be an http:// or https:// URL" in _error(patched, 422)["fields"]["config.gateway"][0]
    checked = world.admin.post("/payment/admin/api/settings/check", json={"callback_domain": value})
    assert checked.status_code == 200 and checked.get_json()["valid"] is False


def test_config_values_that_are_not_text_are_refused(world):
    uuid = world.channels["epay"]["uuid"]
    for value in ({"a": 1}, [1, 2]):
        patched = world.admin.patch(f"/payment/admin/api/channels/{uuid}", json={"config": {"pid": value}})
        assert _error(patched, 422)["fields"]["config.pid"] == ["Must be text or a number."]
    assert world.admin.get(f"/payment/admin/api/channels/{uuid}").get_json()["config"]["pid"] != "{'a': 1}"


def test_a_database_that_cannot_answer_is_a_json_503_on_every_endpoint(world):
    with world.app.app_context():
        engine = world.state.engine
    for client, path in ((world.alice, "/payment/api/channels"), (world.admin, "/payment/admin/api/settings"),
                         (world.admin, "/payment/admin/api/channels"), (world.admin, "/payment/admin/api/orders")):
        with statement_fails(engine, "SELECT", times=100):
            body = _error(client.get(path), 503)
        assert body["error"] == "unavailable" and "try again" in body["message"]
    with statement_fails(engine, "SELECT", times=100):
        page = world.admin.get("/payment/admin")
    assert page.status_code == 503 and "Temporarily unavailable" in page.get_data(as_text=True)


def test_an_oversized_chunked_notification_is_refused_with_413_not_truncated(world, signer):
    from tests.support.servers import serve_app

    order = world.order("epay")
    body = ("a=" + "x" * 70000).encode()
    with serve_app(world.app) as base:
        host, port = base.removeprefix("http://").split(":")
        connection = http.client.HTTPConnection(host, int(port), timeout=30)
        connection.putrequest("POST", f"/payment/notify/epay/{world.channels['epay']['uuid']}")
        connection.putheader("Content-Type", "application/x-www-form-urlencoded")
        connection.putheader("Transfer-Encoding", "chunked")
        connection.endheaders()
        for start in range(0, len(body), 8192):
            chunk = body[start:start + 8192]
            connection.send(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
        connection.send(b"0\r\n\r\n")
        answer = connection.getresponse()
        assert (answer.status, answer.read()) == (413, b"fail")
    assert world.notifications() == [] and world.order_row(order["trade_no"]).status == "pending"


def test_every_panelpay_route_bounds_its_request_body(world):
    """A 150 MB body once took a worker from 143 MB to 667 MB: anything larger than PanelPay's routes take
    is refused before it is read (413), and a body without a length is asked for one (411)."""
    huge = b'{"channel": "' + b"x" * 300_000 + b'", "amount": "10"}'
    for client, path in ((world.alice, "/payment/api/orders"), (world.admin, "/payment/admin/api/channels"),
                         (world.admin, "/payment/admin/api/notifications/1/replay")):
        body = _error(client.post(path, data=huge, content_type="application/json"), 413)
        assert body["error"] == "too_large"
    page = world.admin.post("/payment/admin/settings", data={"callback_domain": "x" * 300_000})
    assert page.status_code == 413 and "too large" in page.get_data(as_text=True)
    chunked = world.alice.post("/payment/api/orders", input_stream=io.BytesIO(b'{"channel": "x", "amount": "10"}'),
                               content_type="application/json", headers={"Transfer-Encoding": "chunked"})
    assert _error(chunked, 411)["error"] == "length_required"


def test_a_maximum_amount_of_zero_is_refused(world):
    uuid = world.channels["epay"]["uuid"]
    for value in ("0.00", "0"):
        patched = world.admin.patch(f"/payment/admin/api/channels/{uuid}", json={"max_amount": value})
        assert _error(patched, 422)["fields"]["max_amount"] == ["Must be at least 0.01."]
