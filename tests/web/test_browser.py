"""End to end in a real browser: Debian's headless Chromium, driven by Playwright (never a downloaded
browser), against `emoscope serve` on a free loopback port: log in by the printed link, add a
candidate, drop the sample clip on the upload area, wait for the progress bar to finish, read the
report page (the five intervals, the charts, the embedded report) and download the JSON.

Screenshots go to the test's folder, and also to ``$EMOSCOPE_SCREENSHOTS`` when set (how
docs/images/web-*.png were made)."""

from __future__ import annotations

import base64
import json
import os
import shutil
from pathlib import Path

import pytest

from emoscope.report.schema import Report
from emoscope.report.timeline import INTERVAL_NAMES
from web.support import SAMPLE, TOKEN, ServeProcess

CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (the dev extra)")
    if not CHROMIUM.is_file():
        pytest.skip(f"{CHROMIUM} is missing (Debian's chromium package; `make install` adds it): browser test skipped")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                             args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
        yield browser
        browser.close()


def drop_file(page, selector: str, path: Path, mime: str) -> None:
    """Drop a file on an element as a user's drag and drop does (a DataTransfer with the file).

    The bytes travel to the page as base64 text: as a JSON list of numbers the 1.6 MB sample took Playwright
    25-60 s to pass."""
    data = page.evaluate_handle(
        """([base64, name, mime]) => { const transfer = new DataTransfer();
             const bytes = Uint8Array.from(atob(base64), (char) => char.charCodeAt(0));
             transfer.items.add(new File([bytes], name, {type: mime})); return transfer; }""",
        [base64.b64encode(path.read_bytes()).decode("ascii"), path.name, mime])
    page.dispatch_event(selector, "drop", {"dataTransfer": data})


def test_upload_the_sample_and_read_its_report_in_a_browser(browser, tmp_path):
    shots = [tmp_path]
    if os.environ.get("EMOSCOPE_SCREENSHOTS"):
        shots.append(Path(os.environ["EMOSCOPE_SCREENSHOTS"]))
    with ServeProcess(tmp_path / "data", "--fps", "4") as server:
        page = browser.new_page(viewport={"width": 1200, "height": 900}, accept_downloads=True)
        page.goto(f"{server.url}/login?token={TOKEN}")
        assert page.url == f"{server.url}/"
        page.fill("input[name=name]", "Ann Example")
        page.click("#new-candidate button[type=submit]")
        page.wait_for_url("**/candidates/*")
        page.fill("input[name=question]", "q1")
        drop_file(page, "#drop", SAMPLE, "video/mp4")
        assert SAMPLE.name in page.text_content("[data-file]")
        page.click("#upload button[type=submit]")
        page.wait_for_selector("#report-link", timeout=180_000)
        assert page.eval_on_selector("#upload-progress", "bar => bar.value") == 100
        assert page.eval_on_selector("#analysis-progress", "bar => bar.value") == 100

        page.reload()  # the profile with the finished interview
        profile = page.text_content("section.interview")
        assert all(name in profile for name in INTERVAL_NAMES) and "blinks" in profile
        for folder in shots:
            page.screenshot(path=str(folder / "web-dashboard.png"), full_page=True)

        page.click("text=Full report")
        page.wait_for_selector("table.summary")
        summary = page.text_content("table.summary")
        assert all(name in summary for name in INTERVAL_NAMES)
        # the page is ready before its images are: wait until every chart has loaded (or failed to)
        page.wait_for_function("() => [...document.querySelectorAll('.charts img')].every(img => img.complete)")
        charts = page.eval_on_selector_all(".charts img", "imgs => imgs.map(img => img.naturalWidth)")
        assert len(charts) == 3 and all(width > 100 for width in charts)
        embedded = page.frame_locator("iframe.report")
        assert "Person 1" in embedded.locator("h2").first.text_content()
        # the full report adds the head-pose timeline to the page's three charts
        assert embedded.locator(".charts img").count() == 4
        with page.expect_download() as download:
            page.click(".downloads >> text=JSON")
        saved = tmp_path / "report.json"
        download.value.save_as(saved)
        report = Report.model_validate(json.loads(saved.read_text()))
        assert [i.name for i in report.people[0].intervals] == list(INTERVAL_NAMES)
        assert report.metadata["candidate"] == "Ann Example"
        for folder in shots:
            page.screenshot(path=str(folder / "web-report.png"))

        page.goto(f"{server.url}/docs")  # Swagger UI from the package's static files, not a CDN
        page.wait_for_selector(".opblock", timeout=30_000)
        assert "/v1/images:analyze" in page.text_content(".swagger-ui")
        page.close()
    for folder in shots[1:]:
        assert all((folder / name).stat().st_size < 500_000 for name in ("web-dashboard.png", "web-report.png"))
    shutil.rmtree(tmp_path / "data", ignore_errors=True)
