"""The `flask panelpay` commands on a host app."""
from __future__ import annotations

from decimal import Decimal
from urllib.parse import urlencode

from panelpay import migrate, spool
from panelpay.channels.base import GatewayRequest
from panelpay.notify import Received
from panelpay.models import utcnow


def test_db_current_channels_and_replay(world, signer):
    runner = world.app.test_cli_runner()
    current = runner.invoke(args=["panelpay", "db", "current"])
    assert current.exit_code == 0 and migrate.head() in current.output
    channels = runner.invoke(args=["panelpay", "channels"])
    assert channels.exit_code == 0
    assert f"http://127.0.0.1:5999/payment/notify/epay/{world.channels['epay']['uuid']}" in channels.output
    order = world.order("epay")
    world.app.test_client().get(f"/payment/notify/epay/{world.channels['epay']['uuid']}?" +
                                urlencode(signer.epay(order["trade_no"], order["total"])))
    first = world.notifications()[0]
    replayed = runner.invoke(args=["panelpay", "replay", str(first.id)])
    assert replayed.exit_code == 0 and "duplicate" in replayed.output
    missing = runner.invoke(args=["panelpay", "replay", "999999"])
    assert missing.exit_code != 0 and "no notification 999999" in missing.output
    assert world.balance() == Decimal("10.00")


def test_replay_spool_judges_what_the_outage_kept(world, signer):
    order = world.order("alipay", "3.00")
    body = urlencode(signer.alipay(order["trade_no"], order["total"])).encode()
    request = GatewayRequest("POST", (("Content-Type", "application/x-www-form-urlencoded"),), b"", body,
                             "application/x-www-form-urlencoded", utcnow())
    spool.keep(world.state, Received("alipay", world.channels["alipay"]["uuid"], "127.0.0.1", request))
    result = world.app.test_cli_runner().invoke(args=["panelpay", "replay", "--spool"])
    assert result.exit_code == 0 and "accepted: 1" in result.output
    assert world.balance() == Decimal("3.00")
    again = world.app.test_cli_runner().invoke(args=["panelpay", "replay", "--spool"])
    assert "The spool is empty." in again.output
