"""The delivery log's outcomes and the orders' anomalies, in the reader's language.

They are stored as PanelPay writes them, in English with the values in place ("amount mismatch: paid 9.00,
order total 10.00"), so the log reads the same whoever wrote it and whatever language it is read in. Each
sentence PanelPay writes is listed here as a template; :func:`explain` finds the one a stored line was made
from and says it again in the page's language, the values as they were. A line no template matches (a channel
kind of another package, a gateway's own words) is shown as stored.
"""
from __future__ import annotations

import functools
import re

from .i18n import VERDICT_LABELS, gettext


def N_(text: str) -> str:
    """Marks a message for the catalogue (pybabel extract -k N_) without translating it here."""
    return text

#: Every outcome and anomaly sentence of notify.py, settle.py, replay.py, orders.py, balance.py and the
#: built-in channels, with the values as %(name)s. A value that is itself one of these sentences is
#: explained too ("bad signature: MD5 signature does not match the merchant key").
TEMPLATES = (
    N_("credited"),
    N_("already settled; nothing changed"),
    N_("database unavailable; the gateway will retry"),
    N_("no such channel: check the notify URL"),
    N_("bad signature: %(problem)s"),
    N_("malformed: %(problem)s"),
    N_("values the database cannot hold"),
    N_("no amount"),
    N_("the report states no amount"),
    N_("status %(status)s: nothing to credit"),
    N_("unknown order %(trade_no)s"),
    N_("order %(trade_no)s belongs to another channel (%(channel)s)"),
    N_("merchant mismatch: notification for %(theirs)s, channel is %(ours)s"),
    N_("amount mismatch: paid %(paid)s, order total %(total)s"),
    N_("gateway trade number %(gateway_trade_no)s already settled another order"),
    N_("second payment %(second)s for an order already paid by %(first)s"),
    N_("order is flagged as an anomaly"),
    N_("gateway trade number %(gateway_trade_no)s differs from %(issued)s issued at creation"),
    N_("sent again: #%(id)s answered it (%(verdict)s)"),
    N_("gateway refused: %(detail)s"),
    N_("channel kind %(kind)s is not installed"),
    N_("channel %(name)s cannot be used: %(problem)s"),
    N_("user %(user)s not found in %(table)s"),
    N_("user %(user)s matches %(rows)s rows of %(table)s: the balance's id column must be unique"),
    N_("no sign"),
    N_("trade_no or trade_status is missing: not an EPay notification"),
    N_("out_trade_no or money is missing"),
    N_("out_trade_no is missing"),
    N_("total_amount is missing"),
    N_("money %(value)s: %(problem)s"),
    N_("total_amount %(value)s: %(problem)s"),
    N_("not a decimal amount"),
    N_("amount too large"),
    N_("more than two decimal places"),
    N_("unsupported content type %(content_type)s"),
    N_("parameters are not valid %(encoding)s text"),
    N_("parameter %(name)s appears more than once"),
    N_("timestamp is missing or not Unix seconds"),
    N_("a signed payment request (%(fields)s), not a notification"),
    N_("signed with %(declared)s; this channel verifies %(expected)s"),
    N_("RSA signature does not verify with the platform public key"),
    N_("MD5 signature does not match the merchant key"),
    N_("RSA2 signature does not verify with the Alipay public key"),
)


@functools.cache
def _patterns() -> tuple[tuple[str, re.Pattern], ...]:
    """(msgid, the regular expression its English form matches), most specific first."""
    compiled = []
    for msgid in TEMPLATES:
        parts = re.split(r"%\((\w+)\)s", msgid)
        regex = "".join(re.escape(part) if i % 2 == 0 else f"(?P<{part}>.+?)" for i, part in enumerate(parts))
        compiled.append((msgid, re.compile(regex, re.DOTALL)))
    return tuple(sorted(compiled, key=lambda pair: -len(pair[0])))


def explain(text: str | None, *, depth: int = 0) -> str:
    """``text`` (a stored outcome or anomaly) in the page's language; unchanged when no template fits."""
    if not text:
        return text or ""
    if text in VERDICT_LABELS:
        return str(VERDICT_LABELS[text])
    for msgid, pattern in _patterns():
        match = pattern.fullmatch(text)
        if match:
            values = {name: explain(value, depth=depth + 1) if depth < 2 else value
                      for name, value in match.groupdict().items()}
            return gettext(msgid, **values)
    return text
