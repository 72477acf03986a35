"""Command line: ``flask panelpay …`` on any host app, and the ``panelpay`` console script.

Command docstrings are the ``--help`` text, so they are plain words, without markup."""
from __future__ import annotations

import sys

import click
from flask import current_app
from flask.cli import AppGroup

from . import __version__, migrate

panelpay_group = AppGroup("panelpay", help="PanelPay: payments, callbacks and reconciliation.")


def _state():
    return current_app.extensions["panelpay"]


@panelpay_group.group("db")
def db_group():
    """Create, migrate or check PanelPay's tables.

    They have a migration history of their own; the host's tables and history are never touched."""


@db_group.command("upgrade")
@click.option("--revision", default="head", show_default=True)
def db_upgrade(revision: str):
    """Create or migrate PanelPay's tables."""
    migrate.upgrade(_state().engine, revision)
    click.echo(f"PanelPay tables at revision {migrate.current(_state().engine)}.")


@db_group.command("downgrade")
@click.argument("revision")
def db_downgrade(revision: str):
    """Migrate PanelPay's tables down to REVISION.

    REVISION "base" drops them."""
    migrate.downgrade(_state().engine, revision)
    click.echo(f"PanelPay tables at revision {migrate.current(_state().engine) or 'base'}.")


@db_group.command("current")
def db_current():
    """Show the revision PanelPay's tables are at."""
    rev = migrate.current(_state().engine)
    click.echo(rev or "none (run: flask panelpay db upgrade)")
    if rev != migrate.head():
        sys.exit(1)


@panelpay_group.command("channels")
def channels_command():
    """List the configured channels and their notify URLs."""
    from .callback import notify_url
    from .store import get_settings, list_channels

    state = _state()
    settings = get_settings(state)
    rows = list_channels(state)
    if not rows:
        click.echo("No channels yet. Add one on the settings page or through the admin API.")
    for row in rows:
        url = notify_url(state, row, settings["callback_domain"]) or "(set PANELPAY_SITE_URL)"
        flag = "enabled " if row.enabled else "disabled"
        click.echo(f"{row.uuid}  {row.kind:<7} {flag}  {row.name}\n    notify: {url}")


@panelpay_group.command("doctor")
def doctor_command():
    """Check that the gateways can reach PanelPay.

    Calls each enabled channel's notify URL the way its gateway would and reports what answered. Exits
    with 1 when a finding is an error."""
    from .doctor import run_doctor

    findings = run_doctor(_state())
    marks = {"error": "✗", "warning": "!", "info": "✓"}
    for finding in findings:
        where = f" [{finding.channel}]" if finding.channel else ""
        click.echo(f"{marks.get(finding.level, '-')} {finding.level:<7} {finding.code}{where}: {finding.message}")
    errors = sum(1 for f in findings if f.level == "error")
    click.echo(f"{errors} error(s), {sum(1 for f in findings if f.level == 'warning')} warning(s).")
    sys.exit(1 if errors else 0)


def _reconcile(expired_only: bool) -> None:
    from . import reconcile

    state = _state()
    total = reconcile.due_count(state, expired_only=expired_only)
    if sys.stdout.isatty() and total:
        with click.progressbar(length=total, label="Querying the gateways") as bar:
            summary = reconcile.run(state, expired_only=expired_only, progress=bar.update)
    else:
        summary = reconcile.run(state, expired_only=expired_only)
    click.echo(f"queried {summary.queried}, paid {summary.paid}, still pending {summary.pending}, "
               f"expired {summary.expired}, errors {summary.errors}"
               + (f", spooled notifications judged {summary.spooled}" if summary.spooled else ""))
    if summary.skipped:
        click.echo(f"{summary.skipped} more order(s) were not asked now: asked recently (an order is asked less "
                   "often as it ages) or being asked by another run.")
    for uuid, error in summary.gateway_errors.items():
        click.echo(f"  gateway of channel {uuid}: {error}", err=True)


@panelpay_group.command("reconcile")
def reconcile_command():
    """Ask the gateways about pending orders; credit the paid ones.

    Queries pending and recently expired orders at their gateways and credits those that were paid.
    Safe to run from cron every minute, and to run several at once."""
    _reconcile(expired_only=False)


@panelpay_group.command("expire")
def expire_command():
    """Expire pending orders that are past their time limit.

    Each is asked about at its gateway one last time, then expired (and closed at the gateway where it
    can be)."""
    _reconcile(expired_only=True)


@panelpay_group.command("deliver")
def deliver_command():
    """Deliver the notifications owed to panels (gateway mode).

    Attempts every notification that is due and reads back the deliveries of merchants set up for confirm
    by read. Safe to run from cron every minute, and to run several at once (the app delivers too)."""
    from . import delivery

    counts = delivery.run(_state())
    click.echo(", ".join(f"{k}: {v}" for k, v in sorted(counts.items())) or "Nothing to deliver.")


@panelpay_group.command("replay")
@click.argument("notification_id", type=click.IntRange(1, 2**63 - 1), required=False)
@click.option("--spool", "from_spool", is_flag=True, help="Record and judge the spooled notifications.")
def replay_command(notification_id: int | None, from_spool: bool):
    """Judge a recorded notification again.

    Runs notification NOTIFICATION_ID (from the delivery log) through the notify path again; an order is
    never credited twice. With --spool, records and judges the notifications kept on disk while the
    database was down."""
    from . import spool
    from .replay import replay

    state = _state()
    if from_spool:
        counts = spool.drain(state)
        click.echo(", ".join(f"{k}: {v}" for k, v in sorted(counts.items())) or "The spool is empty.")
        return
    if notification_id is None:
        raise click.UsageError("give a notification id, or --spool")
    try:
        answer = replay(state, notification_id)
    except LookupError:
        raise click.ClickException(f"no notification {notification_id}") from None
    verdict, acknowledgement = answer.verdict, answer.acknowledgement
    click.echo(f"notification {answer.notification_id} (replay of {notification_id}): {verdict.name}: {verdict.text} "
               f"(answered {acknowledgement.status} {acknowledgement.body})")


def register_cli(app) -> None:
    app.cli.add_command(panelpay_group)


@click.group()
@click.version_option(__version__, prog_name="PanelPay", message="%(prog)s %(version)s")
def main():
    """PanelPay: EPay and Alipay top-ups for Flask panels.

    panelpay demo runs the demo panel. PanelPay's other commands run on a Flask app that mounts it:

    \b
      flask --app yourpanel.app panelpay --help      on your panel
      flask --app panelpay.demo.app panelpay --help  on the demo (in the folder where it runs)
    """


@main.command("demo")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=5000, show_default=True, type=click.IntRange(1, 65535), help="Port to listen on.")
@click.option("--db", "db_url", default=None, help="Database URL (default: SQLite in ./instance).")
def demo_command(host: str, port: int, db_url: str | None):
    """Run the demo panel with PanelPay and the sandbox gateways.

    It keeps its data in ./instance. In the same folder, flask --app panelpay.demo.app panelpay COMMAND
    runs PanelPay's commands on it (channels, doctor, reconcile, …)."""
    from .demo.app import serve

    serve(host=host, port=port, db_url=db_url)
