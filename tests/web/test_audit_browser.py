"""The accounts in a real browser: Debian's headless Chromium, driven by Playwright (never a downloaded
browser), against `emoscope serve` on a fresh data folder: the first admin is set up by the printed
one-time link, creates an analyst, adds and deletes a candidate, and reads and exports the audit log;
the analyst logs in by the form and is refused the admin's pages.

The audit log's screenshot goes to the test's folder, and also to ``$EMOSCOPE_SCREENSHOTS`` when set
(how docs/images/web-audit-log.png was made)."""

from __future__ import annotations

import csv
import os
import re
import shutil
from pathlib import Path

from web.logins import PASSWORD
from web.support import ServeProcess
from web.test_browser import browser  # noqa: F401 - the module's Chromium fixture


def test_an_admin_sets_up_creates_an_analyst_and_reads_the_audit_log(browser, tmp_path):  # noqa: F811
    shots = [tmp_path]
    if os.environ.get("EMOSCOPE_SCREENSHOTS"):
        shots.append(Path(os.environ["EMOSCOPE_SCREENSHOTS"]))
    with ServeProcess(tmp_path / "data") as server:
        link = re.search(r"/setup\?code=\S+", server.output()).group(0)
        admin = browser.new_context(viewport={"width": 1200, "height": 820}, accept_downloads=True)
        page = admin.new_page()
        page.goto(server.url + link)
        page.fill("input[name=username]", "hr-admin")
        page.fill("input[name=password]", PASSWORD)
        page.fill("input[name=again]", PASSWORD)
        page.click("form button[type=submit]")
        page.wait_for_url(f"{server.url}/")
        assert "hr-admin (admin)" in page.text_content("header")

        page.click("header >> text=Users")
        page.fill("#new-user input[name=username]", "ann.analyst")
        page.fill("#new-user input[name=password]", PASSWORD)
        page.select_option("#new-user select[name=role]", "analyst")
        page.click("#new-user button[type=submit]")
        page.wait_for_selector("#users >> text=ann.analyst")

        for name in ("Candidate 17", "Dana Deleted"):
            page.goto(f"{server.url}/")
            page.fill("input[name=name]", name)
            page.click("#new-candidate button[type=submit]")
            page.wait_for_url("**/candidates/*")
        deleted_id = page.url.rsplit("/", 1)[1]
        page.on("dialog", lambda dialog: dialog.accept())
        page.click("[data-delete-candidate]")
        page.wait_for_url(f"{server.url}/")
        assert "Dana" not in page.text_content("#candidates")

        page.click("header >> text=Audit log")
        page.wait_for_selector("#audit")
        rows = [[cell.strip() for cell in row] for row in page.eval_on_selector_all(
            "#audit tr", "rows => rows.slice(1).map(r => [...r.cells].map(c => c.textContent))")]
        done = [(who, action, what) for _, who, action, what, *_ in rows]
        assert ("hr-admin", "create", "user") in done and ("hr-admin", "delete", "candidate") in done
        assert any(row[2] == "delete" and row[4] == deleted_id for row in rows)
        assert "Dana" not in page.text_content("main")  # the deleted candidate's name is nowhere in the log
        for folder in shots:
            page.screenshot(path=str(folder / "web-audit-log.png"))
        with page.expect_download() as download:
            page.click("#export")
        saved = tmp_path / "audit.csv"
        download.value.save_as(saved)
        exported = list(csv.DictReader(saved.open()))
        assert exported[0]["action"] == "export" and "Dana" not in saved.read_text()

        analyst = browser.new_context(viewport={"width": 1200, "height": 820})
        page = analyst.new_page()
        page.goto(f"{server.url}/admin/audit")
        page.wait_for_url("**/login?next=/admin/audit")
        page.fill("input[name=username]", "ann.analyst")
        page.fill("input[name=password]", PASSWORD)
        page.click("form.card button[type=submit]")
        page.wait_for_selector("h1")
        assert page.text_content("h1") == "Not allowed"  # logged in, then refused: an analyst's role is too low
        page.goto(f"{server.url}/")
        assert "Audit log" not in page.text_content("header") and "Candidate 17" in page.text_content("#candidates")
        analyst.close()
        admin.close()
    for folder in shots[1:]:
        assert (folder / "web-audit-log.png").stat().st_size < 200_000
    shutil.rmtree(tmp_path / "data", ignore_errors=True)
