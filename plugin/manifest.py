"""The plugin manifest, ``plugin.yaml``: the single source of the settings page's and the built-in channel
kinds' fields. A kind registered from outside the package brings its own fields in the same shape
(:attr:`panelpay.channels.base.Channel.manifest`); each app's manifest holds the kinds it has."""
from __future__ import annotations

from dataclasses import dataclass, replace
from functools import lru_cache
from importlib import resources
from typing import Any

import yaml


@dataclass(frozen=True)
class Field:
    """One configurable field as the manifest declares it."""

    key: str
    type: str
    label: dict
    default: Any = ""
    required: bool = False
    secret: bool = False
    choices: tuple = ()
    presets: tuple = ()
    help: dict | None = None
    #: Shown only while another field of the same form has one of some values: ``{"sign_type": ["RSA"]}``.
    when: dict | None = None

    def label_for(self, locale: str) -> str:
        return self.label.get("zh-CN" if locale.startswith("zh") else "en") or self.key


@dataclass(frozen=True)
class Manifest:
    name: str
    code: str
    version: str
    entry: str
    url_prefix: str
    description: dict
    plugin_fields: tuple
    channel_fields: tuple
    kinds: dict  # kind -> {"label": {...}, "fields": (Field, ...)}

    def kind_fields(self, kind: str) -> tuple:
        return self.kinds[kind]["fields"]

    def secret_keys(self, kind: str) -> frozenset:
        return frozenset(f.key for f in self.kind_fields(kind) if f.secret)

    def defaults(self, kind: str) -> dict:
        return {f.key: f.default for f in self.kind_fields(kind)}

    def with_kinds(self, kinds: dict) -> "Manifest":
        """This manifest describing exactly ``kinds`` (kind → ``{"label", "fields"}``), in that order."""
        return replace(self, kinds=dict(kinds))


def _field(spec: dict) -> Field:
    return Field(
        key=spec["key"],
        type=spec.get("type", "string"),
        label=spec.get("label", {}),
        default=spec.get("default", ""),
        required=bool(spec.get("required", False)),
        secret=bool(spec.get("secret", False)),
        choices=tuple(spec.get("choices", ())),
        presets=tuple(spec.get("presets", ())),
        help=spec.get("help"),
        when={key: [str(v) for v in (values if isinstance(values, list) else [values])]
              for key, values in spec["when"].items()} if spec.get("when") else None,
    )


def parse_manifest(text: str) -> Manifest:
    doc = yaml.safe_load(text)
    settings = doc["settings"]
    return Manifest(
        name=doc["name"],
        code=doc["code"],
        version=str(doc["version"]),
        entry=doc["entry"],
        url_prefix=doc.get("url_prefix", "/payment"),
        description=doc.get("description", {}),
        plugin_fields=tuple(_field(s) for s in settings["plugin"]),
        channel_fields=tuple(_field(s) for s in settings["channel"]),
        kinds={kind: parse_kind(spec) for kind, spec in settings["kinds"].items()},
    )


def parse_kind(spec: dict) -> dict:
    """One kind's ``{"label": {...}, "fields": [...]}`` as the manifest holds it (fields as :class:`Field`)."""
    return {"label": spec.get("label", {}), "fields": tuple(_field(s) for s in spec["fields"])}


@lru_cache(maxsize=1)
def load_manifest() -> Manifest:
    """The manifest shipped with the package (``plugin.yaml`` at the project root)."""
    return parse_manifest(resources.files("panelpay").joinpath("plugin.yaml").read_text(encoding="utf-8"))
