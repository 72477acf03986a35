"""The `flask panelpay` commands on a host app."""
from __future__ import annotations

import importlib.metadata
import logging
import re
from decimal import Decimal
from urllib.parse import urlencode

import click
import pytest
from click.testing import CliRunner

import panelpay
from panelpay import migrate, spool
from panelpay.cli import main, panelpay_group
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
    runner = world.app.test_cli_runner()
    for bad in ("99999999999999999999", "0"):
        result = runner.invoke(args=["panelpay", "replay", bad])
        assert result.exit_code == 2 and "Invalid value for '[NOTIFICATION_ID]'" in result.output, result.output
        assert "Traceback" not in result.output
    for port in ("70675", "-1", "0"):
        result = CliRunner().invoke(main, ["demo", "--port", port])
        assert result.exit_code == 2 and "Invalid value for '--port'" in result.output, result.output


def _commands(group: click.Group, path=()):
    for name, command in group.commands.items():
        yield (*path, name)
        if isinstance(command, click.Group):
            yield from _commands(command, (*path, name))


def test_version_and_help_in_plain_words():
    version = CliRunner().invoke(main, ["--version"])
    assert version.exit_code == 0 and version.output == f"PanelPay {panelpay.__version__}\n"
    assert importlib.metadata.version("panelpay") == panelpay.__version__  # the distribution's version too
    markup = re.compile(r"``|:(mod|class|meth|func|attr):|\*\*")
    for group in (main, panelpay_group):
        for command in [(), *_commands(group)]:
            result = CliRunner().invoke(group, [*command, "--help"])
            assert result.exit_code == 0 and not markup.search(result.output), (command, result.output)
    assert "flask --app panelpay.demo.app panelpay" in CliRunner().invoke(main, ["--help"]).output


@pytest.mark.parametrize("backend", ["sqlite"])
def test_the_sandbox_warning_is_logged_once_when_serving_never_by_a_command(make_app, caplog):
    app = make_app(PANELPAY_SANDBOX=True)
    caplog.set_level(logging.WARNING, logger="panelpay")
    runner = app.test_cli_runner()
    for command in (["channels"], ["doctor"], ["db", "current"], ["reconcile"]):  # the doctor sends a request
        assert runner.invoke(args=["panelpay", *command]).exit_code in (0, 1)
    assert "PANELPAY_SANDBOX" not in caplog.text
    client = app.test_client()
    for _ in range(3):
        assert client.get("/payment/api/channels").status_code == 401
    assert caplog.text.count("PANELPAY_SANDBOX is on") == 1
