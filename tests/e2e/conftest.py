from __future__ import annotations

import pytest

from tests.e2e.browser import browser_page, chromium_path, dashboard


@pytest.fixture
def served(tmp_path):
    if chromium_path() is None:
        pytest.fail("Chromium is missing: install Debian's chromium (see the README's test command)")
    with dashboard(tmp_path / "ws") as url, browser_page() as page:
        yield url, page, tmp_path / "ws"
