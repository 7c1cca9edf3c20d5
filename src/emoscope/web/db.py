"""The web app's database: candidates, their interviews (one uploaded video and a question each, an
analyst's notes and rating) and the analysis job of each interview; the analysts' accounts, their login
sessions and API tokens, the audit log and the settings an admin changes at run time. SQLAlchemy 2 on SQLite (default) or PostgreSQL; the schema is
made and upgraded by the Alembic revisions in :mod:`emoscope.web.migrations`, never by create_all."""

from __future__ import annotations

import enum
import re
import uuid
from datetime import datetime, timezone

from sqlalchemy import Boolean, Enum, ForeignKey, Integer, String, Text, create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship, sessionmaker


def new_id() -> str:
    return str(uuid.uuid4())


ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
"""The only form of an id :func:`new_id` makes; anything else names no row and never reaches the database
(PostgreSQL refuses a NUL in a query's text with an error, not an empty answer)."""


def utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)  # stored naive, always UTC


class JobState(str, enum.Enum):
    queued = "queued"
    running = "running"
    done = "done"
    failed = "failed"
    cancelled = "cancelled"
    interrupted = "interrupted"  # the server died while running it twice (or its video was gone)

    @property
    def finished(self) -> bool:
        return self not in (JobState.queued, JobState.running)


class Base(DeclarativeBase):
    pass


class Candidate(Base):
    __tablename__ = "candidates"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    interviews: Mapped[list[Interview]] = relationship(back_populates="candidate", cascade="all, delete-orphan",
                                                       passive_deletes=True, order_by="Interview.created_at")


class Interview(Base):
    __tablename__ = "interviews"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    candidate_id: Mapped[str] = mapped_column(ForeignKey("candidates.id", ondelete="CASCADE"), index=True)
    question: Mapped[str] = mapped_column(String(100), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # revision 0004: the analyst's review
    notes: Mapped[str | None] = mapped_column(Text)
    rating: Mapped[int | None] = mapped_column(Integer)  # 1-5, checked by the API
    reviewed_by: Mapped[str | None] = mapped_column(String(64))
    reviewed_at: Mapped[datetime | None]
    candidate: Mapped[Candidate] = relationship(back_populates="interviews")
    job: Mapped[Job] = relationship(back_populates="interview", cascade="all, delete-orphan", passive_deletes=True,
                                    uselist=False)


class Job(Base):
    __tablename__ = "jobs"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    interview_id: Mapped[str] = mapped_column(ForeignKey("interviews.id", ondelete="CASCADE"), unique=True)
    state: Mapped[JobState] = mapped_column(Enum(JobState, name="job_state", native_enum=False, length=16),
                                            default=JobState.queued, index=True)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    # revision 0002
    model: Mapped[str | None] = mapped_column(String(200))
    frames_done: Mapped[int] = mapped_column(Integer, default=0)
    frames_expected: Mapped[int] = mapped_column(Integer, default=0)
    # revision 0003: times the job was queued again because the server died while running it
    restarts: Mapped[int] = mapped_column(Integer, default=0)
    interview: Mapped[Interview] = relationship(back_populates="job")

    @property
    def percent(self) -> float:
        if self.state == JobState.done:
            return 100.0
        return round(100.0 * min(self.frames_done / self.frames_expected, 1.0), 1) if self.frames_expected else 0.0


class Role(str, enum.Enum):
    """What an account may do; each role may do all that the ones before it may."""

    viewer = "viewer"  # reads candidates, interviews and reports
    analyst = "analyst"  # adds candidates, uploads, reviews and deletes interviews
    admin = "admin"  # manages accounts, settings and retention; reads the audit log

    def at_least(self, other: Role) -> bool:
        order = list(Role)
        return order.index(self) >= order.index(other)


class User(Base):
    """An account (revision 0004). Never deleted, only disabled, so the audit log's names stay meaningful."""

    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[Role] = mapped_column(Enum(Role, name="user_role", native_enum=False, length=16))
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class LoginSession(Base):
    """A browser's login (revision 0004): the cookie holds a random secret, this row only its SHA-256."""

    __tablename__ = "login_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 of the cookie's value
    user_id: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    # a browser logged in with the server's --token has no user; it holds the token's SHA-256, so the
    # session ends when the server restarts with another token (or none)
    service_token_hash: Mapped[str | None] = mapped_column(String(64))
    csrf: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    user: Mapped[User | None] = relationship()


class ApiToken(Base):
    """A personal API token (revision 0004): only its SHA-256 is stored; revoked, it is kept for the record."""

    __tablename__ = "api_tokens"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    hint: Mapped[str] = mapped_column(String(16))  # the token's first characters, to tell tokens apart
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    user: Mapped[User] = relationship()


class AuditEntry(Base):
    """One line of the audit log (revision 0004): who did what to which row, when. Targets are named by
    id only, never by a person's name, so a line outlives the candidate it is about."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(64))  # a username, "service token" or "retention"
    user_id: Mapped[str | None] = mapped_column(String(36))  # no foreign key: the line outlives anything
    action: Mapped[str] = mapped_column(String(32), index=True)
    target_type: Mapped[str] = mapped_column(String(32))
    target_id: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[str] = mapped_column(String(300), default="")
    ip: Mapped[str | None] = mapped_column(String(45))


class AppSetting(Base):
    """A setting an admin changed in the dashboard (revision 0004), over the server's flag."""

    __tablename__ = "app_settings"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(200))


def _lower(value):
    return value.lower() if isinstance(value, str) else value


def make_engine(url: str) -> Engine:
    """An engine for ``url``; ``postgresql://`` uses psycopg 3. SQLite gets foreign keys (for the
    cascades), WAL, a busy timeout, since the API's threads write beside the job dispatcher, and a
    Unicode lower()."""
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    if not url.startswith("sqlite"):
        return create_engine(url, pool_pre_ping=True)
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

    @event.listens_for(engine, "connect")
    def _pragmas(connection, _record) -> None:
        cursor = connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.close()
        # SQLite's own lower() knows only ASCII: Python's makes the name search find "Émile" by "émile",
        # as PostgreSQL's lower() does
        connection.create_function("lower", 1, _lower, deterministic=True)

    return engine


def make_sessions(engine: Engine) -> sessionmaker:
    return sessionmaker(engine, expire_on_commit=False)
