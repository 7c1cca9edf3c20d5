"""The dashboard: server-rendered pages (Jinja2) over the same data as the API; the little JavaScript
in static/app.js calls the API for uploads (with a progress bar), job progress (server-sent events)
and deletion."""

from __future__ import annotations

import secrets
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy import select

from emoscope.web.auth import require_login, set_login_cookie
from emoscope.web.db import Candidate, Interview, JobState
from emoscope.web.routes.api import QUESTION_RULES, _get, comparison, load_report
from emoscope.web.services import Services, services
from emoscope.web.summary import summary_rows

router = APIRouter(include_in_schema=False)


def _local(url: str | None) -> str:
    """Only a path on this server may be where a login leads: no scheme, no host, no //host, and no
    backslash (browsers read /\\host as //host)."""
    if not url or not url.startswith("/") or url.startswith("//") or "\\" in url or urlsplit(url).netloc:
        return "/"
    return url


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, next: str = "/", token: str | None = None, svc: Services = Depends(services)):
    """The login form; ``?token=`` (the link `emoscope serve` prints) logs in at once."""
    if token is not None:
        return login(request, token, next, svc)
    return svc.templates.TemplateResponse(request, "login.html", {"next": _local(next), "failed": False})


@router.post("/login", response_class=HTMLResponse)
def login(request: Request, token: str = Form(...), next: str = Form("/"), svc: Services = Depends(services)):
    if not secrets.compare_digest(token.encode(), svc.settings.token.encode()):
        return svc.templates.TemplateResponse(request, "login.html", {"next": _local(next), "failed": True},
                                              status_code=401)
    return set_login_cookie(RedirectResponse(_local(next), status_code=303), token)


@router.get("/", response_class=HTMLResponse, dependencies=[Depends(require_login)])
def index(request: Request, svc: Services = Depends(services)):
    with svc.sessions() as session:
        candidates = session.scalars(select(Candidate).order_by(Candidate.created_at)).all()
        questions = sorted(set(session.scalars(select(Interview.question))))
        rows = [(c, len(c.interviews), sum(i.job.state == JobState.done for i in c.interviews)) for c in candidates]
        return svc.templates.TemplateResponse(request, "index.html", {"rows": rows, "questions": questions})


@router.get("/candidates/{candidate_id}", response_class=HTMLResponse, dependencies=[Depends(require_login)])
def profile(candidate_id: str, request: Request, svc: Services = Depends(services)):
    with svc.sessions() as session:
        candidate = _get(session, Candidate, candidate_id, "candidate")
        interviews = [(i, summary_rows(load_report(svc, i)) if i.job.state == JobState.done else None,
                       svc.storage.charts(candidate_id, i.id) if i.job.state == JobState.done else [])
                      for i in candidate.interviews]
        return svc.templates.TemplateResponse(request, "candidate.html",
                                              {"candidate": candidate, "interviews": interviews})


@router.get("/interviews/{interview_id}", response_class=HTMLResponse, dependencies=[Depends(require_login)])
def report_page(interview_id: str, request: Request, svc: Services = Depends(services)):
    with svc.sessions() as session:
        interview = _get(session, Interview, interview_id, "interview")
        rows = summary_rows(load_report(svc, interview)) if interview.job.state == JobState.done else None
        return svc.templates.TemplateResponse(request, "interview.html", {
            "interview": interview, "candidate": interview.candidate, "rows": rows,
            "charts": svc.storage.charts(interview.candidate_id, interview.id) if rows else []})


@router.get("/compare", response_class=HTMLResponse, dependencies=[Depends(require_login)])
def compare_page(request: Request, question: str = Query(**QUESTION_RULES), svc: Services = Depends(services)):
    if not question.strip():
        raise HTTPException(400, "question: required")
    columns = comparison(svc, question)
    titles = list(dict.fromkeys(title for column in columns for title, _ in column.rows))
    return svc.templates.TemplateResponse(request, "compare.html", {
        "question": question, "columns": columns, "titles": titles,
        "cells": [dict(column.rows) for column in columns]})
