"""``PANELPAY_*`` configuration: every key, its default, read once in ``init_app`` and validated.

Config is not read again after ``init_app``. A bad value is a startup error that names every bad key
at once, so an operator fixes them in one go.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Callable
from urllib.parse import urlsplit

from .money import MoneyError, parse_money

#: Each key: (default, checker). A checker returns the cleaned value or raises ValueError with a reason.
_Checker = Callable[[Any], Any]


class ConfigError(RuntimeError):
    """One or more ``PANELPAY_*`` keys are invalid; the message names each of them."""

    def __init__(self, problems: dict[str, str]):
        self.problems = problems
        lines = "; ".join(f"{key}: {why}" for key, why in sorted(problems.items()))
        super().__init__(f"PanelPay configuration is invalid: {lines}")


def _prefix(value: Any) -> str:
    if not isinstance(value, str) or not value.startswith("/") or value.endswith("/") or " " in value:
        raise ValueError("must be a path starting with '/' and not ending with '/', e.g. /payment")
    return value


def _optional_url(value: Any) -> str | None:
    if value in (None, ""):
        return None
    parts = urlsplit(str(value))
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError("must be an http(s) URL such as https://panel.example.com")
    return str(value).rstrip("/")


def _login_url(value: Any) -> str | None:
    if value in (None, ""):
        return None
    text = str(value)
    parts = urlsplit(text.replace("{next}", ""))
    local = text.startswith("/") and not text.startswith("//")
    if not local and (parts.scheme not in ("http", "https") or not parts.netloc):
        raise ValueError("must be the host's login page, a path such as /login or an http(s) URL; "
                         "'{next}' marks where the page to come back to goes")
    return text


def _positive_int(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError("must be a positive integer")
    try:
        number = int(value)
    except (TypeError, ValueError) as exc:
        raise ValueError("must be a positive integer") from exc
    if number <= 0:
        raise ValueError("must be a positive integer")
    return number


def _positive_number(value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError) as exc:
        raise ValueError("must be a positive number of seconds") from exc
    if number <= 0:
        raise ValueError("must be a positive number of seconds")
    return number


def _optional_str(value: Any) -> str | None:
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise ValueError("must be a string")
    return value


def _optional_path(value: Any) -> str | None:
    if value in (None, ""):
        return None
    return os.fspath(value)


def _presets(value: Any) -> tuple:
    if isinstance(value, str):
        value = [v for v in value.split(",") if v.strip()]
    try:
        amounts = tuple(parse_money(v) for v in value)
    except (MoneyError, TypeError) as exc:
        raise ValueError("must be a list of amounts such as ['10.00', '50.00']") from exc
    if any(a <= 0 for a in amounts):
        raise ValueError("amounts must be positive")
    return amounts


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("1", "true", "yes", "on", "0", "false", "no", "off", ""):
        return value.lower() in ("1", "true", "yes", "on")
    raise ValueError("must be true or false")


def _csp(value: Any) -> str:
    if value is None or value is False:
        return ""
    if not isinstance(value, str):
        raise ValueError("must be 'default', '' (none: the host sends its own) or a policy string")
    return value.strip()


def _amount(value: Any):
    try:
        amount = parse_money(value)
    except MoneyError as exc:
        raise ValueError("must be an amount such as '50000.00'") from exc
    if amount <= 0:
        raise ValueError("must be more than 0.00")
    return amount


def _symbol(value: Any) -> str:
    if not isinstance(value, str) or len(value) > 8:
        raise ValueError("must be a short text such as '¥' or 'CNY '")
    return value


def _template(value: Any) -> str:
    if not isinstance(value, str) or not value.endswith(".html"):
        raise ValueError("must be a template name such as 'layout.html' with a 'content' block")
    return value


def _locale(value: Any) -> str:
    if value not in ("en", "zh_CN"):
        raise ValueError("must be 'en' or 'zh_CN'")
    return value


#: Every key PanelPay reads, with its default. The README's configuration table mirrors this.
DEFAULTS: dict[str, tuple[Any, _Checker]] = {
    "PANELPAY_URL_PREFIX": ("/payment", _prefix),
    "PANELPAY_SECRET_KEY": (None, _optional_str),
    "PANELPAY_SITE_URL": (None, _optional_url),
    "PANELPAY_LOGIN_URL": (None, _login_url),
    "PANELPAY_ORDER_TTL": (1800, _positive_int),
    "PANELPAY_AMOUNT_PRESETS": (("10.00", "30.00", "50.00", "100.00"), _presets),
    "PANELPAY_MAX_AMOUNT": ("50000.00", _amount),
    "PANELPAY_CURRENCY_SYMBOL": ("¥", _symbol),
    "PANELPAY_HTTP_TIMEOUT": (10.0, _positive_number),
    "PANELPAY_DOCTOR_TIMEOUT": (5.0, _positive_number),
    "PANELPAY_LOCK_TIMEOUT": (5, _positive_int),
    "PANELPAY_MAX_NOTIFY_BYTES": (65536, _positive_int),
    "PANELPAY_MAX_REQUEST_BYTES": (262144, _positive_int),
    "PANELPAY_CONTENT_SECURITY_POLICY": ("default", _csp),
    "PANELPAY_SPOOL_DIR": (None, _optional_path),
    "PANELPAY_ALERT_WEBHOOK": (None, _optional_url),
    "PANELPAY_METRICS_TOKEN": (None, _optional_str),
    "PANELPAY_RECONCILE_WINDOW": (86400, _positive_int),
    "PANELPAY_RECONCILE_CONCURRENCY": (8, _positive_int),
    "PANELPAY_GATEWAY_RATE_LIMIT": (200, _positive_int),
    "PANELPAY_NOTIFY_SILENCE": (3600, _positive_int),
    "PANELPAY_SANDBOX": (False, _bool),
    "PANELPAY_ALLOW_PRIVATE_URLS": (False, _bool),
    "PANELPAY_DELIVER_IN_APP": (True, _bool),
    "PANELPAY_ORDERS_PER_USER": (10, _positive_int),
    "PANELPAY_CHECK_INTERVAL": (10, _positive_int),
    "PANELPAY_REJECTIONS_PER_SOURCE": (20, _positive_int),
    "PANELPAY_SPOOL_MAX_BYTES": (50 * 1024 * 1024, _positive_int),
    "PANELPAY_DEFAULT_LOCALE": ("en", _locale),
    "PANELPAY_BASE_TEMPLATE": ("panelpay/base.html", _template),
}


@dataclass(frozen=True)
class Settings:
    """The validated ``PANELPAY_*`` values of one app (lower-case names without the prefix)."""

    url_prefix: str
    secret_key: str
    site_url: str | None
    login_url: str | None
    order_ttl: int
    amount_presets: tuple
    max_amount: Any
    currency_symbol: str
    http_timeout: float
    doctor_timeout: float
    lock_timeout: int
    max_notify_bytes: int
    max_request_bytes: int
    content_security_policy: str
    spool_dir: str
    alert_webhook: str | None
    metrics_token: str | None
    reconcile_window: int
    reconcile_concurrency: int
    gateway_rate_limit: int
    notify_silence: int
    sandbox: bool
    allow_private_urls: bool
    deliver_in_app: bool
    orders_per_user: int
    check_interval: int
    rejections_per_source: int
    spool_max_bytes: int
    default_locale: str
    base_template: str


def read_settings(app) -> Settings:
    """Read and validate every ``PANELPAY_*`` key of ``app.config``; raise ConfigError naming each bad one."""
    problems: dict[str, str] = {}
    values: dict[str, Any] = {}
    for key, (default, check) in DEFAULTS.items():
        raw = app.config.setdefault(key, default)
        try:
            values[key[len("PANELPAY_"):].lower()] = check(raw)
        except ValueError as exc:
            problems[key] = str(exc)
    unknown = [k for k in app.config if k.startswith("PANELPAY_") and k not in DEFAULTS]
    for key in unknown:
        problems[key] = "unknown setting (check the spelling against the README)"
    secret = values.get("secret_key") or app.config.get("SECRET_KEY")
    if not secret:
        problems["PANELPAY_SECRET_KEY"] = (
            "no key to encrypt channel secrets with: set PANELPAY_SECRET_KEY or the app's SECRET_KEY"
        )
    if problems:
        raise ConfigError(problems)
    values["secret_key"] = secret if isinstance(secret, str) else secret.decode()
    values["spool_dir"] = values["spool_dir"] or os.path.join(app.instance_path, "panelpay-spool")
    return Settings(**values)
