"""In Chromium on a 360x740 phone viewport: log in with a one-time code, switch to Arabic, and
the page is right to left (the attribute and the computed layout). Saves
tests/artifacts/worker-app-arabic.png."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import Browser

from tests.browser import open_page, serve_in_thread
from tests.integration.worker_app.conftest import issue_code

PHONE = {"width": 360, "height": 740}


def test_a_trainee_logs_in_with_a_code_and_reads_the_app_in_arabic(
    browser: Browser, ctx: Any, make_worker: Any
) -> None:
    from engine.api.app import create_app

    worker = make_worker()
    code = issue_code(ctx, worker.handle)
    with serve_in_thread(create_app(ctx)) as base, open_page(browser, viewport=PHONE) as wp:
        page = wp.page
        page.goto(f"{base}/app/login/{code}")
        page.click("#login-submit")
        page.wait_for_url(f"{base}/app")
        assert page.locator("#get-task").is_visible()
        # The cookie the browser kept: HttpOnly and Secure (accepted on http://127.0.0.1).
        [cookie] = [c for c in wp.context.cookies() if c["name"] == "kazi_app"]
        assert cookie["httpOnly"] and cookie["secure"] and cookie["sameSite"] == "Lax"
        assert page.evaluate("document.cookie").find("kazi_app") == -1

        page.select_option("#language-choice", "ar")
        page.click("#language-submit")
        page.wait_for_selector("html[lang=ar]")
        assert page.get_attribute("html", "dir") == "rtl"
        assert page.evaluate("getComputedStyle(document.body).direction") == "rtl"
        # Right to left for real: the brand sits at the right edge, the nav to its left.
        brand = page.locator(".brand").bounding_box()
        assert brand is not None and brand["x"] + brand["width"] > PHONE["width"] - 40
        assert page.locator("#get-task").inner_text() == "احصل على مهمة"
        # Mobile first: nothing wider than the phone.
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        path = wp.screenshot("worker-app-arabic.png", full_page=True)
        assert path.stat().st_size > 5_000
        assert not wp.log.page_errors, wp.log.report()
