"""settle(): exactly one credit per order, however many deliveries, threads, processes and databases."""
from __future__ import annotations

import multiprocessing
import threading
from decimal import Decimal

import pytest
import sqlalchemy as sa

from panelpay import Evidence, payment_anomaly, payment_paid_late, payment_succeeded, settle
from panelpay.db import TransientError
from panelpay.models import LedgerEntry, Order
from tests.conftest import add_channel_row, add_order, add_user, database_url
from tests.support.hostapp import make_host


def balance(app, uid, column="balance"):
    with app.app_context():
        return app.db.session.execute(sa.select(getattr(app.User, column)).where(app.User.id == uid)).scalar_one()


def ledger(app):
    with app.app_context():
        return app.db.session.execute(sa.select(LedgerEntry)).scalars().all()


def order_row(app, order_id):
    state = app.extensions["panelpay"]
    with app.app_context(), state.session() as session:
        return session.get(Order, order_id)


def evidence(order, amount=None, gtn="G1", source="notify"):
    return Evidence(source, Decimal(amount) if amount else order.total, gtn)


def test_settle_credits_once_then_reports_already_settled(app):
    uid = add_user(app)
    order = add_order(app, add_channel_row(app), uid, "10.00")
    with app.app_context():
        first = settle(order, evidence(order))
        second = settle(order, evidence(order))
    assert first.outcome == "credited" and first.order.status == "paid"
    assert first.order.gateway_trade_no == "G1" and first.order.settled_by == "notify"
    assert first.order.paid_late is False
    assert second.outcome == "already_settled"
    assert balance(app, uid) == Decimal("10.00")
    assert len(ledger(app)) == 1


def test_sixteen_threads_delivering_200_times_credit_once(app):
    uid = add_user(app)
    order = add_order(app, add_channel_row(app), uid, "9.90")
    outcomes, errors = [], []
    barrier = threading.Barrier(16)

    def deliver(count):
        barrier.wait()
        for _ in range(count):
            with app.app_context():
                try:
                    outcomes.append(settle(order, evidence(order)).outcome)
                except Exception as exc:  # noqa: BLE001 - collected and asserted below
                    errors.append(exc)

    threads = [threading.Thread(target=deliver, args=(13 if i < 8 else 12,)) for i in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert len(outcomes) == 200
    assert outcomes.count("credited") == 1
    assert outcomes.count("already_settled") == 199
    assert balance(app, uid) == Decimal("9.90")
    assert len(ledger(app)) == 1


def _settle_in_process(db_url, order_id, times, start):
    app = make_host(db_url, migrate_tables=False)
    state = app.extensions["panelpay"]
    start.wait()
    outcomes = []
    with app.app_context():
        with state.session() as session:
            order = session.get(Order, order_id)
        for _ in range(times):
            outcomes.append(settle(order, Evidence("notify", order.total, "G-proc")).outcome)
    return outcomes


def test_two_processes_credit_once(app, backend):
    uid = add_user(app)
    order = add_order(app, add_channel_row(app), uid, "25.00")
    context = multiprocessing.get_context("spawn")
    with context.Manager() as manager:
        start = manager.Event()
        with context.Pool(2) as pool:
            results = [pool.apply_async(_settle_in_process, (database_url(backend), order.id, 50, start))
                       for _ in range(2)]
            start.set()
            outcomes = [o for r in results for o in r.get(timeout=240)]
    assert outcomes.count("credited") == 1
    assert outcomes.count("already_settled") == 99
    assert balance(app, uid) == Decimal("25.00")
    assert len(ledger(app)) == 1


def test_three_orders_interleaved_each_credited_once_sum_exact(app):
    uid = add_user(app)
    channel = add_channel_row(app)
    orders = [add_order(app, channel, uid, total, trade_no=f"PPMIX{i}") for i, total in
              enumerate(["0.01", "9.90", "123.45"])]
    barrier = threading.Barrier(6)
    errors = []

    def deliver(offset):
        barrier.wait()
        for n in range(30):
            order = orders[(n + offset) % 3]
            with app.app_context():
                try:
                    settle(order, Evidence("notify", order.total, f"G-{order.trade_no}"))
                except Exception as exc:  # noqa: BLE001
                    errors.append(exc)

    threads = [threading.Thread(target=deliver, args=(i,)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert balance(app, uid) == Decimal("133.36")
    assert sorted(e.credit for e in ledger(app)) == [Decimal("0.01"), Decimal("9.90"), Decimal("123.45")]


@pytest.mark.parametrize("mode,column,expected", [
    ("cents", "balance_cents", 990),
    ("quota", "quota", 678082),  # 9.90 × 500,000 / 7.3 = 678,082.19…, toward zero
    ("decimal", "balance", Decimal("9.90")),
])
def test_integer_and_decimal_columns_are_credited_exactly(make_app, mode, column, expected):
    app = make_app(balance=mode)
    uid = add_user(app)
    order = add_order(app, add_channel_row(app), uid, "9.90")
    with app.app_context():
        settle(order, evidence(order))
    assert balance(app, uid, column) == expected
    if mode != "decimal":
        assert ledger(app)[0].units == expected


#: The host's columns named like values a credit binds, and what they hold before and after it.
DECOYS = {"amount": Decimal("0.00"), "credit": Decimal("0.00"), "units": 0, "source": "signup", "order_id": 0,
          "channel_id": 0, "gateway_trade_no": ""}


@pytest.mark.parametrize("mode", ["decimal", "cents", "quota", "callable"])
def test_host_columns_named_like_the_credits_values_are_left_alone(make_app, mode):
    app = make_app(balance=mode)
    uid, other = add_user(app), add_user(app, "bob")
    order = add_order(app, add_channel_row(app), uid, "9.90")
    with app.app_context():
        assert settle(order, evidence(order)).outcome == "credited"
        users = app.db.session.execute(sa.select(app.User).order_by(app.User.id)).scalars().all()
        assert [{key: getattr(user, key) for key in DECOYS} for user in users] == [DECOYS, DECOYS]
    assert balance(app, other) == 0 and balance(app, other, "balance_cents") == 0


def test_cent_steps_add_up_exactly(make_app):
    app = make_app(balance="cents")
    uid = add_user(app)
    channel = add_channel_row(app)
    for i in range(10):
        order = add_order(app, channel, uid, "0.01", trade_no=f"PPCENT{i}")
        with app.app_context():
            settle(order, Evidence("notify", order.total, f"GC{i}"))
    assert balance(app, uid, "balance_cents") == 10


def test_decimal_column_cent_steps_add_up_exactly(app):
    uid = add_user(app)
    channel = add_channel_row(app)
    for i in range(30):
        order = add_order(app, channel, uid, "0.10", trade_no=f"PPDIME{i}")
        with app.app_context():
            settle(order, Evidence("notify", order.total, f"GD{i}"))
    assert balance(app, uid) == Decimal("3.00")


def test_callable_adapter_runs_inside_the_transaction(make_app):
    app = make_app(balance="callable")
    uid = add_user(app)
    order = add_order(app, add_channel_row(app), uid, "5.00")
    with app.app_context():
        settle(order, evidence(order))
        settle(order, evidence(order))
        rows = app.db.session.execute(sa.select(app.CreditLog)).scalars().all()
    assert [(r.user_id, r.amount) for r in rows] == [(uid, Decimal("5.00"))]
    assert balance(app, uid) == Decimal("5.00")


def test_database_failure_inside_settle_leaves_everything_untouched(make_app):
    app = make_app(balance="callable")
    state = app.extensions["panelpay"]
    uid = add_user(app)
    order = add_order(app, add_channel_row(app), uid, "7.00")
    original = state.balance.fn

    def credit_then_fail(session, user_id, credit):
        original(session, user_id, credit)
        session.execute(sa.text("UPDATE no_such_table SET x = 1"))

    state.balance.fn = credit_then_fail
    with app.app_context(), pytest.raises(TransientError):
        settle(order, evidence(order))
    assert order_row(app, order.id).status == "pending"
    assert ledger(app) == []
    assert balance(app, uid) == Decimal("0.00")
    with app.app_context():
        assert app.db.session.execute(sa.select(app.CreditLog)).scalars().all() == []
    state.balance.fn = original
    with app.app_context():
        assert settle(order, evidence(order)).outcome == "credited"
    assert balance(app, uid) == Decimal("7.00")


def test_wrong_amount_is_an_anomaly_never_credited(app):
    uid = add_user(app)
    order = add_order(app, add_channel_row(app), uid, "10.00")
    seen = []
    with app.app_context(), payment_anomaly.connected_to(lambda s, **kw: seen.append(kw["reason"]), app):
        result = settle(order, evidence(order, amount="1.00"))
    assert result.outcome == "anomaly" and result.order.status == "anomaly"
    assert "amount mismatch" in result.order.anomaly and seen
    assert balance(app, uid) == Decimal("0.00") and ledger(app) == []


def test_same_gateway_trade_number_on_another_order_is_an_anomaly(app):
    uid = add_user(app)
    channel = add_channel_row(app)
    first = add_order(app, channel, uid, "10.00", trade_no="PPFIRST")
    second = add_order(app, channel, uid, "10.00", trade_no="PPSECOND")
    with app.app_context():
        assert settle(first, Evidence("notify", first.total, "SHARED")).outcome == "credited"
        result = settle(second, Evidence("notify", second.total, "SHARED"))
    assert result.outcome == "anomaly" and "already settled another order" in result.reason
    assert order_row(app, second.id).status == "anomaly"
    assert balance(app, uid) == Decimal("10.00") and len(ledger(app)) == 1


def test_paid_order_with_a_different_amount_is_flagged_and_not_credited(app):
    uid = add_user(app)
    order = add_order(app, add_channel_row(app), uid, "10.00")
    with app.app_context():
        settle(order, evidence(order))
        result = settle(order, evidence(order, amount="20.00"))
    assert result.outcome == "anomaly"
    row = order_row(app, order.id)
    assert row.status == "paid" and "amount mismatch" in row.anomaly
    assert balance(app, uid) == Decimal("10.00")


def test_expired_order_paid_later_is_credited_and_flagged_paid_late(app):
    uid = add_user(app)
    order = add_order(app, add_channel_row(app), uid, "3.00", status="expired", expires_in=-60)
    late, succeeded = [], []
    with app.app_context(), payment_paid_late.connected_to(lambda s, **kw: late.append(kw["order"]), app), \
            payment_succeeded.connected_to(lambda s, **kw: succeeded.append(kw["order"]), app):
        result = settle(order, evidence(order))
    assert result.outcome == "credited" and result.order.paid_late is True
    assert late and succeeded and succeeded[0].status == "paid"
    assert balance(app, uid) == Decimal("3.00")


def test_pending_order_past_its_expiry_is_flagged_paid_late(app):
    uid = add_user(app)
    order = add_order(app, add_channel_row(app), uid, "3.00", expires_in=-1)
    with app.app_context():
        assert settle(order, evidence(order)).order.paid_late is True


def test_order_of_a_user_that_no_longer_exists_is_an_anomaly(app):
    order = add_order(app, add_channel_row(app), 424242, "3.00")
    with app.app_context():
        result = settle(order, evidence(order))
    assert result.outcome == "anomaly" and "not found" in result.reason
    assert ledger(app) == []


def test_signal_receivers_see_committed_rows(app):
    uid = add_user(app)
    order = add_order(app, add_channel_row(app), uid, "4.00")
    seen = []

    def receiver(sender, **kw):
        seen.append(balance(app, uid))

    with app.app_context(), payment_succeeded.connected_to(receiver, app):
        settle(order, evidence(order))
    assert seen == [Decimal("4.00")]


def test_an_order_moved_back_to_pending_after_its_credit_is_restored_not_credited_again(app):
    uid = add_user(app)
    order = add_order(app, add_channel_row(app), uid, "5.00")
    with app.app_context():
        assert settle(order, evidence(order)).outcome == "credited"
        app.db.session.execute(sa.update(Order).where(Order.id == order.id).values(status="pending"))
        app.db.session.commit()
        again = settle(order, evidence(order))
    assert again.outcome == "already_settled" and again.order.status == "paid"
    assert order_row(app, order.id).status == "paid"
    assert balance(app, uid) == Decimal("5.00") and len(ledger(app)) == 1


def test_a_balance_id_column_matching_two_rows_credits_neither(make_app):
    app = make_app(balance="non_unique")
    uid = add_user(app)
    with app.app_context():
        app.db.session.add_all([app.CreditLog(user_id=uid, amount=Decimal("0.00")) for _ in range(2)])
        app.db.session.commit()
    order = add_order(app, add_channel_row(app), uid, "3.00")
    with app.app_context():
        result = settle(order, evidence(order))
        amounts = app.db.session.execute(sa.select(app.CreditLog.amount)).scalars().all()
    assert result.outcome == "anomaly" and "must be unique" in result.reason
    assert amounts == [Decimal("0.00"), Decimal("0.00")] and ledger(app) == []
    assert order_row(app, order.id).status == "anomaly"
