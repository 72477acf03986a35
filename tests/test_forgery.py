"""Forgery: whatever an attacker changes in a notification, nothing is credited."""
from __future__ import annotations

from decimal import Decimal

import pytest

from tests.support.gateway import SANDBOX_BASE, create_channel


def _sign(signer, channel, order, **kwargs):
    return {"epay": signer.epay, "epay_rsa": signer.epay_rsa, "alipay": signer.alipay}[channel](
        order["trade_no"], order["total"], **kwargs)


def _post(world, uuid, kind, params, source="127.0.0.1"):
    return world.app.test_client().post(f"/payment/notify/{kind}/{uuid}", data=params,
                                        environ_base={"REMOTE_ADDR": source})


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
@pytest.mark.parametrize("channel", ["epay", "epay_rsa", "alipay"])
def test_each_field_tampered_is_refused(world, signer, channel):
    order = world.order(channel, "10.00")
    genuine = _sign(signer, channel, order)
    ch = world.channels[channel]
    sources = (f"198.51.100.{n}" for n in range(1, 255))  # the forger changes address (each has a budget)
    for field in genuine:
        for forged_value in ("1", "", genuine[field] + "0"):
            # sign_type is not signed; leaving it out (as older EPay SDKs do) changes nothing that matters.
            if forged_value == genuine[field] or (field == "sign_type" and not forged_value):
                continue
            forged = dict(genuine, **{field: forged_value})
            response = _post(world, ch["uuid"], ch["kind"], forged, next(sources))
            assert response.status_code == 400, (field, forged_value, response.get_data(as_text=True))
    assert world.balance() == 0
    assert _post(world, ch["uuid"], ch["kind"], genuine).get_data(as_text=True) == "success"
    assert world.balance() == Decimal("10.00")


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_wrong_key_wrong_merchant_other_channel_and_app_key_never_credit(world, signer, sandbox):
    from panelpay.keys import load_private_key

    epay_order, alipay_order = world.order("epay"), world.order("alipay")
    epay, alipay = world.channels["epay"], world.channels["alipay"]
    other_key = dict(sandbox.channel_configs(SANDBOX_BASE)["epay"], key="another-merchant-key-0123456789ab")
    stranger = create_channel(world.admin, "epay", other_key, name="another merchant")
    attempts = [
        (epay, signer.epay(epay_order["trade_no"], epay_order["total"], key="a-wrong-key"), 400),
        (epay, signer.epay(epay_order["trade_no"], epay_order["total"], pid="2002"), 200),
        (stranger, signer.epay(epay_order["trade_no"], epay_order["total"]), 400),
        (alipay, signer.alipay(alipay_order["trade_no"], alipay_order["total"],
                               private_key=load_private_key(sandbox.credentials.alipay_app_private_pem)), 400),
        (alipay, signer.alipay(alipay_order["trade_no"], alipay_order["total"], app_id="2021000000009999"), 200),
        (epay, signer.alipay(alipay_order["trade_no"], alipay_order["total"]), 400),
        (alipay, signer.epay(epay_order["trade_no"], epay_order["total"]), 400),
    ]
    for channel, params, status in attempts:
        response = _post(world, channel["uuid"], channel["kind"], params)
        assert response.status_code == status, (channel["name"], response.get_data(as_text=True))
    assert world.balance() == 0
    verdicts = [n.verdict for n in world.notifications()]
    assert verdicts.count("rejected") == 5 and verdicts.count("anomaly") == 2


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_a_paid_notification_replayed_against_another_order_is_refused(world, signer):
    first, second = world.order("alipay", "10.00"), world.order("alipay", "10.00")
    genuine = signer.alipay(first["trade_no"], first["total"])
    uuid = world.channels["alipay"]["uuid"]
    assert _post(world, uuid, "alipay", genuine).get_data(as_text=True) == "success"
    swapped = dict(genuine, out_trade_no=second["trade_no"])
    assert _post(world, uuid, "alipay", swapped).status_code == 400
    same_gateway_no = signer.alipay(second["trade_no"], second["total"], gateway_trade_no=genuine["trade_no"])
    assert _post(world, uuid, "alipay", same_gateway_no).get_data(as_text=True) == "success"
    assert world.order_row(second["trade_no"]).status == "anomaly"
    assert world.balance() == Decimal("10.00")
