"""Invitations (:mod:`emoscope.web.invitations`): analysts make and withdraw them (the API under /v1 and
a page per candidate, the analyst role); the candidate's pages under ``/invite/{token}`` are reached by
the link's secret alone (no login, no cookie) and reach nothing else: the consent, then each question
recorded in the browser and uploaded as an interview of that question, analysed as an analyst's
upload is."""

from __future__ import annotations

import os
import tempfile
from datetime import datetime
from pathlib import Path

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import BaseModel, Field
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from emoscope.runtime.predictor import VIDEO_MODELS, default_model
from emoscope.web import audit, invitations
from emoscope.web.accounts import Principal
from emoscope.web.auth import require_role
from emoscope.web.bodies import RowOut
from emoscope.web.db import Candidate, Interview, Job, new_id, utcnow
from emoscope.web.invitations import (DEFAULT_EXPIRY_HOURS, EXPIRY_HOURS, MAX_QUESTIONS, RETAKES, SECONDS_ALLOWED,
                                      Invitation, InvitationClosed, InvitationQuestion)
from emoscope.web.lookups import QUESTION_RULES, get_or_404
from emoscope.web.services import Services, services
from emoscope.web.uploads import check_video, form_file, read_form, save

ANALYST = require_role("analyst")
CANDIDATE = "candidate"
"""The audit log's actor for what a candidate does through their link (no account, no name)."""
PRIVATE = {"Cache-Control": "no-store", "X-Robots-Tag": "noindex, nofollow"}
"""A candidate's pages hold the link's secret: never cached, never indexed."""

api = APIRouter(prefix="/v1", tags=["invitations"])
pages = APIRouter(include_in_schema=False)
candidate_pages = APIRouter(prefix="/invite", include_in_schema=False)


# -- the analysts' side --------------------------------------------------------------------------------

class QuestionIn(BaseModel):
    id: str | None = Field(None, **{**QUESTION_RULES, "description": "the interview's question id (default q1, q2, …)"})
    text: str = Field(min_length=1, max_length=1000, pattern=r"^[^\x00]*\S[^\x00]*$")
    seconds: int = Field(ge=SECONDS_ALLOWED[0], le=SECONDS_ALLOWED[1], description="time allowed for the answer")


class InvitationIn(BaseModel):
    questions: list[QuestionIn] = Field(min_length=1, max_length=MAX_QUESTIONS)
    expires_in_hours: float = Field(DEFAULT_EXPIRY_HOURS, ge=EXPIRY_HOURS[0], le=EXPIRY_HOURS[1])


class QuestionOut(RowOut):
    position: int
    question: str
    text: str
    seconds: int
    answered_at: datetime | None
    interview_id: str | None


class InvitationOut(RowOut):
    id: str
    candidate_id: str
    state: str = Field(description="sent | consented | completed | expired | revoked")
    created_by: str
    created_at: datetime
    expires_at: datetime
    consented_at: datetime | None
    completed_at: datetime | None
    revoked_at: datetime | None
    questions: list[QuestionOut]
    link: str | None = Field(None, description="the one-time link: in the answer that creates it, never again")


def _questions(body: InvitationIn) -> list[tuple[str, str, int]]:
    keys = [q.id.strip() if q.id else f"q{n}" for n, q in enumerate(body.questions, 1)]
    if len(set(keys)) != len(keys):
        raise HTTPException(422, "questions: each question id may be used once in an invitation")
    return [(key, q.text.strip(), q.seconds) for key, q in zip(keys, body.questions)]


def _create(svc: Services, request: Request, candidate_id: str, body: InvitationIn, who: Principal) -> InvitationOut:
    with svc.sessions.begin() as session:
        candidate = get_or_404(session, Candidate, candidate_id, "candidate")
        token, invitation = invitations.create(session, candidate, _questions(body), body.expires_in_hours, who.name)
        audit.record(session, who, "create", "invitation", invitation.id,
                     f"candidate {candidate_id}, {len(body.questions)} questions, expires "
                     f"{invitation.expires_at:%Y-%m-%d %H:%M}")
        return InvitationOut.of(invitation, link=str(request.url_for("invitation_page", token=token)))


def _invitations_of(session, candidate_id: str) -> list[Invitation]:
    return list(session.scalars(select(Invitation).where(Invitation.candidate_id == candidate_id)
                                .order_by(Invitation.created_at)))


@api.post("/candidates/{candidate_id}/invitations", status_code=201, response_model=InvitationOut)
def create_invitation(candidate_id: str, body: InvitationIn, request: Request, svc: Services = Depends(services),
                      who: Principal = Depends(ANALYST)):
    """Invite the candidate to record answers to ``questions`` in the browser; the answer holds the
    one-time link (only its hash is stored: it cannot be shown again)."""
    return _create(svc, request, candidate_id, body, who)


@api.get("/candidates/{candidate_id}/invitations", response_model=list[InvitationOut],
         dependencies=[Depends(ANALYST)])
def list_invitations(candidate_id: str, svc: Services = Depends(services)):
    with svc.sessions() as session:
        get_or_404(session, Candidate, candidate_id, "candidate")
        return [InvitationOut.of(i) for i in _invitations_of(session, candidate_id)]


@api.get("/invitations/{invitation_id}", response_model=InvitationOut, dependencies=[Depends(ANALYST)])
def get_invitation(invitation_id: str, svc: Services = Depends(services)):
    with svc.sessions() as session:
        return InvitationOut.of(get_or_404(session, Invitation, invitation_id, "invitation"))


def _revoke(svc: Services, invitation_id: str, who: Principal) -> InvitationOut:
    with svc.sessions.begin() as session:
        invitation = get_or_404(session, Invitation, invitation_id, "invitation")
        if not invitation.open:
            raise HTTPException(409, f"the invitation is {invitation.state} already")
        invitation.revoked_at = utcnow()
        audit.record(session, who, "revoke", "invitation", invitation.id)
        return InvitationOut.of(invitation)


@api.post("/invitations/{invitation_id}/revoke", response_model=InvitationOut)
def revoke_invitation(invitation_id: str, svc: Services = Depends(services), who: Principal = Depends(ANALYST)):
    """Withdraw the invitation: its link stops working at once (answers already sent are kept)."""
    return _revoke(svc, invitation_id, who)


def _invitations_page(request: Request, svc: Services, candidate_id: str, created: InvitationOut | None = None,
                      error: str | None = None, status_code: int = 200):
    with svc.sessions() as session:
        candidate = get_or_404(session, Candidate, candidate_id, "candidate")
        return svc.templates.TemplateResponse(request, "invitations.html", {
            "candidate": candidate, "invitations": _invitations_of(session, candidate_id), "created": created,
            "error": error, "limits": {"seconds": SECONDS_ALLOWED, "hours": EXPIRY_HOURS,
                                       "questions": MAX_QUESTIONS, "default_hours": DEFAULT_EXPIRY_HOURS}},
            status_code=status_code, headers={"Cache-Control": "no-store"})


@pages.get("/candidates/{candidate_id}/invitations", response_class=HTMLResponse, dependencies=[Depends(ANALYST)])
def invitations_page(candidate_id: str, request: Request, svc: Services = Depends(services)):
    """The candidate's invitations and a form for a new one."""
    return _invitations_page(request, svc, candidate_id)


@pages.post("/candidates/{candidate_id}/invitations", response_class=HTMLResponse)
async def invite_from_page(candidate_id: str, request: Request, svc: Services = Depends(services),
                           who: Principal = Depends(ANALYST)):
    """The page's form (question texts, seconds, expiry): the new link is shown once, on the page it returns."""
    form = await request.form()
    texts, seconds = form.getlist("text"), form.getlist("seconds")
    try:
        body = InvitationIn(questions=[QuestionIn(text=text, seconds=int(s or 0))
                                       for text, s in zip(texts, seconds) if str(text).strip()],
                            expires_in_hours=float(form.get("expires_in_hours") or DEFAULT_EXPIRY_HOURS))
    except (ValueError, TypeError) as exc:  # pydantic's ValidationError is a ValueError
        first = exc.errors()[0] if hasattr(exc, "errors") else {"loc": (), "msg": str(exc)}
        where = ".".join(map(str, first["loc"]))
        return await run_in_threadpool(_invitations_page, request, svc, candidate_id, None,
                                       f"{where}: {first['msg']}" if where else first["msg"], 422)
    created = await run_in_threadpool(_create, svc, request, candidate_id, body, who)
    return await run_in_threadpool(_invitations_page, request, svc, candidate_id, created)


@pages.post("/invitations/{invitation_id}/revoke")
def revoke_from_page(invitation_id: str, svc: Services = Depends(services), who: Principal = Depends(ANALYST)):
    invitation = _revoke(svc, invitation_id, who)
    return RedirectResponse(f"/candidates/{invitation.candidate_id}/invitations", status_code=303)


# -- the candidate's side ------------------------------------------------------------------------------

def _closed_page(request: Request, svc: Services, closed: InvitationClosed):
    """A browser gets a page that says why; anything else one line of JSON, as every error of the app."""
    if "text/html" not in request.headers.get("accept", ""):
        raise HTTPException(closed.status, closed.reason)
    return svc.templates.TemplateResponse(request, "invite_closed.html", {"reason": closed.reason},
                                          status_code=closed.status, headers=PRIVATE)


@candidate_pages.get("/{token}", response_class=HTMLResponse, name="invitation_page")
def invitation_page(token: str, request: Request, svc: Services = Depends(services)):
    """The consent first; once given, the recording page for the questions not yet answered."""
    with svc.sessions() as session:
        try:
            invitation = invitations.find(session, token)
        except InvitationClosed as closed:
            return _closed_page(request, svc, closed)
        if invitation.consented_at is None:
            return svc.templates.TemplateResponse(request, "invite_consent.html", {
                "invitation": invitation, "consent": invitations.consent_text(invitation, svc.settings.keep_videos)},
                headers=PRIVATE)
        state = {"questions": [{"position": q.position, "text": q.text, "seconds": q.seconds,
                                "answered": q.answered_at is not None} for q in invitation.questions],
                 "retakes": RETAKES, "upload": f"{request.url.path}/answers/"}
        return svc.templates.TemplateResponse(request, "invite_record.html", {"state": state}, headers=PRIVATE)


@candidate_pages.post("/{token}/consent")
async def give_consent(token: str, request: Request, svc: Services = Depends(services)):
    """The consent form: the box must be ticked; the text shown is stored with the time."""
    form = await request.form()

    def consent() -> None:
        with svc.sessions.begin() as session:
            invitation = invitations.find(session, token)
            if invitation.consented_at is None:
                invitation.consent_text = invitations.consent_text(invitation, svc.settings.keep_videos)
                invitation.consented_at = utcnow()
                audit.record(session, None, "consent", "invitation", invitation.id, actor=CANDIDATE,
                             ip=request.client.host if request.client else None)

    if form.get("agree") != "yes":
        raise HTTPException(400, "tick the box to agree before recording, or close the page")
    try:
        await run_in_threadpool(consent)
    except InvitationClosed as closed:
        return _closed_page(request, svc, closed)
    return RedirectResponse(request.url_for("invitation_page", token=token), status_code=303, headers=PRIVATE)


@candidate_pages.post("/{token}/answers/{position}", status_code=202)
async def upload_answer(token: str, position: int, request: Request, svc: Services = Depends(services)) -> dict:
    """One recorded answer (multipart, ``video``): stored as an interview of the question and queued
    for analysis (202). 403 before consent, 409 for a question answered already, 410 once the link is
    closed, 413 past the size an answer of the time allowed can have, 429 when the queue is full."""

    def admit() -> int:  # before a byte of the video is read
        with svc.sessions() as session:
            invitation, question = _unanswered(session, token, position)
            svc.runner.check_room(session)
            return question.max_bytes

    limit = min(await run_in_threadpool(admit), svc.settings.max_video_bytes)
    form = await read_form(request, limit)
    try:
        upload = form_file(form, "video", limit)
        result = await run_in_threadpool(_store_answer, svc, token, position, upload,
                                         request.client.host if request.client else None)
    finally:
        await form.close()
    svc.runner.submit(result.pop("job_id"))
    return result


def _unanswered(session, token: str, position: int) -> tuple[Invitation, InvitationQuestion]:
    try:
        invitation = invitations.find(session, token)
    except InvitationClosed as closed:
        raise HTTPException(closed.status, closed.reason) from None
    if invitation.consented_at is None:
        raise HTTPException(403, "no consent given: open the link and agree before recording")
    question = next((q for q in invitation.questions if q.position == position), None)
    if question is None:
        raise HTTPException(404, f"this invitation has no question {position}")
    if question.answered_at is not None:
        raise HTTPException(409, f"question {position} has been answered already")
    return invitation, question


def _store_answer(svc: Services, token: str, position: int, upload, ip: str | None) -> dict:
    """As an analyst's upload (decoded to check it, moved into the interview's folder, rows added, or
    nothing left on failure), with the question marked answered in the same transaction."""
    handle, name = tempfile.mkstemp(dir=svc.storage.tmp, suffix=".upload")
    os.close(handle)
    temporary, candidate_id, interview = Path(name), None, None
    try:
        save(upload, temporary)
        check_video(temporary)
        with svc.runner.admission, svc.sessions.begin() as session:
            invitation, question = _unanswered(session, token, position)  # again: it may have changed meanwhile
            svc.runner.check_room(session)
            candidate_id = invitation.candidate_id
            interview = Interview(id=new_id(), candidate_id=candidate_id, question=question.question)
            interview.job = Job(model=svc.settings.video_model or default_model(VIDEO_MODELS))
            session.add(interview)
            session.flush()
            invitations.answer(invitation, question, interview)
            audit.record(session, None, "create", "interview", interview.id,
                         f"candidate {candidate_id}, question {question.question}, invitation {invitation.id}",
                         actor=CANDIDATE, ip=ip)
            video = svc.storage.video(candidate_id, interview.id)
            video.parent.mkdir(parents=True)
            os.replace(temporary, video)
            remaining = sum(q.answered_at is None for q in invitation.questions)
    except BaseException:
        if interview is not None:
            svc.storage.remove_interview(candidate_id, interview.id)  # the rows were rolled back
        raise
    finally:
        temporary.unlink(missing_ok=True)
    return {"position": position, "remaining": remaining, "done": remaining == 0, "job_id": interview.job.id}


router = APIRouter()
router.include_router(api)
router.include_router(pages)
router.include_router(candidate_pages)
