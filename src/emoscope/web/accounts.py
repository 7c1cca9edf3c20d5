"""The analysts' accounts: users with a role, argon2id password hashes, login sessions, personal API
tokens, and the limit on failed logins. Session cookies and API tokens are random 256-bit secrets, so
the database keeps only their SHA-256 (a slow hash adds nothing to a secret that cannot be guessed);
passwords, which can be guessed, get argon2id."""

from __future__ import annotations

import hashlib
import re
import secrets
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass
from datetime import timedelta
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select, update

from emoscope.errors import EmoscopeError
from emoscope.web.db import ApiToken, LoginSession, Role, User, utcnow

SESSION_HOURS = 12
"""A login lasts this long (then the browser logs in again); logging out or disabling the user ends it sooner."""
TOKEN_PREFIX = "emo_"
USERNAME = re.compile(r"[a-z0-9][a-z0-9._@-]{1,63}")
MIN_PASSWORD = 10
SERVICE_NAME = "service token"
"""Who the server's own ``--token`` acts as: an admin without an account, for scripts."""
_TOKEN_USE_WRITE_S = 60  # last_used_at is written at most once a minute per token, not on every request

_hasher = PasswordHasher()  # argon2id with the library's RFC 9106 "low memory" parameters


class AccountError(EmoscopeError):
    """A refused change to an account (bad name, short password, the last admin): one line for the user."""


@dataclass(frozen=True)
class Principal:
    """Who sends a request: a user (by a login session or an API token) or the server's ``--token``."""

    name: str
    role: Role
    user_id: str | None  # None: the server's --token
    csrf: str | None  # the login session's CSRF token; None when a bearer token authenticates the request
    ip: str | None = None

    def may(self, role: Role | str) -> bool:
        return self.role.at_least(Role(role))

    @classmethod
    def of(cls, user: User | None, csrf: str | None, ip: str | None) -> Principal:
        if user is None:
            return cls(SERVICE_NAME, Role.admin, None, csrf, ip)
        return cls(user.username, user.role, user.id, csrf, ip)


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


# -- users ---------------------------------------------------------------------------------------------

def check_username(username: str) -> str:
    name = username.strip().lower()
    if not USERNAME.fullmatch(name):
        raise AccountError("a username is 2-64 characters: lower-case letters, digits and . _ @ - "
                           "(starting with a letter or digit)")
    return name


def check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"a password needs at least {MIN_PASSWORD} characters")
    if len(password) > 1024:
        raise AccountError("a password has at most 1024 characters")
    return password


def create_user(session, username: str, password: str, role: Role | str) -> User:
    name = check_username(username)
    if session.scalar(select(User.id).where(User.username == name)) is not None:
        raise AccountError(f"the username {name!r} is taken")
    user = User(username=name, password_hash=_hasher.hash(check_password(password)), role=Role(role))
    session.add(user)
    session.flush()
    return user


def has_admin(session) -> bool:
    return session.scalar(select(func.count()).select_from(User).where(User.role == Role.admin,
                                                                        User.disabled.is_(False))) > 0


@cache
def _decoy_hash() -> str:
    return _hasher.hash("a password no account has")


def authenticate(session, username: str, password: str) -> User | None:
    """The enabled user with this name and password, else None. An unknown name costs the same argon2
    verification as a known one, so the time taken does not tell which names exist."""
    user = session.scalar(select(User).where(User.username == username.strip().lower()))
    try:
        _hasher.verify(user.password_hash if user is not None else _decoy_hash(), password)
    except (VerificationError, InvalidHashError):
        return None
    if user is None or user.disabled:
        return None
    if _hasher.check_needs_rehash(user.password_hash):  # the library's parameters got stronger
        user.password_hash = _hasher.hash(password)
    return user


def set_password(session, user: User, password: str) -> None:
    """A new password ends every login session of the user (other browsers included)."""
    user.password_hash = _hasher.hash(check_password(password))
    end_sessions_of(session, user.id)


def _is_last_admin(session, user: User) -> bool:
    if user.role != Role.admin or user.disabled:
        return False
    others = session.scalar(select(func.count()).select_from(User).where(
        User.role == Role.admin, User.disabled.is_(False), User.id != user.id))
    return others == 0


def set_role(session, user: User, role: Role | str) -> None:
    role = Role(role)
    if role != Role.admin and _is_last_admin(session, user):
        raise AccountError("the last enabled admin keeps the admin role (make another admin first)")
    user.role = role


def set_disabled(session, user: User, disabled: bool) -> None:
    """A disabled user cannot log in, and their sessions and API tokens stop working at once."""
    if disabled and _is_last_admin(session, user):
        raise AccountError("the last enabled admin cannot be disabled (make another admin first)")
    user.disabled = disabled
    if disabled:
        end_sessions_of(session, user.id)


# -- login sessions ------------------------------------------------------------------------------------

def start_session(session, user: User | None, service_token: str | None = None) -> tuple[str, LoginSession]:
    """A new login: (the cookie's value, its row). ``user`` None is a login with the server's --token."""
    raw = secrets.token_urlsafe(32)
    login = LoginSession(id=digest(raw), user_id=user.id if user else None,
                         service_token_hash=digest(service_token) if user is None else None,
                         csrf=secrets.token_urlsafe(32), expires_at=utcnow() + timedelta(hours=SESSION_HOURS))
    session.add(login)
    return raw, login


def find_session(session, raw: str, service_token: str | None) -> tuple[LoginSession, User | None] | None:
    """The unexpired login of this cookie and its (enabled) user; a --token login only while the
    server runs with the same token."""
    login = session.get(LoginSession, digest(raw))
    if login is None or login.expires_at <= utcnow():
        return None
    if login.user_id is None:
        if service_token is None or not secrets.compare_digest(login.service_token_hash or "", digest(service_token)):
            return None
        return login, None
    if login.user.disabled:
        return None
    return login, login.user


def end_session(session, raw: str) -> None:
    login = session.get(LoginSession, digest(raw))
    if login is not None:
        session.delete(login)


def end_sessions_of(session, user_id: str) -> None:
    for login in session.scalars(select(LoginSession).where(LoginSession.user_id == user_id)):
        session.delete(login)


def forget_expired_sessions(session) -> int:
    expired = session.scalars(select(LoginSession).where(LoginSession.expires_at <= utcnow())).all()
    for login in expired:
        session.delete(login)
    return len(expired)


# -- API tokens ----------------------------------------------------------------------------------------

def create_token(session, user: User, name: str) -> tuple[str, ApiToken]:
    """A new token of ``user``: (the token, shown once; its row, which keeps only its SHA-256)."""
    name = " ".join(name.split())
    if not 1 <= len(name) <= 100:
        raise AccountError("a token's name is 1-100 characters (what it is for, e.g. 'nightly export')")
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(user_id=user.id, name=name, token_hash=digest(raw), hint=raw[:10])
    session.add(token)
    session.flush()
    return raw, token


def token_owner(session, raw: str) -> User | None:
    """The enabled user whose unrevoked token this is, else None."""
    if not raw.startswith(TOKEN_PREFIX):
        return None
    token = session.scalar(select(ApiToken).where(ApiToken.token_hash == digest(raw), ApiToken.revoked_at.is_(None)))
    if token is None or token.user.disabled:
        return None
    now = utcnow()
    if token.last_used_at is None or (now - token.last_used_at).total_seconds() > _TOKEN_USE_WRITE_S:
        session.execute(update(ApiToken).where(ApiToken.id == token.id).values(last_used_at=now))
    return token.user


def tokens_of(session, user_id: str | None = None) -> list[ApiToken]:
    """The tokens of one user (or of everyone), newest first."""
    query = select(ApiToken).order_by(ApiToken.created_at.desc())
    if user_id is not None:
        query = query.where(ApiToken.user_id == user_id)
    return list(session.scalars(query))


def revoke_token(session, token: ApiToken) -> None:
    if token.revoked_at is None:
        token.revoked_at = utcnow()


# -- failed logins -------------------------------------------------------------------------------------

class LoginLimiter:
    """At most ``failures`` failed logins per key (a username and the client's address) in a sliding
    window of ``window_s`` seconds; beyond that the key waits. In memory, per server process."""

    max_keys = 10_000

    def __init__(self, failures: int = 5, window_s: float = 60.0):
        self.failures, self.window_s = failures, window_s
        self._seen: dict[tuple, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def _recent(self, key: tuple, now: float) -> deque[float]:
        times = self._seen[key]
        while times and times[0] <= now - self.window_s:
            times.popleft()
        return times

    def retry_after(self, key: tuple) -> int | None:
        """Whole seconds until ``key`` may try again, or None when it may now."""
        now = time.monotonic()
        with self._lock:
            times = self._recent(key, now)
            if len(times) < self.failures:
                if not times:
                    self._seen.pop(key, None)
                return None
            return max(1, int(times[0] + self.window_s - now + 0.999))

    def failed(self, key: tuple) -> None:
        now = time.monotonic()
        with self._lock:
            self._recent(key, now).append(now)
            if len(self._seen) > self.max_keys:  # many names tried: forget those whose failures are old
                for stale in [k for k, times in self._seen.items() if times[-1] <= now - self.window_s]:
                    del self._seen[stale]

    def succeeded(self, key: tuple) -> None:
        with self._lock:
            self._seen.pop(key, None)
