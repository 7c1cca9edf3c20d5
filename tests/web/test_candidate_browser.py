"""The candidate's side in a real browser: Debian's headless Chromium (Playwright, never a downloaded
browser) with a fake camera that plays a clip made from the sample video
(``--use-file-for-fake-video-capture``), against `emoscope serve` over loopback http. An analyst makes an
invitation on its page; the candidate, on a phone-sized screen, consents, records two answers with
MediaRecorder (the first one recorded again once), sends them with the upload bar, and the analyst
sees both interviews analysed, their reports and the PDF.

The screenshot of the recording page goes to the test's folder, and to ``$EMOSCOPE_SCREENSHOTS`` when
set (docs/images/web-candidate-recording.png)."""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest
from pdf_pages import read_pdf

from emoscope.report.timeline import INTERVAL_NAMES
from web.support import SAMPLE, TOKEN, ServeProcess, wait_job
from web.test_browser import CHROMIUM

PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 1, "is_mobile": True, "has_touch": True}
SECONDS = 5  # allowed per answer: the camera clip loops, so any length records the face


def write_y4m(video: Path, path: Path, width: int = 480, height: int = 270, fps: int = 15, seconds: float = 4) -> Path:
    """The first ``seconds`` of ``video`` as the raw YUV 4:2:0 stream Chromium's fake camera plays in a loop."""
    import cv2

    source = cv2.VideoCapture(str(video))
    step = source.get(cv2.CAP_PROP_FPS) / fps
    with path.open("wb") as out:
        out.write(f"YUV4MPEG2 W{width} H{height} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        index = written = 0
        while written < fps * seconds:
            ok, frame = source.read()
            if not ok:
                break
            if index >= written * step:  # keep the frames nearest the camera's rate
                small = cv2.resize(frame, (width, height), interpolation=cv2.INTER_AREA)
                out.write(b"FRAME\n" + cv2.cvtColor(small, cv2.COLOR_BGR2YUV_I420).tobytes())
                written += 1
            index += 1
    source.release()
    assert written == fps * seconds, f"{video}: only {written} frames"
    return path


@pytest.fixture(scope="module")
def camera_browser(tmp_path_factory):
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (the dev extra)")
    if not CHROMIUM.is_file():
        pytest.skip(f"{CHROMIUM} is missing (Debian's chromium package; `make install` adds it): browser test skipped")
    clip = write_y4m(SAMPLE, tmp_path_factory.mktemp("camera") / "camera.y4m")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=[
            "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--use-fake-device-for-media-stream",
            "--use-fake-ui-for-media-stream", f"--use-file-for-fake-video-capture={clip}"])
        yield browser
        browser.close()


def record_answer(page, stop_after_s: float | None = None) -> None:
    """Start recording, let the countdown run, stop (or let the time allowed run out), wait for playback."""
    page.click("#record")
    page.wait_for_selector("#timer:not([hidden])", timeout=15_000)
    if stop_after_s is not None:
        page.wait_for_timeout(stop_after_s * 1000)
        page.click("#stop")
    page.wait_for_selector("#playback:not([hidden])", timeout=(SECONDS + 15) * 1000)
    # the recording plays back: a real video with frames, not an empty blob
    page.wait_for_function("() => document.getElementById('playback').readyState >= 1", timeout=10_000)


def fits_the_screen(page) -> bool:
    return page.evaluate("""() => document.documentElement.scrollWidth <= window.innerWidth &&
        [...document.querySelectorAll('button:not([hidden]), video:not([hidden])')].every(element => {
          const box = element.getBoundingClientRect(); return box.left >= 0 && box.right <= window.innerWidth; })""")


def test_a_candidate_records_two_answers_on_a_phone_and_the_analyst_reads_them(camera_browser, tmp_path):
    shots = [tmp_path] + ([Path(os.environ["EMOSCOPE_SCREENSHOTS"])] if os.environ.get("EMOSCOPE_SCREENSHOTS") else [])
    with ServeProcess(tmp_path / "data", "--fps", "4") as server, server.client() as api:
        candidate = api.post("/v1/candidates", json={"name": "Ann Example"}).json()["id"]

        # the analyst makes the invitation on its page and copies the link
        analyst = camera_browser.new_context(viewport={"width": 1200, "height": 900}, accept_downloads=True)
        page = analyst.new_page()
        page.goto(f"{server.url}/login?token={TOKEN}&next=/candidates/{candidate}")
        page.click("#invitations-link")
        texts = page.locator("#new-invitation input[name=text]")
        texts.nth(0).fill("Tell us about a project you are proud of.")
        texts.nth(1).fill("How do you handle a disagreement in a team?")
        for n in range(2):
            page.locator("#new-invitation input[name=seconds]").nth(n).fill(str(SECONDS))
        page.click("#new-invitation button[type=submit]")
        link = page.input_value("#invitation-link")
        assert link.startswith(f"{server.url}/invite/")

        # the candidate: another browser (no cookie of the analyst's), a phone's screen, the link alone
        phone = camera_browser.new_context(**PHONE, permissions=["camera"])
        page = phone.new_page()
        page.goto(link)
        assert "Before you start" in page.text_content("h1") and fits_the_screen(page)
        page.click("button[type=submit]")  # the box is not ticked: the browser keeps the form
        assert page.url == link
        page.check("input[name=agree]")
        page.click("button[type=submit]")
        page.wait_for_selector("#record:not([disabled])", timeout=15_000)
        assert page.text_content("#step") == "Question 1 of 2"
        assert page.eval_on_selector("#preview", "video => video.videoWidth") == 480  # the fake camera is live
        assert fits_the_screen(page)

        page.click("#record")
        page.wait_for_selector("#countdown:not([hidden])")
        page.wait_for_selector("#timer:not([hidden])", timeout=15_000)
        page.wait_for_timeout(1500)
        for folder in shots:
            page.screenshot(path=str(folder / "web-candidate-recording.png"))
        page.wait_for_selector("#playback:not([hidden])", timeout=(SECONDS + 15) * 1000)  # the time ran out
        assert page.is_visible("#retake") and page.is_visible("#send")
        page.click("#retake")  # once
        page.wait_for_selector("#playback:not([hidden])", timeout=(SECONDS + 20) * 1000)
        assert not page.is_visible("#retake") and page.is_visible("#send")
        page.click("#send")
        page.wait_for_function("() => document.getElementById('step').textContent === 'Question 2 of 2'",
                               timeout=60_000)
        assert "disagreement" in page.text_content("#question-text") and fits_the_screen(page)

        record_answer(page, stop_after_s=2.5)
        page.click("#send")
        page.wait_for_selector("#finished:not([hidden])", timeout=60_000)
        assert page.eval_on_selector("#upload-progress", "bar => bar.value") == 100
        page.goto(link)  # used up
        assert "used up" in page.text_content("#reason")
        assert httpx.get(f"{server.url}/v1/candidates").status_code == 401  # the candidate's browser has no key

        # the answers were analysed: MediaRecorder's webm decodes in the pipeline, the face is found
        interviews = api.get(f"/v1/candidates/{candidate}").json()["interviews"]
        assert sorted(i["question"] for i in interviews) == ["q1", "q2"]
        for interview in interviews:
            assert wait_job(api, interview["job"]["id"], timeout=300)["state"] == "done"
            report = api.get(f"/v1/interviews/{interview['id']}/report").json()
            assert report["people"] and report["face_visible_share"] > 0.5, report["video"]
            assert [i["name"] for i in report["people"][0]["intervals"]] == list(INTERVAL_NAMES)
        q1 = next(i for i in interviews if i["question"] == "q1")
        # the recording stopped at the time allowed (no lower bound: a loaded machine's fake camera drops
        # frames, and a MediaRecorder file's duration is read from its frames)
        assert 0 < api.get(f"/v1/interviews/{q1['id']}/report").json()["video"]["duration"] <= SECONDS + 1.5

        # the analyst sees both interviews and their reports
        page = analyst.new_page()
        page.goto(f"{server.url}/candidates/{candidate}")
        assert page.locator("section.interview").count() == 2
        profile = page.text_content("main")
        assert all(name in profile for name in INTERVAL_NAMES)
        page.goto(f"{server.url}/candidates/{candidate}/invitations")
        assert page.text_content("#invitation-list").count("answered") == 2
        page.goto(f"{server.url}/interviews/{q1['id']}")
        page.wait_for_selector("table.summary")
        page.goto(f"{server.url}/candidates/{candidate}")
        with page.expect_download() as download:
            page.click("#pdf-link")
        pdf = read_pdf(Path(download.value.path()).read_bytes())
        assert "Tell us about a project you are proud of." in " ".join(p.text for p in pdf)
        phone.close()
        analyst.close()
    for folder in shots[1:]:
        assert (folder / "web-candidate-recording.png").stat().st_size < 200_000
