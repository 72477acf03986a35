"""What PanelPay wrote in English, said again in the reader's language: the delivery log's outcomes, the
orders' anomalies, and why a channel's settings were refused (with the form's labels for the field names).

Outcomes and anomalies are stored as PanelPay writes them, in English with the values in place ("amount mismatch: paid 9.00,
order total 10.00"), so the log reads the same whoever wrote it and whatever language it is read in. Each
sentence PanelPay writes is listed here as a template; :func:`explain` finds the one a stored line was made
from and says it again in the page's language, the values as they were. A line no template matches (a channel
kind of another package, a gateway's own words) is shown as stored.
"""
from __future__ import annotations

import functools
import re

from .callback import translate
from .i18n import VERDICT_LABELS


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
    # Why a built-in channel's settings were refused (channels/common.py, epay.py, alipay.py, keys.py, store.py).
    # %(field)s, %(other)s and %(fields)s name settings: they are shown as the form's labels.
    N_("%(field)s must be one of %(choices)s."),
    N_("%(field)s is required."),
    N_("%(field)s is required. %(hint)s"),
    N_("%(field)s %(problem)s. %(hint)s"),
    N_("%(field)s must be an http:// or https:// URL such as %(example)s."),
    N_("%(field)s must not carry credentials or a #fragment; use a plain URL such as %(example)s."),
    N_("%(field)s is required for MD5 signing. %(hint)s"),
    N_("%(field)s is required for RSA signing. %(hint)s"),
    N_("%(field)s is your own merchant public key (the public half of %(other)s), not the platform's. %(hint)s"),
    N_("%(field)s must be the EPay site root, not an API address or a URL with a query; paste e.g. %(example)s"),
    N_("%(field)s is the APP public key (the public half of %(other)s), not Alipay's. %(hint)s"),
    N_("Neither mode is complete: fill %(field)s, or all of %(fields)s. %(hint)s"),
    N_("%(field)s is needed for certificate mode. %(hint)s"),
    N_("%(field)s does not hold the public half of %(other)s. %(hint)s"),
    N_("%(field)s is the app certificate, not Alipay's. %(hint)s"),
    N_("%(field)s cannot be trusted: %(problem)s. Paste the certificates the Alipay console issued together "
       "(应用公钥证书, 支付宝公钥证书, 支付宝根证书). %(hint)s"),
    N_("unknown field for this kind"),
    N_("unknown channel kind; use one of %(kinds)s"),
    N_("Must be text or a number."),
    N_("Enter it again: %(fields)s changed, and a secret is only ever sent where it was entered for."),
    N_("Paste the EPay site root, e.g. https://pay.example.net/"),
    N_("Paste the merchant ID (商户ID) shown in the EPay merchant panel."),
    N_("Paste the merchant key (商户密钥) from the EPay merchant panel (API信息), or choose RSA signing."),
    N_("Paste the merchant private key (商户私钥) you generated in the EPay merchant panel (API信息), as PEM or "
       "bare base64."),
    N_("Paste the platform public key (平台公钥) shown in the EPay merchant panel (API信息), as PEM or bare base64."),
    N_("Use https://openapi.alipay.com/gateway.do (production) or "
       "https://openapi-sandbox.dl.alipaydev.com/gateway.do (sandbox)."),
    N_("Paste the APPID shown in the Alipay open platform console."),
    N_("Paste the app private key (应用私钥) made with Alipay's key tool, as PEM or bare base64."),
    N_("Paste the Alipay public key (支付宝公钥) shown in the Alipay open platform console (接口加签方式), as PEM or "
       "bare base64."),
    N_("Paste the app public-key certificate (appCertPublicKey_<APPID>.crt) issued for the app private key."),
    N_("Paste the Alipay public-key certificate (alipayCertPublicKey_RSA2.crt)."),
    N_("Paste the Alipay root certificate (alipayRootCert.crt), the whole file."),
    N_("is empty"),
    N_("has a PEM header without a matching footer"),
    N_("holds no base64 data"),
    N_("is not valid base64"),
    N_("is not an RSA private key (PKCS#1 or PKCS#8)"),
    N_("is a public key; paste the private key here"),
    N_("is not an RSA private key"),
    N_("is shorter than 1024 bits"),
    N_("is not an RSA public key (SPKI or PKCS#1)"),
    N_("is a private key; paste the public key here"),
    N_("is not an RSA public key"),
    N_("is not a PEM certificate (-----BEGIN CERTIFICATE-----)"),
    N_("holds a certificate that cannot be read"),
    N_("holds no certificate that can be read"),
    N_("holds no RSA root certificate"),
    N_("certificate does not hold an RSA key"),
    N_("it was not issued by the Alipay root certificate"),
    N_("its chain to the Alipay root certificate cannot be followed"),
)

#: The placeholders that name a setting (a comma-separated list for ``fields``).
_SETTING_NAMES = ("field", "other", "fields")


@functools.cache
def _patterns() -> tuple[tuple[str, re.Pattern], ...]:
    """(msgid, the regular expression its English form matches), most specific first."""
    compiled = []
    for msgid in TEMPLATES:
        parts = re.split(r"%\((\w+)\)s", msgid)
        regex = "".join(re.escape(part) if i % 2 == 0 else f"(?P<{part}>.+?)" for i, part in enumerate(parts))
        compiled.append((msgid, re.compile(regex, re.DOTALL)))
    return tuple(sorted(compiled, key=lambda pair: -len(pair[0])))


def explain(text: str | None, labels: dict[str, str] | None = None, *, depth: int = 0) -> str:
    """``text`` (a stored outcome or anomaly, a refusal of settings) in the page's language; unchanged when
    no template fits. ``labels``: a setting's key → the label its form shows, for the names of settings."""
    if not text:
        return text or ""
    if text in VERDICT_LABELS:
        return str(VERDICT_LABELS[text])
    for msgid, pattern in _patterns():
        match = pattern.fullmatch(text)
        if match:
            values = {name: _value(name, value, labels, depth) for name, value in match.groupdict().items()}
            return translate(msgid, **values)
    return text


def _value(name: str, value: str, labels: dict[str, str] | None, depth: int) -> str:
    if name in _SETTING_NAMES and labels:
        return ", ".join(labels.get(key.strip(), key.strip()) for key in value.split(","))
    return explain(value, labels, depth=depth + 1) if depth < 2 else value
