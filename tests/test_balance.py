"""Balance units: a rate given as a price (New-API's quota) is exact, rounds toward zero, and is never a float."""
from __future__ import annotations

from decimal import Decimal
from fractions import Fraction
from urllib.parse import urlencode

import pytest
import sqlalchemy as sa

from panelpay import BalanceColumn
from panelpay.models import LedgerEntry
from tests.conftest import World
from tests.support.hostapp import NEWAPI_PRICE, NEWAPI_QUOTA_PER_DOLLAR

USERS = sa.Table("users", sa.MetaData(), sa.Column("id", sa.Integer, primary_key=True),
                 sa.Column("quota", sa.BigInteger), sa.Column("cents", sa.BigInteger))


def test_new_api_ten_dollars_at_7_3_pay_73_00_and_credit_5_000_000_quota(make_app, sandbox, signer):
    world = World(make_app(balance="quota"), sandbox, configs=("epay",))
    dollars = 10
    order = world.order("epay", f"{dollars * Decimal(NEWAPI_PRICE):.2f}")
    assert order["total"] == "73.00"
    world.app.test_client().get(f"/payment/notify/epay/{world.channels['epay']['uuid']}?" +
                                urlencode(signer.epay(order["trade_no"], order["total"])))
    with world.app.app_context():
        quota = world.app.db.session.execute(
            sa.select(world.app.User.quota).where(world.app.User.id == world.alice_id)).scalar_one()
        entry = world.app.db.session.execute(sa.select(LedgerEntry)).scalar_one()
    assert quota == dollars * NEWAPI_QUOTA_PER_DOLLAR == 5_000_000
    assert (entry.credit, entry.units) == (Decimal("73.00"), 5_000_000)


def test_a_price_is_exact_and_units_round_toward_zero():
    newapi = BalanceColumn(USERS.c.quota, units=500000, price="7.3")
    # A rate per yuan written as a Decimal is already rounded (68,493.150684…): 73.00 would credit 4,999,999.
    assert {amount: newapi.units_for(Decimal(amount)) for amount in ("73.00", "7.30", "1.00", "0.01")} == \
        {"73.00": 5_000_000, "7.30": 500_000, "1.00": 68_493, "0.01": 684}
    exact = Fraction(500000) / Fraction("7.3")
    for cents in range(1, 100_001, 7):
        amount = Decimal(cents) / 100
        units = newapi.units_for(amount)
        assert units <= Fraction(amount) * exact < units + 1, amount  # never more than was paid for
    cents = BalanceColumn(USERS.c.cents, units_per_yuan=100)
    assert all(cents.units_for(Decimal(n) / 100) == n for n in range(1, 100_001))
    assert BalanceColumn(USERS.c.cents, units="1", price=Decimal("0.10")).units_for(Decimal("0.99")) == 9


@pytest.mark.parametrize("rate,problem", [
    ({"units": 500000, "price": 7.3}, "never a float"),
    ({"units_per_yuan": 68493.15}, "never a float"),
    ({"units_per_yuan": 100, "units": 100, "price": 1}, "not both"),
    ({"units": 500000}, "go together"),
    ({"price": "7.3"}, "go together"),
    ({"units": 500000, "price": "0"}, "price must be positive"),
    ({"units_per_yuan": "seven"}, "must be a number"),
])
def test_a_rate_is_given_one_way_and_never_as_a_float(rate, problem):
    with pytest.raises((TypeError, ValueError), match=problem):
        BalanceColumn(USERS.c.quota, **rate)
