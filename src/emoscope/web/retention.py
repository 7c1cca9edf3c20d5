"""Deleting data: a candidate or an interview with every file and row of it, and the retention sweep
that deletes what is older than ``--retention-days`` (interview videos and reports are personal data).
Files go first, then rows: a failure leaves rows pointing at nothing, never files that no row names."""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import select

from emoscope.web.db import Candidate, Interview, Job, JobState, utcnow
from emoscope.web.settings import Settings
from emoscope.web.storage import Storage

log = logging.getLogger("emoscope.web")
UNFINISHED = (JobState.queued, JobState.running)


def delete_interview(session, storage: Storage, interview: Interview) -> None:
    storage.remove_interview(interview.candidate_id, interview.id)
    session.delete(interview)


def delete_candidate(session, storage: Storage, candidate: Candidate) -> None:
    storage.remove_candidate(candidate.id)
    session.delete(candidate)


def sweep(settings: Settings, sessions, storage: Storage) -> int:
    """Delete finished interviews older than the retention period, then candidates older than it who
    have none left; returns how many interviews went. Running jobs are left to finish."""
    if settings.retention_days is None:
        return 0
    cutoff = utcnow() - timedelta(days=settings.retention_days)
    with sessions.begin() as session:
        old = session.scalars(select(Interview).join(Job).where(Interview.created_at < cutoff,
                                                                Job.state.not_in(UNFINISHED))).all()
        for interview in old:
            delete_interview(session, storage, interview)
        session.flush()
        for candidate in session.scalars(select(Candidate).where(Candidate.created_at < cutoff)):
            if not candidate.interviews:
                delete_candidate(session, storage, candidate)
    if old:
        log.info("retention: deleted %d interviews older than %g days", len(old), settings.retention_days)
    return len(old)
