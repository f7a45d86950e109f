"""Headless Chromium from Debian's packages, driven by Selenium through Debian's chromedriver.

Waits are explicit (poll the rendered text until it matches, with a generous deadline) because the
machine is a loaded 2-core box and the Dagster UI renders asynchronously after every navigation.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from selenium import webdriver
from selenium.common.exceptions import TimeoutException, WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.chrome.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

from torghut_sim.devstack.apt import ensure_packages

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
# Without the background-networking flags Chromium dials out at start and the closed network refuses it.
CHROMIUM_FLAGS: tuple[str, ...] = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1920,1080",
)
PAGE_TIMEOUT = 90.0

T = TypeVar("T")


def ensure_chromium() -> None:
    """Install Debian's chromium and chromium-driver when they are missing."""
    ensure_packages({"chromium": CHROMIUM, "chromium-driver": CHROMEDRIVER})


@contextmanager
def headless_chromium(profile_dir: Path) -> Iterator[WebDriver]:
    """A headless Chromium with a fresh profile, quit on exit."""
    ensure_chromium()
    # The driver is given explicitly; offline mode makes sure Selenium Manager never fetches one.
    os.environ.setdefault("SE_OFFLINE", "true")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={profile_dir}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(PAGE_TIMEOUT)
    try:
        yield driver
    finally:
        driver.quit()


def page_text(driver: WebDriver) -> str:
    """The rendered text of the page (innerText, so only what a reader sees)."""
    text = driver.execute_script("return document.body ? document.body.innerText : ''")
    return str(text or "")


def wait_until(driver: WebDriver, probe: Callable[[WebDriver], T | None], timeout: float, what: str) -> T:
    """Poll `probe` until it returns a truthy value; fail with the page text when it never does."""
    try:
        found = WebDriverWait(driver, timeout, poll_frequency=0.5).until(probe)
    except TimeoutException:
        excerpt = page_text(driver)[:2000]
        raise AssertionError(
            f"timed out after {timeout:.0f}s waiting for {what}; page text:\n{excerpt}"
        ) from None
    assert found is not None  # `until` returns only a truthy value
    return found


def wait_for_texts(driver: WebDriver, texts: Sequence[str], timeout: float = PAGE_TIMEOUT) -> str:
    """Wait until every text is rendered; the page text then."""

    def probe(d: WebDriver) -> str | None:
        body = page_text(d)
        return body if all(t in body for t in texts) else None

    return wait_until(driver, probe, timeout, f"texts {list(texts)}")


def open_page(
    driver: WebDriver, url: str, expect: Sequence[str], attempts: int = 3, timeout: float = PAGE_TIMEOUT
) -> str:
    """Load `url` until `expect` renders, reloading a page that stalls; the page text then."""
    last: BaseException | None = None
    for attempt in range(1, attempts + 1):
        try:
            driver.get(url)
            found = wait_for_texts(driver, expect, timeout)
            assert_no_signup_dialog(driver)
        except (AssertionError, WebDriverException) as exc:
            last = exc
            time.sleep(min(2.0 * attempt, 5.0))  # back off before reloading, not an assertion
        else:
            return found
    raise AssertionError(f"{url} never rendered {list(expect)} in {attempts} attempts: {last}")


def assert_no_signup_dialog(driver: WebDriver) -> None:
    """The project's instance (`nux: enabled: false`) opens the UI with no community sign-up dialog."""
    shown = [
        button
        for button in driver.find_elements("xpath", "//div[@role='dialog']//button[normalize-space()='Skip']")
        if button.is_displayed()
    ]
    assert not shown, "the community sign-up dialog covers the page"
