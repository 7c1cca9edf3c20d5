"""The dashboard: server-rendered pages (Jinja2) over the same data as the API; the little JavaScript
in static/app.js calls the API for uploads (with a progress bar), job progress (server-sent events)
and deletion. Viewers read every page; the forms that change something are an analyst's."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import ValidationError
from sqlalchemy import select

from emoscope.web import audit
from emoscope.web.accounts import Principal
from emoscope.web.auth import require_role
from emoscope.web.db import Candidate, Interview, JobState
from emoscope.web.bodies import ReviewIn
from emoscope.web.listing import candidates_named, paginate
from emoscope.web.lookups import QUESTION_RULES, get_or_404, load_report
from emoscope.web.routes.candidates import save_review
from emoscope.web.routes.reports import comparison
from emoscope.web.services import Services, services
from emoscope.web.summary import summary_rows

router = APIRouter(include_in_schema=False)
VIEWER, ANALYST = require_role("viewer"), require_role("analyst")


@router.get("/", response_class=HTMLResponse)
def index(request: Request, q: str = Query("", max_length=200), page: int = Query(1, ge=1, le=1_000_000),
          svc: Services = Depends(services), who: Principal = Depends(VIEWER)):
    """The candidates, 25 a page, optionally those whose name holds ``q`` (any case)."""
    with svc.sessions() as session:
        listed = paginate(session, candidates_named(q.replace("\x00", "")), page)
        questions = sorted(set(session.scalars(select(Interview.question))))
        rows = [(c, len(c.interviews), sum(i.job.state == JobState.done for i in c.interviews)) for c in listed.items]
        response = svc.templates.TemplateResponse(request, "index.html", {
            "rows": rows, "questions": questions, "page": listed, "q": q})
    audit.log(svc.sessions, who, "view", "candidate list", detail="searched" if q else "")  # not the text
    return response


@router.get("/candidates/{candidate_id}", response_class=HTMLResponse)
def profile(candidate_id: str, request: Request, svc: Services = Depends(services), who: Principal = Depends(VIEWER)):
    with svc.sessions() as session:
        candidate = get_or_404(session, Candidate, candidate_id, "candidate")
        interviews = [(i, summary_rows(load_report(svc, i)) if i.job.state == JobState.done else None,
                       svc.storage.charts(candidate_id, i.id) if i.job.state == JobState.done else [])
                      for i in candidate.interviews]
        response = svc.templates.TemplateResponse(request, "candidate.html",
                                                  {"candidate": candidate, "interviews": interviews})
    audit.log(svc.sessions, who, "view", "candidate", candidate_id)
    return response


@router.get("/interviews/{interview_id}", response_class=HTMLResponse)
def report_page(interview_id: str, request: Request, svc: Services = Depends(services),
                who: Principal = Depends(VIEWER)):
    with svc.sessions() as session:
        interview = get_or_404(session, Interview, interview_id, "interview")
        rows = summary_rows(load_report(svc, interview)) if interview.job.state == JobState.done else None
        response = svc.templates.TemplateResponse(request, "interview.html", {
            "interview": interview, "candidate": interview.candidate, "rows": rows,
            "charts": svc.storage.charts(interview.candidate_id, interview.id) if rows else []})
    audit.log(svc.sessions, who, "view", "interview", interview_id)
    return response


@router.post("/interviews/{interview_id}/review")
def review(interview_id: str, notes: str = Form(""), rating: str = Form(""), svc: Services = Depends(services),
           who: Principal = Depends(ANALYST)):
    """The report page's form: the analyst's notes and rating (empty clears it)."""
    try:
        body = ReviewIn(notes=notes, rating=int(rating) if rating.strip() else None)
    except (ValueError, ValidationError):
        raise HTTPException(400, "a rating is a whole number from 1 to 5, and notes have at most 10,000 "
                                 "characters") from None
    save_review(svc, interview_id, body, who)
    return RedirectResponse(f"/interviews/{interview_id}#review", status_code=303)


@router.get("/compare", response_class=HTMLResponse)
def compare_page(request: Request, question: str = Query(**QUESTION_RULES), svc: Services = Depends(services),
                 who: Principal = Depends(VIEWER)):
    if not question.strip():
        raise HTTPException(400, "question: required")
    columns = comparison(svc, question)
    titles = list(dict.fromkeys(title for column in columns for title, _ in column.rows))
    audit.log(svc.sessions, who, "view", "comparison", detail=f"question {question}, {len(columns)} candidates")
    return svc.templates.TemplateResponse(request, "compare.html", {
        "question": question, "columns": columns, "titles": titles,
        "cells": [dict(column.rows) for column in columns]})
