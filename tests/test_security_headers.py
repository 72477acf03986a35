"""PanelPay's answers cannot be sniffed into another type or framed by another site, and its pages carry a
restrictive Content-Security-Policy that still lets the payment form reach its gateway."""
from __future__ import annotations

import pytest


def test_pages_forbid_other_sites_framing_them_and_load_only_their_own_scripts(world):
    for client, path in ((world.alice, "/payment/checkout"), (world.admin, "/payment/admin")):
        response = client.get(path)
        assert response.status_code == 200
        assert response.headers["X-Frame-Options"] == "SAMEORIGIN"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        policy = response.headers["Content-Security-Policy"]
        for directive in ("default-src 'self'", "script-src 'self'", "frame-ancestors 'self'", "object-src 'none'",
                          "base-uri 'self'"):
            assert directive in policy, (directive, policy)
        assert "unsafe-inline" not in policy and "unsafe-eval" not in policy


def test_the_checkout_and_order_pages_may_post_payment_forms_to_their_gateways_only(world):
    policy = world.alice.get("/payment/checkout").headers["Content-Security-Policy"]
    form_action = next(d for d in policy.split("; ") if d.startswith("form-action"))
    assert form_action == "form-action 'self' http://127.0.0.1:5999"  # the sandbox gateways' origin
    order = world.order("alipay")
    policy = world.alice.get(f"/payment/orders/{order['trade_no']}").headers["Content-Security-Policy"]
    assert "form-action 'self' http://127.0.0.1:5999" in policy


def test_json_and_notify_answers_are_not_sniffed(world, signer):
    for response in (world.alice.get("/payment/api/channels"),
                     world.app.test_client().get(f"/payment/notify/epay/{world.channels['epay']['uuid']}")):
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["X-Frame-Options"] == "SAMEORIGIN"


@pytest.mark.parametrize("policy", ["", "default-src 'self' https://cdn.host.example"])
def test_a_host_with_its_own_policy_sets_or_switches_off_panelpays(make_app, sandbox, policy):
    from tests.conftest import World

    world = World(make_app(PANELPAY_CONTENT_SECURITY_POLICY=policy), sandbox, configs=("epay",))
    response = world.alice.get("/payment/checkout")
    assert response.headers.get("Content-Security-Policy") == (policy or None)
