"""PanelPay's catalogues: every committed .mo is the compiled form of the .po beside it, and every
message of the template is translated. (No browser needed.)"""
from __future__ import annotations

import io
from pathlib import Path

import pytest
from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import read_po

TRANSLATIONS = Path(__file__).resolve().parents[2] / "plugin" / "translations"
CATALOGUES = sorted(TRANSLATIONS.glob("*/LC_MESSAGES/panelpay.po"))


def _messages(catalog) -> dict:
    return {message.id: message.string for message in catalog if message.id and message.string}


def test_there_is_a_chinese_catalogue():
    assert [p.parts[-3] for p in CATALOGUES] == ["zh_Hans_CN"]


@pytest.mark.parametrize("po_path", CATALOGUES, ids=lambda p: p.parts[-3])
def test_the_committed_mo_matches_its_po(po_path):
    with po_path.open("rb") as handle:
        source = read_po(handle)
    compiled = io.BytesIO()
    write_mo(compiled, source)
    compiled.seek(0)
    mo_path = po_path.with_suffix(".mo")
    assert mo_path.exists(), f"{mo_path} is missing: run pybabel compile -d plugin/translations -D panelpay"
    with mo_path.open("rb") as handle:
        committed = read_mo(handle)
    assert _messages(committed) == _messages(read_mo(compiled)), (
        f"{mo_path.name} is stale: run pybabel compile -d plugin/translations -D panelpay")


@pytest.mark.parametrize("po_path", CATALOGUES, ids=lambda p: p.parts[-3])
def test_every_message_is_translated(po_path):
    with (TRANSLATIONS / "panelpay.pot").open("rb") as handle:
        template = {m.id for m in read_po(handle) if m.id}
    with po_path.open("rb") as handle:
        catalog = read_po(handle)
    translated = {m.id for m in catalog if m.id and m.string and not m.fuzzy}
    assert template - translated == set(), "untranslated: run pybabel update, then translate"


def test_the_template_holds_every_message_the_code_marks():
    """A message marked in the code but missing from panelpay.pot would never be translated: extract
    afresh, as the babel.cfg header says, and compare."""
    from babel.messages import frontend
    from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir

    root = TRANSLATIONS.parents[1]
    parse = getattr(frontend, "parse_mapping_cfg", None) or frontend.parse_mapping
    with (TRANSLATIONS / "babel.cfg").open() as handle:
        method_map, options_map = parse(handle)
    keywords = {**DEFAULT_KEYWORDS, "_pp": None, "lazy_gettext": None, "N_": None}
    marked = {message if isinstance(message, str) else message[0]
              for _, _, message, _, _ in extract_from_dir(str(root), method_map, options_map, keywords=keywords)}
    with (TRANSLATIONS / "panelpay.pot").open("rb") as handle:
        template = {m.id if isinstance(m.id, str) else m.id[0] for m in read_po(handle) if m.id}
    assert marked - template == set(), "run the pybabel extract/update/compile lines at the top of babel.cfg"
