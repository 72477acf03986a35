"""The README's screenshot script keeps working (run into a temporary folder, not docs/)."""
from __future__ import annotations

import pytest

from tests.browser.screenshots import take_screenshots

pytestmark = pytest.mark.browser


def test_the_screenshot_script_writes_its_pngs(browser, demo, tmp_path):
    shots = take_screenshots(browser, demo.base_url, tmp_path)
    assert [p.name for p in shots] == ["checkout.png", "order-qr.png", "settings.png", "merchant.png", "cashier.png"]
    for path in shots:
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
