"""The audit UI in a real headless browser (Debian's chromium driven by Playwright): sign in, search,
open a timeline, export; the GHT administrator then finds the export in the access log. Screenshots
go to .mss/screenshots/ (or $MSS_SCREENSHOTS)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from mss.testing.audit_site import PASSWORD, Site
from mss.tracing.export import check
from playwright.async_api import Browser, Page, async_playwright, expect

pytestmark = pytest.mark.integration

CHROMIUM = os.environ.get("MSS_CHROMIUM", "/usr/bin/chromium")
SCREENSHOTS = Path(os.environ.get("MSS_SCREENSHOTS", Path(__file__).parents[2] / ".mss" / "screenshots"))
QUIET = [  # this machine has no Internet: keep chromium from calling home
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    """Debian's chromium; the test is skipped without it, and fails without it in CI
    (MSS_REQUIRE_CHROMIUM=1)."""
    if not Path(CHROMIUM).exists():
        problem = f"{CHROMIUM} is missing (Debian package 'chromium')"
        if os.environ.get("MSS_REQUIRE_CHROMIUM") == "1":
            pytest.fail(problem)
        pytest.skip(problem)
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=QUIET)
        try:
            yield browser
        finally:
            await browser.close()


async def sign_in(page: Page, site: Site, who: str, password: str = PASSWORD) -> None:
    await page.goto(f"{site.url}/")
    await page.get_by_label("Login").fill(site.login(who))
    await page.get_by_label("Password").fill(password)
    await page.get_by_role("button", name="Sign in").click()


async def test_an_auditor_searches_opens_a_timeline_and_exports(
    audit_site: Site, browser: Browser, tmp_path: Path
) -> None:
    site = audit_site
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page = await browser.new_page(accept_downloads=True)
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)

    await sign_in(page, site, "dpo-a", "not the password")
    await expect(page.locator("#sign-in-error")).to_have_text("Wrong login or password.")
    await sign_in(page, site, "dpo-a")
    await expect(page.locator("#who")).to_have_text(f"{site.login('dpo-a')} (auditor)")

    await page.get_by_label("Sender").fill(site.sender)
    await page.get_by_role("button", name="Search").click()
    rows = page.locator("#results tbody tr")
    await expect(rows).to_have_count(1)
    await expect(rows.first).to_contain_text(site.one)
    await expect(page.locator("#results")).not_to_contain_text(site.two)
    await page.screenshot(path=SCREENSHOTS / "audit-search.png", full_page=True)

    await page.get_by_text(site.one).click()
    events = page.locator("#events tbody tr")
    await expect(events).to_have_count(6)
    await expect(events.last).to_contain_text("RELAYED")
    await expect(events.last).to_contain_text("TLSv1.3")
    await expect(page.locator("#recipients")).to_contain_text("DELIVERED")
    await page.screenshot(path=SCREENSHOTS / "audit-timeline.png", full_page=True)

    await page.get_by_role("button", name="← Results").click()
    await page.get_by_label(f"select {site.one}").check()
    await page.get_by_label("Purpose of the audit request").fill("DPO request 17")
    async with page.expect_download() as download_info:
        await page.get_by_role("button", name="Export selected (signed JSON + CSV)").click()
    download = await download_info.value
    saved = tmp_path / download.suggested_filename
    await download.save_as(saved)
    manifest = check(saved.read_bytes(), site.public_pem)
    assert (manifest["messages"], manifest["purpose"]) == ([site.one], "DPO request 17")
    await expect(page.locator("#export-status")).to_contain_text("Exported 1 message(s)")
    await page.get_by_role("button", name="Sign out").click()
    await expect(page.locator("#sign-in")).to_be_visible()

    await sign_in(page, site, "admin")
    await page.get_by_role("button", name="Access log").click()
    log = page.locator("#log-entries tbody")
    await expect(log).to_contain_text("DPO request 17")
    await expect(log).to_contain_text(site.login("dpo-a"))
    await page.screenshot(path=SCREENSHOTS / "audit-access-log.png", full_page=True)
    assert [e for e in errors if "401 (Unauthorized)" not in e] == []  # the wrong password's 401 only


async def test_support_gets_no_patient_search_and_no_export(audit_site: Site, browser: Browser) -> None:
    page = await browser.new_page()
    await sign_in(page, audit_site, "support-a")
    await expect(page.locator("#who")).to_contain_text("(support)")
    await expect(page.get_by_label("Patient (INS)")).to_be_hidden()
    await expect(page.locator("#export-form")).to_be_hidden()
    await expect(page.get_by_role("button", name="Access log")).to_be_hidden()
