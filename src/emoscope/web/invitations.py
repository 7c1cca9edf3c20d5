"""Invitations to record: an analyst invites a candidate to answer a list of questions with the
browser's camera, through a one-time link. The link holds a random 256-bit secret; the database keeps
only its SHA-256, so a copy of the database opens no invitation. The link works until every question
is answered, the invitation expires, or an analyst revokes it. The candidate must consent first (the
text they agreed to is stored with the time); each answer becomes an interview of its question,
analysed by the same jobs as an analyst's upload.

Deleting the candidate deletes their invitations (foreign keys, ``ON DELETE CASCADE``); deleting an
answer's interview keeps the question answered, so the link does not open again."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint, select
from sqlalchemy.orm import Mapped, mapped_column, relationship

from emoscope.report.html import LAWFUL_USE_NOTICE
from emoscope.web.db import Base, Candidate, Interview, new_id, utcnow

MAX_QUESTIONS = 20
SECONDS_ALLOWED = (5, 600)
"""The least and most time an analyst may allow for one answer."""
EXPIRY_HOURS = (1.0, 30 * 24.0)
DEFAULT_EXPIRY_HOURS = 72.0
ANSWER_BYTES_PER_SECOND = 2 << 20
"""An answer may be at most this many bytes per second allowed (16 Mbit/s, beyond what phones record),
plus :data:`ANSWER_SLACK_BYTES`: the link is public, so an upload is bounded by what was asked."""
ANSWER_SLACK_BYTES = 8 << 20
RETAKES = 1
"""How often a candidate may record an answer again before sending it (the page enforces it)."""


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


class Invitation(Base):
    """One candidate's invitation (revision 0005)."""

    __tablename__ = "invitations"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    candidate_id: Mapped[str] = mapped_column(ForeignKey("candidates.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    consent_text: Mapped[str | None] = mapped_column(Text)
    consented_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
    questions: Mapped[list[InvitationQuestion]] = relationship(
        back_populates="invitation", cascade="all, delete-orphan", passive_deletes=True,
        order_by="InvitationQuestion.position")

    @property
    def state(self) -> str:
        """revoked | completed | expired | consented | sent (the last: not opened past the consent yet)."""
        if self.revoked_at is not None:
            return "revoked"
        if self.completed_at is not None:
            return "completed"
        if utcnow() >= self.expires_at:
            return "expired"
        return "consented" if self.consented_at is not None else "sent"

    @property
    def open(self) -> bool:
        return self.state in ("sent", "consented")

    def next_question(self) -> InvitationQuestion | None:
        return next((q for q in self.questions if q.answered_at is None), None)


class InvitationQuestion(Base):
    """A question of an invitation (revision 0005); its answer is an interview of ``question``."""

    __tablename__ = "invitation_questions"
    __table_args__ = (UniqueConstraint("invitation_id", "position"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    invitation_id: Mapped[str] = mapped_column(ForeignKey("invitations.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)  # 1, 2, ... in the order asked
    question: Mapped[str] = mapped_column(String(100))  # the interview's question id, e.g. q1
    text: Mapped[str] = mapped_column(Text)
    seconds: Mapped[int] = mapped_column(Integer)
    interview_id: Mapped[str | None] = mapped_column(ForeignKey("interviews.id", ondelete="SET NULL"))
    answered_at: Mapped[datetime | None]
    invitation: Mapped[Invitation] = relationship(back_populates="questions")

    @property
    def max_bytes(self) -> int:
        return self.seconds * ANSWER_BYTES_PER_SECOND + ANSWER_SLACK_BYTES


class InvitationClosed(Exception):
    """The link opens nothing: unknown (404), or no longer open (410), with the reason for the candidate."""

    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status, self.reason = status, reason


def create(session, candidate: Candidate, questions: list[tuple[str, str, int]], expires_in_hours: float,
           created_by: str) -> tuple[str, Invitation]:
    """A new invitation of (question id, text, seconds allowed) and its one-time link's secret, which
    is returned here only."""
    token = secrets.token_urlsafe(32)
    invitation = Invitation(candidate_id=candidate.id, token_hash=token_digest(token), created_by=created_by,
                            expires_at=utcnow() + timedelta(hours=expires_in_hours))
    invitation.questions = [InvitationQuestion(position=n, question=key, text=text, seconds=seconds)
                            for n, (key, text, seconds) in enumerate(questions, 1)]
    session.add(invitation)
    session.flush()
    return token, invitation


def find(session, token: str) -> Invitation:
    """The open invitation of a link's secret; :class:`InvitationClosed` otherwise."""
    invitation = session.scalar(select(Invitation).where(Invitation.token_hash == token_digest(token))) \
        if 20 <= len(token) <= 100 else None
    if invitation is None:
        raise InvitationClosed(404, "This link is not valid. Check that you copied all of it.")
    reasons = {"revoked": "This invitation was withdrawn.",
               "completed": "All the answers of this invitation have been sent; the link is used up.",
               "expired": f"This invitation expired on {invitation.expires_at:%Y-%m-%d %H:%M} UTC."}
    if invitation.state in reasons:
        raise InvitationClosed(410, f"{reasons[invitation.state]} Ask the person who invited you for a new link.")
    return invitation


def consent_text(invitation: Invitation, keep_videos: bool) -> str:
    """What the candidate agrees to, as shown and as stored with the time of consent."""
    count = len(invitation.questions)
    longest = max(q.seconds for q in invitation.questions)
    kept = ("The videos are kept with the results." if keep_videos else
            "Each video is deleted as soon as it has been analysed; the results are kept.")
    return "\n\n".join([
        f"You will be asked {count} question{'s' * (count != 1)}, one at a time, and answer each on camera "
        f"(at most {longest} seconds an answer). You can watch an answer and record it again "
        f"{'once' if RETAKES == 1 else f'{RETAKES} times'} before you send it. Only video is recorded, no sound.",
        "Each answer is sent to this server and analysed by emoscope, which reads facial expressions, blinks, "
        "face touches, gaze and head movement. These are cues, not a verdict on what you feel or who you are. "
        "No race, ethnicity, gender or age is inferred. The team that invited you sees the results. " + kept,
        "You may stop at any time by closing this page; the answers already sent are kept. To have your "
        "answers and results deleted, ask the person who invited you.",
        LAWFUL_USE_NOTICE,
    ])


def answer(invitation: Invitation, question: InvitationQuestion, interview: Interview) -> None:
    """Record ``interview`` as the answer to ``question`` (unanswered: the caller checked, in the same
    transaction); the invitation completes with its last answer."""
    question.interview_id, question.answered_at = interview.id, utcnow()
    if invitation.next_question() is None:
        invitation.completed_at = question.answered_at
