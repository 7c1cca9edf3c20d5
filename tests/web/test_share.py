"""Reports to share: a candidate's profile with every interview's report as one PDF, and one interview's
PDF, from a real analysed upload; read back page by page with PDFium (their pixels and words)."""

from __future__ import annotations

import uuid

import pytest
from pdf_pages import read_pdf

from emoscope.report.pdf import CAVEAT_TITLE
from emoscope.report.timeline import INTERVAL_NAMES
from web.support import AUTH
from web.test_api import one_line_error

pytest.importorskip("pypdfium2", reason="pypdfium2 is not installed (the dev extra)")


def test_a_candidates_pdf_holds_the_profile_and_each_interview(make_server):
    server = make_server()
    candidate = server.create_candidate("Zoë Example")
    done = server.upload(candidate, question="q1").json()
    server.wait(done["job"]["id"])
    failed = server.upload(candidate, question="q2", model="fer-default").json()
    server.client.post(f"/v1/jobs/{failed['job']['id']}/cancel", headers=AUTH)

    response = server.client.get(f"/v1/candidates/{candidate}/report.pdf", headers=AUTH)
    assert response.status_code == 200 and response.headers["content-type"] == "application/pdf"
    assert response.headers["content-disposition"] == f'attachment; filename="{candidate}.report.pdf"'
    pages = read_pdf(response.content)
    assert all(page.ink > 0.002 for page in pages) and all(CAVEAT_TITLE in page.text for page in pages)
    cover = " ".join(pages[0].text.split())
    assert "Candidate profile: Zoë Example" in cover and "2 (1 analysed)" in cover
    assert "Question q2 No report: the job is cancelled" in cover
    text = " ".join(page.text for page in pages)
    assert all(name in text for name in INTERVAL_NAMES) and "blinks" in text
    assert sum(page.images for page in pages) >= 3  # the report's timeline, interval and share charts

    one = server.client.get(f"/v1/interviews/{done['id']}/report.pdf", headers=AUTH)
    assert one.status_code == 200 and len(read_pdf(one.content)) < len(pages)
    # a cancelled interview has no report of its own to print; the data folder keeps no PDF
    one_line_error(server.client.get(f"/v1/interviews/{failed['id']}/report.pdf", headers=AUTH), 409)
    assert not any(name.endswith(".pdf") for name in server.files())


def test_the_pdfs_need_the_token_and_a_known_id(make_server):
    server = make_server()
    some_id = str(uuid.uuid4())
    for url in (f"/v1/candidates/{some_id}/report.pdf", f"/v1/interviews/{some_id}/report.pdf"):
        assert "missing or wrong API token" in one_line_error(server.client.get(url), 401)
        one_line_error(server.client.get(url, headers=AUTH), 404)
