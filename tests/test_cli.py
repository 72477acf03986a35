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


def test_out_of_range_numbers_are_clear_errors_not_tracebacks(world):
    from click.testing import CliRunner

    from panelpay.cli import main

    runner = world.app.test_cli_runner()
    for bad in ("99999999999999999999", "0"):
        result = runner.invoke(args=["panelpay", "replay", bad])
        assert result.exit_code == 2 and "Invalid value for '[NOTIFICATION_ID]'" in result.output, result.output
        assert "Traceback" not in result.output
    for port in ("70675", "-1", "0"):
        result = CliRunner().invoke(main, ["demo", "--port", port])
        assert result.exit_code == 2 and "Invalid value for '--port'" in result.output, result.output
