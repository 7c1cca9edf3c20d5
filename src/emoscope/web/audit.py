"""The audit log: who viewed, downloaded, exported, created, changed or deleted what, and when. A line
names its target by type and id only, never by a person's name, so deleting a candidate leaves their
lines with no personal data in them; the actor is the analyst's username (or "service token")."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

from sqlalchemy import select

from emoscope.web.accounts import Principal
from emoscope.web.db import AuditEntry
from emoscope.web.listing import Page, paginate

PER_PAGE = 50
COLUMNS = ("at", "actor", "action", "target_type", "target_id", "detail", "ip")


def record(session, who: Principal | None, action: str, target_type: str, target_id: str | None = None,
           detail: str = "", actor: str = "server", ip: str | None = None) -> None:
    """Add a line in ``session``'s transaction (so it is kept exactly when the change is). ``who`` None
    is no one logged in: ``actor`` names who it was ("anonymous", or a part of the server: "retention")."""
    session.add(AuditEntry(actor=who.name if who else actor, user_id=who.user_id if who else None,
                           action=action, target_type=target_type, target_id=target_id,
                           detail=" ".join(detail.split())[:300], ip=who.ip if who else ip))


def log(sessions, who: Principal | None, action: str, target_type: str, target_id: str | None = None,
        detail: str = "") -> None:
    """:func:`record` in a transaction of its own (for reads, which change nothing else)."""
    with sessions.begin() as session:
        record(session, who, action, target_type, target_id, detail)


def _filtered(action: str | None, actor: str | None):
    query = select(AuditEntry).order_by(AuditEntry.id.desc())
    if action:
        query = query.where(AuditEntry.action == action)
    if actor:
        query = query.where(AuditEntry.actor == actor)
    return query


def page(session, number: int, action: str | None = None, actor: str | None = None) -> Page:
    """Newest first, ``PER_PAGE`` lines a page, optionally one action's or one actor's."""
    return paginate(session, _filtered(action, actor), number, PER_PAGE)


def csv_lines(sessions, action: str | None = None, actor: str | None = None) -> Iterator[str]:
    """The whole log (or the filtered part), newest first, as CSV text in chunks of 500 lines."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(COLUMNS)
    with sessions() as session:
        for number, entry in enumerate(session.scalars(_filtered(action, actor).execution_options(yield_per=500)), 1):
            writer.writerow([entry.at.isoformat(timespec="seconds") + "Z", entry.actor, entry.action,
                             entry.target_type, entry.target_id or "", _no_formula(entry.detail), entry.ip or ""])
            if number % 500 == 0:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
    yield buffer.getvalue()


def _no_formula(text: str) -> str:
    """A cell a spreadsheet would run as a formula (=, +, -, @) is kept as text."""
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text
