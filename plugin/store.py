"""Reading and writing channels and plugin settings, and building channel objects from their rows."""
from __future__ import annotations

import json
import secrets as _secrets
from typing import Any

from flask import has_request_context
from flask_babel import get_locale
from sqlalchemy import func, select

from .channels.base import Channel as ChannelImpl
from .channels.base import ConfigInvalid, GatewayError
from . import outbound
from .models import Channel, Order, Setting, utcnow
from .outcomes import explain
from .vault import SecretsUnreadable

#: Plugin-wide settings and their defaults.
SETTING_DEFAULTS = {"enabled": True, "callback_domain": None}
MASK = "********"


class NotFound(LookupError):
    """No such row (or not visible to the caller)."""


def get_settings(state, session=None) -> dict:
    """The plugin settings (``enabled``, ``callback_domain``) with defaults filled in."""
    own = session is None
    session = session or state.session()
    try:
        rows = session.execute(select(Setting)).scalars().all()
    finally:
        if own:
            session.close()
    values = dict(SETTING_DEFAULTS)
    values.update({row.key: json.loads(row.value) for row in rows if row.key in SETTING_DEFAULTS})
    return values


def put_settings(state, changes: dict) -> dict:
    """Write the given settings in one transaction and return all of them."""
    with state.session() as session, session.begin():
        for key, value in changes.items():
            row = session.get(Setting, key)
            if row is None:
                session.add(Setting(key=key, value=json.dumps(value)))
            else:
                row.value = json.dumps(value)
    return get_settings(state)


def new_uuid() -> str:
    """A channel's uuid: 16 random hex characters, the notify path segment."""
    return _secrets.token_hex(8)


class ChannelUnavailable(GatewayError):
    """A channel whose stored config cannot be used now (its secrets were sealed with another key, or
    its config no longer validates): nothing can be verified or asked until an operator fixes it."""

    def __init__(self, message: str):
        super().__init__(message, transient=False, code="channel_unavailable")


def channel_impl(state, row: Channel) -> ChannelImpl:
    """The channel object of a row, built once per revision (its parsed keys are cached with it).
    Raises :class:`ChannelUnavailable` when the stored config cannot be used."""

    def build() -> ChannelImpl:
        cls = state.channel_kinds.get(row.kind)
        if cls is None:
            raise ChannelUnavailable(f"channel kind {row.kind!r} is not installed")
        try:
            config = {**row.public_config(), **state.vault.open(row.secrets)}
            return cls(config, http=state.http_for(row.uuid), timeout=state.settings.http_timeout)
        except (SecretsUnreadable, ConfigInvalid) as exc:
            raise ChannelUnavailable(f"channel {row.name!r} cannot be used: {exc}") from exc

    return state.cached_channel(row, build)


def gateway_urls(state, row: Channel) -> list[str]:
    """Where a channel's requests go: the values of its kind's URL fields (as ``plugin.yaml`` or the kind's
    manifest declares them), in field order."""
    if row.kind not in state.manifest.kinds:
        return []
    config = row.public_config()
    return [str(config[f.key]) for f in state.manifest.kind_fields(row.kind) if f.type == "url" and config.get(f.key)]


def full_config(state, row: Channel) -> dict:
    return {**row.public_config(), **state.vault.open(row.secrets)}


def masked_config(state, row: Channel) -> dict:
    """The config as the admin API shows it: secret fields masked (``********`` when set, else ``""``)."""
    secret_keys = state.manifest.secret_keys(row.kind)
    stored = state.vault.open(row.secrets)
    config = row.public_config()
    for key in secret_keys:
        config[key] = MASK if stored.get(key) else ""
    return config


def clean_channel_config(state, kind: str, incoming: dict, previous: Channel | None) -> tuple[dict, dict]:
    """Validate a channel config for saving; returns (public, secret) parts. Raises ConfigInvalid, its
    messages in the page's language with the settings named by the form's labels.

    A blank or masked secret keeps the stored value (secrets are write-only), so editing a channel's name
    does not require pasting its keys again. Changing where the channel's requests go (any of its URL
    fields) does: a secret is only ever sent where it was entered for.
    """
    try:
        return _clean_channel_config(state, kind, incoming, previous)
    except ConfigInvalid as exc:
        labels = setting_labels(state, kind)
        raise ConfigInvalid({key: [explain(message, labels) for message in messages]
                             for key, messages in exc.fields.items()}) from None


def setting_labels(state, kind: str) -> dict[str, str]:
    """A kind's setting keys → the labels its form shows, in the page's language (English outside a request)."""
    if kind not in state.channel_kinds:
        return {}
    chinese = has_request_context() and str(get_locale() or "").startswith("zh")
    return {f.key: f.label_for("zh_CN" if chinese else "en") for f in state.manifest.kind_fields(kind)}


def _clean_channel_config(state, kind: str, incoming: dict, previous: Channel | None) -> tuple[dict, dict]:
    if kind not in state.channel_kinds:
        raise ConfigInvalid({"kind": [f"unknown channel kind; use one of {', '.join(sorted(state.channel_kinds))}"]})
    fields = {f.key: f for f in state.manifest.kind_fields(kind)}
    unknown = sorted(set(incoming) - set(fields))
    if unknown:
        raise ConfigInvalid({key: ["unknown field for this kind"] for key in unknown})
    shapeless = {key: ["Must be text or a number."] for key, value in incoming.items()
                 if isinstance(value, (dict, list, tuple))}
    if shapeless:
        raise ConfigInvalid(shapeless)
    stored = full_config(state, previous) if previous is not None else {}
    merged: dict[str, Any] = {}
    for key, spec in fields.items():
        value = incoming.get(key)
        if spec.secret and value in (None, "", MASK):
            value = stored.get(key, "")
        elif value is None:
            value = stored.get(key, spec.default)
        if not isinstance(value, str):
            value = "" if value is None else str(value)
        merged[key] = value
    cleaned = state.channel_kinds[kind].clean_config(merged)
    refused = {key: [f"PanelPay does not call this address: {outbound.explain(reason, outbound.host_text(cleaned[key]))}."]
               for key, spec in fields.items() if spec.type == "url" and cleaned.get(key)
               and (reason := outbound.url_refusal(cleaned[key], allow_private=state.settings.allow_private_urls))}
    if refused:
        raise ConfigInvalid(refused)
    moved = [key for key, spec in fields.items() if spec.type == "url" and previous is not None
             and str(cleaned.get(key, "")).rstrip("/") != str(stored.get(key, "")).rstrip("/")]
    if moved:
        kept = {key: [f"Enter it again: {', '.join(moved)} changed, and a secret is only ever sent where it was "
                      "entered for."]
                for key, spec in fields.items() if spec.secret and stored.get(key) and incoming.get(key) in (None, "", MASK)}
        if kept:
            raise ConfigInvalid(kept)
    secret_keys = state.manifest.secret_keys(kind)
    public = {k: v for k, v in cleaned.items() if k not in secret_keys}
    secret = {k: v for k, v in cleaned.items() if k in secret_keys and v}
    return public, secret


def list_channels(state, *, enabled_only: bool = False) -> list[Channel]:
    with state.session() as session:
        query = select(Channel).order_by(Channel.sort, Channel.id)
        if enabled_only:
            query = query.where(Channel.enabled.is_(True))
        return list(session.execute(query).scalars())


def get_channel(state, uuid: str, session=None) -> Channel:
    if "\x00" in uuid:  # cannot be stored, so cannot be ours; some drivers refuse to even send it
        raise NotFound("no such channel")
    own = session is None
    session = session or state.session()
    try:
        row = session.execute(select(Channel).where(Channel.uuid == uuid)).scalar_one_or_none()
    finally:
        if own:
            session.close()
    if row is None or row.uuid != uuid:  # compared exactly: MySQL's collation ignores case
        raise NotFound("no such channel")
    return row


def save_channel(state, values: dict, previous: Channel | None = None) -> Channel:
    """Create (``previous`` None) or update a channel from validated API values. Raises ConfigInvalid."""
    kind = previous.kind if previous is not None else values["kind"]
    public, secret = clean_channel_config(state, kind, values.get("config") or {}, previous)
    with state.session() as session, session.begin():
        if previous is None:
            row = Channel(uuid=new_uuid(), kind=kind, revision=1, created_at=utcnow())
            session.add(row)
        else:
            row = session.get(Channel, previous.id)
            row.revision = (row.revision or 0) + 1
        row.config = json.dumps(public, sort_keys=True)
        row.secrets = state.vault.seal(secret)
        for key in ("name", "enabled", "notify_domain", "fee_fixed", "fee_percent", "min_amount",
                    "max_amount", "sort"):
            if key in values:
                setattr(row, key, values[key])
        row.updated_at = utcnow()
        session.flush()
        session.refresh(row)
        return row


def delete_channel(state, uuid: str) -> bool:
    """Delete a channel; one with orders is disabled instead (its issued notify paths keep working).
    Returns True when deleted, False when disabled."""
    with state.session() as session, session.begin():
        row = get_channel(state, uuid, session)
        has_orders = session.execute(
            select(func.count()).select_from(Order).where(Order.channel_id == row.id)
        ).scalar_one()
        if has_orders:
            row.enabled = False
            row.revision += 1
            row.updated_at = utcnow()
            return False
        session.delete(row)
        return True
