"""Pages of a long list (the candidates, the audit log) and the candidates' search by name."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Select, func, select

from emoscope.web.db import Candidate

PER_PAGE = 25


@dataclass
class Page:
    items: list
    number: int  # 1-based
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    @property
    def previous(self) -> int | None:
        return self.number - 1 if self.number > 1 else None

    @property
    def next(self) -> int | None:
        return self.number + 1 if self.number < self.pages else None


def paginate(session, query: Select, number: int, per_page: int = PER_PAGE) -> Page:
    """Page ``number`` of the rows ``query`` selects (a number past the end gives the last page)."""
    total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    number = min(max(1, number), max(1, -(-total // per_page)))
    items = list(session.scalars(query.limit(per_page).offset((number - 1) * per_page)))
    return Page(items, number, per_page, total)


def candidates_named(search: str | None) -> Select:
    """The candidates whose name holds ``search`` (any case; a ``%`` or ``_`` in it is literal), oldest first."""
    query = select(Candidate).order_by(Candidate.created_at, Candidate.id)
    if search and search.strip():
        query = query.where(func.lower(Candidate.name).contains(search.strip().lower(), autoescape=True))
    return query
