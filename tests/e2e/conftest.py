"""Fixtures of the browser tests (tests/e2e/pages.py holds the helpers)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser

from tests.e2e.pages import PAGE_PROBLEMS, chromium


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as instance:
        yield instance


@pytest.fixture(autouse=True)
def no_page_problems() -> Iterator[None]:
    PAGE_PROBLEMS.clear()
    yield
    assert PAGE_PROBLEMS == []
