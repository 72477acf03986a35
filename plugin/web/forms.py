"""The settings page's forms.

Every POST of the settings page carries a Flask-WTF CSRF token (:class:`ActionForm`). A channel's form is
generated from ``plugin.yaml``: the fields shared by every channel, then the kind's own config fields, each
described by a :class:`FieldView` that the template renders. Values are checked where the JSON API checks
them — the shared fields by the API's own schema, the config by the channel kind through ``store`` — so a
form and an API call can never disagree about what is valid.

Secrets are write-only: a :class:`FieldView` of a secret never carries a value, only whether one is stored.
"""
from __future__ import annotations

from dataclasses import dataclass

from flask_wtf import FlaskForm
from marshmallow import ValidationError

from ..i18n import gettext as _
from ..money import format_money
from ..schemas import ChannelIn, ChannelPatch
from ..store import MASK

#: The HTML name prefix of a kind's config fields (``config.gateway``), matching the API's error keys.
CONFIG = "config."
#: Where errors that belong to no single field are kept.
FORM = "_form"

_WIDGETS = {"boolean": "checkbox", "choice": "select", "text": "textarea"}
_INPUT_MODES = {"money": "decimal", "percent": "decimal", "integer": "numeric", "url": "url"}
#: Shared fields whose blank value means "none" rather than the manifest default.
_NULLABLE = ("notify_domain", "max_amount")


class ActionForm(FlaskForm):
    """A form with no fields of its own: the CSRF token every settings-page POST carries."""


class FormInvalid(ValueError):
    """Submitted channel values that cannot be saved; ``fields``: HTML name → messages."""

    def __init__(self, fields: dict[str, list[str]]):
        super().__init__("; ".join(f"{k}: {' '.join(v)}" for k, v in fields.items()))
        self.fields = fields


@dataclass(frozen=True)
class FieldView:
    """One generated form field, ready to render. A secret's ``value`` is always empty."""

    name: str
    label: str
    widget: str  # text, password, textarea, select, checkbox
    value: str = ""
    help: str | None = None
    choices: tuple = ()
    presets: tuple = ()
    required: bool = False
    secret_set: bool = False
    errors: tuple = ()
    input_mode: str | None = None
    #: (the HTML name of the field it depends on, the values that show it), or None: always shown.
    when: tuple | None = None

    @property
    def id(self) -> str:
        return "pp-f-" + self.name.replace(".", "-")


def localised(text: dict | None, locale: str) -> str | None:
    """The manifest's text in ``locale`` (its ``en`` and ``zh-CN`` entries), English as the fallback."""
    if not text:
        return None
    return text.get("zh-CN" if locale.startswith("zh") else "en") or text.get("en")


def _view(spec, name: str, locale: str, value: str, errors: dict, secret_set: bool = False) -> FieldView:
    when = None
    if spec.when:
        ((key, shown_for),) = spec.when.items()
        when = (name[: len(name) - len(spec.key)] + key, " ".join(shown_for))
    widget = "password" if spec.secret else _WIDGETS.get(spec.type, "text")
    return FieldView(
        name=name,
        label=spec.label_for(locale),
        widget=widget,
        value="" if spec.secret else value,
        help=localised(spec.help, locale),
        choices=tuple((str(c), str(c) if c != "" else _("(none)")) for c in spec.choices),
        presets=tuple(str(p) for p in spec.presets),
        required=spec.required and not (spec.secret and secret_set),
        secret_set=secret_set,
        errors=tuple(errors.get(name, ())),
        input_mode=_INPUT_MODES.get(spec.type),
        when=when,
    )


def default_values(manifest, kind: str) -> dict[str, str]:
    """The form of a new channel: every field at its manifest default, the channel enabled."""
    values = {f.key: _text(f.default) for f in manifest.channel_fields}
    values.update({CONFIG + f.key: _text(f.default) for f in manifest.kind_fields(kind) if not f.secret})
    values["enabled"] = "y"
    return values


def row_values(manifest, row, masked: dict) -> tuple[dict[str, str], set[str]]:
    """The form of a stored channel, and which of its secrets are set (their values never leave)."""
    values = {f.key: _text(getattr(row, f.key, None)) for f in manifest.channel_fields}
    values["enabled"] = "y" if row.enabled else ""
    secrets_set = set()
    for spec in manifest.kind_fields(row.kind):
        if spec.secret:
            if masked.get(spec.key) == MASK:
                secrets_set.add(spec.key)
        else:
            values[CONFIG + spec.key] = _text(masked.get(spec.key, spec.default))
    return values, secrets_set


def submitted_values(manifest, kind: str, formdata) -> dict[str, str]:
    """The posted values by HTML name (secrets included: they go to the store, never back to the page)."""
    names = [f.key for f in manifest.channel_fields] + [CONFIG + f.key for f in manifest.kind_fields(kind)]
    values = {name: formdata.get(name, "") for name in names}
    values["enabled"] = "y" if formdata.get("enabled") else ""
    for spec in manifest.kind_fields(kind):
        if spec.type == "boolean":
            values[CONFIG + spec.key] = "y" if formdata.get(CONFIG + spec.key) else ""
    return values


def field_views(manifest, kind: str, locale: str, values: dict, errors: dict,
                secrets_set: set) -> tuple[list[FieldView], list[FieldView]]:
    """(shared fields, the kind's config fields) for the template, in the manifest's order."""
    shared = [_view(f, f.key, locale, values.get(f.key, ""), errors) for f in manifest.channel_fields]
    config = [_view(f, CONFIG + f.key, locale, values.get(CONFIG + f.key, ""), errors, f.key in secrets_set)
              for f in manifest.kind_fields(kind)]
    return shared, config


def channel_values(manifest, kind: str, values: dict, *, creating: bool) -> dict:
    """Turn posted values into what ``store.save_channel`` takes; raise :class:`FormInvalid`.

    The shared fields go through the JSON API's schema (blank means the manifest default, or none for
    the optional domain and maximum); the config is passed on as typed (a blank secret keeps the stored
    one) for the channel kind to check when saving.
    """
    errors: dict[str, list[str]] = {}
    data: dict = {"enabled": bool(values.get("enabled"))}
    for spec in manifest.channel_fields:
        raw = (values.get(spec.key) or "").strip()
        if not raw and spec.required:
            errors[spec.key] = [_("This field is required.")]
        elif not raw:
            data[spec.key] = None if spec.key in _NULLABLE else spec.default
        else:
            data[spec.key] = raw
    if creating:
        data["kind"] = kind
    try:
        loaded = (ChannelIn() if creating else ChannelPatch()).load(data)
    except ValidationError as exc:
        messages = exc.messages if isinstance(exc.messages, dict) else {FORM: exc.messages}
        for key, found in messages.items():
            errors.setdefault(key if key in values else FORM, []).extend(_flatten(found))
        loaded = None
    if errors:
        raise FormInvalid(errors)
    loaded["config"] = config_values(manifest, kind, values)
    return loaded


def config_values(manifest, kind: str, values: dict) -> dict:
    """The kind's config as posted, keyed as the store takes it (a blank secret keeps the stored one)."""
    config = {}
    for spec in manifest.kind_fields(kind):
        raw = values.get(CONFIG + spec.key, "")
        config[spec.key] = ("true" if raw else "false") if spec.type == "boolean" else raw
    return config


def config_errors(fields: dict[str, list[str]]) -> dict[str, list[str]]:
    """A ``ConfigInvalid``'s messages keyed by the form's HTML names (``kind`` goes to the whole form)."""
    return {(FORM if key == "kind" else CONFIG + key): list(found) for key, found in fields.items()}


def _flatten(found) -> list[str]:
    if isinstance(found, dict):
        return [m for value in found.values() for m in _flatten(value)]
    if isinstance(found, (list, tuple)):
        return [str(m) for m in found]
    return [str(found)]


def _text(value) -> str:
    """A stored value as a form shows it: money with two decimals, None as blank."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "y" if value else ""
    if hasattr(value, "quantize"):
        return format_money(value)
    return str(value)
