"""Fuzzing the notify routes with Hypothesis: random, near-valid and hostile requests never cause a 5xx,
never credit anything, and every one is in the delivery log or refused before it with 413."""
from __future__ import annotations

import os
import secrets
from urllib.parse import quote, urlencode

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from panelpay.models import LedgerEntry, Notification
from tests.conftest import World

#: 500 under `make test`; `.ci/run` sets PANELPAY_FUZZ_EXAMPLES=5000 for the long run.
EXAMPLES = int(os.environ.get("PANELPAY_FUZZ_EXAMPLES", "500"))
LIMIT = 4096
NAMES = ["pid", "trade_no", "out_trade_no", "type", "name", "money", "trade_status", "sign", "sign_type",
         "timestamp", "param", "app_id", "seller_id", "total_amount", "notify_id", "charset", "notify_type"]

texts = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=40)
values = st.one_of(texts, st.sampled_from(["", " ", "0", "-1", "10", "9.9", "1e9", "NaN", "TRADE_SUCCESS",
                                           "TRADE_CLOSED", "RSA", "RSA2", "MD5", "x" * 3000]))
keys = st.one_of(st.sampled_from(NAMES), texts.filter(bool))
raw_bytes = st.binary(max_size=300)
gbk = st.text(alphabet="支付宝易订单金额测试", min_size=1, max_size=10).map(lambda t: t.encode("gbk"))


def near_valid(signer, kind):
    """A correctly signed notification for an order that does not exist, then one mutation."""
    def build(data):
        trade_no = "PPFUZZ" + secrets.token_hex(6)
        params = (signer.epay(trade_no, "10.00") if kind == "epay" else signer.alipay(trade_no, "10.00"))
        mutation = data.draw(st.sampled_from(["none", "change", "drop", "add", "repeat", "sign"]))
        pairs = list(params.items())
        if mutation == "change":
            i = data.draw(st.integers(0, len(pairs) - 1))
            pairs[i] = (pairs[i][0], data.draw(values))
        elif mutation == "drop":
            pairs.pop(data.draw(st.integers(0, len(pairs) - 1)))
        elif mutation == "add":
            pairs.append((data.draw(keys), data.draw(values)))
        elif mutation == "repeat":
            pairs.append(pairs[data.draw(st.integers(0, len(pairs) - 1))])
        elif mutation == "sign":
            pairs = [(k, v[::-1] if k == "sign" else v) for k, v in pairs]
        return urlencode(pairs).encode()
    return build


def request_strategy(signer, kind):
    @st.composite
    def requests_(draw):
        method = draw(st.sampled_from(["GET", "POST"]))
        shape = draw(st.sampled_from(["random", "near_valid", "bytes", "gbk", "oversized", "path"]))
        content_type = "application/x-www-form-urlencoded"
        if shape == "random":
            payload = urlencode(draw(st.lists(st.tuples(keys, values), max_size=12))).encode()
        elif shape == "near_valid":
            payload = near_valid(signer, kind)(draw(st.data()))
        elif shape == "bytes":
            payload = draw(raw_bytes)
            content_type = draw(st.sampled_from([content_type, "application/json", "text/plain", "",
                                                 "multipart/form-data; boundary=x", "application/octet-stream"]))
        elif shape == "gbk":
            payload = ("out_trade_no=PPX&name=" + quote(draw(gbk)) + "&charset=" +
                       draw(st.sampled_from(["gbk", "utf-8", ""]))).encode()
        elif shape == "path":
            # any text but a "/" (that would be another URL, not a notify route) or a dot segment
            segment = quote(draw(texts.filter(lambda t: t not in ("", ".", "..") and "/" not in t)), safe="")
            return method, b"out_trade_no=PPX&sign=x", content_type, segment
        else:
            payload = b"a=" + b"x" * (LIMIT + draw(st.integers(1, 5000)))
        return method, payload, content_type, None
    return requests_()


@pytest.fixture
def fuzz_world(make_app, sandbox):
    # The fuzzer is a single source sending thousands of refused requests: the per-source budget, which has
    # tests of its own (test_floods), would stop it from reaching the flow.
    return World(make_app(PANELPAY_MAX_NOTIFY_BYTES=LIMIT, PANELPAY_REJECTIONS_PER_SOURCE=10**9), sandbox,
                 configs=("epay", "alipay"))


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["epay", "alipay"])
def test_fuzzed_notifications_never_5xx_never_credit_and_are_all_logged(fuzz_world, signer, kind):
    world = fuzz_world
    world.order(kind, "10.00")
    client = world.app.test_client()
    path = f"/payment/notify/{kind}/{world.channels[kind]['uuid']}"
    sent = {"logged": 0, "refused": 0}

    @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(request=request_strategy(signer, kind))
    def fuzz(request):
        method, payload, content_type, segment = request
        target = f"/payment/notify/{kind}/{segment}" if segment else path
        if method == "GET":
            response = client.get(target + "?" + payload.decode("latin-1").replace("#", "%23"))
            size = len(response.request.query_string) if hasattr(response, "request") else len(payload)
        else:
            response = client.post(target, data=payload, content_type=content_type)
            size = len(payload)
        assert response.status_code < 500, (response.status_code, payload[:200])
        if response.status_code == 413:
            assert size > LIMIT
            sent["refused"] += 1
        else:
            assert response.get_data(as_text=True) in ("success", "fail")
            sent["logged"] += 1

    fuzz()
    with world.app.app_context(), world.state.session() as session:
        logged = session.execute(sa.select(sa.func.count()).select_from(Notification)).scalar_one()
        credits = session.execute(sa.select(sa.func.count()).select_from(LedgerEntry)).scalar_one()
    assert logged == sent["logged"] and sent["refused"] > 0
    assert credits == 0 and world.balance() == 0
