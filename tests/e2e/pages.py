"""What the browser tests share: Chromium, logging in to a page while watching it for script
errors and refused content, and screenshots in both languages.

Set CALLCENTER_SHOTS to a folder to keep screenshots of the pages in both languages.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from playwright.sync_api import Browser, Page, sync_playwright

from tests.service_proc import ServiceProcess
from tests.supervisor.helpers import PASSWORD

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SHOTS = os.environ.get("CALLCENTER_SHOTS")

# What the pages did wrong in the browser: a script error, or anything the Content Security
# Policy refused (an inline style or script would be). Every test ends with none (conftest).
PAGE_PROBLEMS: list[str] = []


@contextlib.contextmanager
def chromium() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield instance
        finally:
            instance.close()


def watch(page: Page, where: str) -> None:
    """Script errors and refused content of the page go to PAGE_PROBLEMS."""
    page.on("pageerror", lambda error: PAGE_PROBLEMS.append(f"{where}: {error}"))
    page.on(
        "console",
        lambda message: (
            PAGE_PROBLEMS.append(f"{where}: {message.text}")
            if "Content Security Policy" in message.text
            else None
        ),
    )


def log_in(
    browser: Browser,
    service: ServiceProcess,
    path: str,
    username: str,
    clock_ahead: timedelta | None = None,
) -> Page:
    """A new browser context on ``path``, watched, with the login form sent."""
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    if clock_ahead is not None:
        # The page's Date runs this far ahead of the server's (timers run as usual).
        context.clock.install(time=datetime.now(UTC) + clock_ahead)
        context.clock.resume()
    page = context.new_page()
    watch(page, path)
    page.goto(service.base_url + path)
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("#login-form button[type=submit]")
    return page


def shoot(page: Page, name: str, reopen: Callable[[], object] | None = None) -> None:
    """Screenshots of the page in its language and in the other one (back again after). An
    open dialog is closed for the language button and opened again by ``reopen``."""
    if not SHOTS:
        return
    folder = Path(SHOTS)
    folder.mkdir(parents=True, exist_ok=True)
    for _ in range(2):
        lang = page.evaluate("document.documentElement.lang")
        page.wait_for_timeout(300)
        page.screenshot(path=str(folder / f"{name}-{lang}.png"), full_page=True)
        if reopen is not None:
            page.keyboard.press("Escape")
        page.click("#lang")
        if reopen is not None:
            reopen()
    page.wait_for_timeout(300)
