"""Fixtures of the browser tests (tests/e2e/pages.py holds the helpers)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, expect

from tests.e2e.pages import PAGE_PROBLEMS, chromium

# What a page shows after a round trip to the service (or a PBX event) can take more than
# Playwright's default 5 s on a loaded 2-core CI machine; a thing that never shows still fails.
expect.set_options(timeout=10_000)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as instance:
        yield instance


@pytest.fixture(autouse=True)
def no_page_problems() -> Iterator[None]:
    PAGE_PROBLEMS.clear()
    yield
    assert PAGE_PROBLEMS == []
