"""Logging in and out, the first admin's setup (the one-time link `emoscope serve` prints while no admin
exists), and each user's settings page: their API tokens and their password."""

from __future__ import annotations

import secrets

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from emoscope.web import accounts, audit
from emoscope.web.accounts import AccountError, Principal
from emoscope.web.auth import (COOKIE, check_form_csrf, clear_session_cookie, form_csrf, is_service_token,
                               keep_form_csrf, local_path, require_role, set_session_cookie)
from emoscope.web.db import ID, ApiToken, Role, User
from emoscope.web.services import Services, services

router = APIRouter(include_in_schema=False)
SIGNED_IN = require_role("viewer")


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _form_page(request: Request, svc: Services, template: str, context: dict, status_code: int = 200,
               headers: dict | None = None):
    """An anonymous page with a form, its double-submit CSRF cookie set."""
    token = form_csrf(request)
    response = svc.templates.TemplateResponse(request, template, {**context, "csrf": token},
                                              status_code=status_code, headers=headers)
    return keep_form_csrf(request, response, token)


def _logged_in(request: Request, svc: Services, user: User | None, next_url: str, action_detail: str):
    """Start a login session for ``user`` (None: the server's --token) and go to ``next_url``; a session
    the browser had before ends (a cookie planted before the login is worth nothing after it)."""
    with svc.sessions.begin() as session:
        if (previous := request.cookies.get(COOKIE)) is not None:
            accounts.end_session(session, previous)
        raw, _ = accounts.start_session(session, user, svc.settings.token)
        who = Principal.of(user, None, _client(request))
        audit.record(session, who, "login", "user", user.id if user else None, action_detail)
    return set_session_cookie(request, RedirectResponse(local_path(next_url), status_code=303), raw)


def _too_many(request: Request, svc: Services, key: tuple, context: dict):
    wait = request.app.state.login_limiter.retry_after(key)
    if wait is None:
        return None
    return _form_page(request, svc, "login.html", {**context, "error": f"Too many failed logins: try again in "
                                                                        f"{wait} s."},
                      status_code=429, headers={"Retry-After": str(wait)})


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, next: str = "/", token: str | None = None, svc: Services = Depends(services)):
    """The login form; ``?token=`` (a link with the server's --token, for scripts and tests) logs in at once."""
    context = {"next": local_path(next), "error": None}
    if token is None:
        return _form_page(request, svc, "login.html", context)
    key = ("--token", _client(request))
    if (refused := _too_many(request, svc, key, context)) is not None:
        return refused
    if not is_service_token(request, token):
        request.app.state.login_limiter.failed(key)
        return _form_page(request, svc, "login.html", {**context, "error": "Wrong token."}, status_code=401)
    return _logged_in(request, svc, None, next, "with the server's --token")


@router.post("/login", response_class=HTMLResponse)
def login(request: Request, username: str = Form("", max_length=200), password: str = Form("", max_length=1024),
          next: str = Form("/"), csrf: str = Form(""), svc: Services = Depends(services)):
    check_form_csrf(request, csrf)
    name = username.strip().lower()
    context = {"next": local_path(next), "error": None, "username": name}
    key = (name, _client(request))
    if (refused := _too_many(request, svc, key, context)) is not None:
        return refused
    with svc.sessions.begin() as session:
        user = accounts.authenticate(session, name, password)
        if user is None:
            audit.record(session, None, "login failed", "user", None, f"username {name[:64]}", actor="anonymous",
                         ip=_client(request))
    if user is None:
        request.app.state.login_limiter.failed(key)
        return _form_page(request, svc, "login.html", {**context, "error": "Wrong username or password."},
                          status_code=401)
    request.app.state.login_limiter.succeeded(key)
    return _logged_in(request, svc, user, next, "")


@router.post("/logout")
def logout(request: Request, svc: Services = Depends(services), who: Principal = Depends(SIGNED_IN)):
    with svc.sessions.begin() as session:
        if (cookie := request.cookies.get(COOKIE)) is not None:
            accounts.end_session(session, cookie)
        audit.record(session, who, "logout", "user", who.user_id)
    return clear_session_cookie(RedirectResponse("/login", status_code=303))


# -- the first admin -------------------------------------------------------------------------------------

def _setup_code(request: Request, code: str) -> None:
    """404 unless a setup is pending and ``code`` is its one-time code."""
    expected = request.app.state.setup_code
    if expected is None or not secrets.compare_digest(code.encode(), expected.encode()):
        raise HTTPException(404, "no first-admin setup is pending under this link (an admin exists, or the "
                                 "link is from another start of the server)")


@router.get("/setup", response_class=HTMLResponse)
def setup_page(request: Request, code: str = "", svc: Services = Depends(services)):
    """The first admin's form, reached by the one-time link `emoscope serve` prints while no admin exists."""
    _setup_code(request, code)
    return _form_page(request, svc, "setup.html", {"code": code, "error": None})


@router.post("/setup", response_class=HTMLResponse)
def setup(request: Request, code: str = Form(""), username: str = Form("", max_length=200),
          password: str = Form("", max_length=1024), again: str = Form("", max_length=1024), csrf: str = Form(""),
          svc: Services = Depends(services)):
    check_form_csrf(request, csrf)
    _setup_code(request, code)
    try:
        if password != again:
            raise AccountError("the two passwords differ")
        with svc.sessions.begin() as session:
            if accounts.has_admin(session):
                raise AccountError("an admin exists already: log in")
            user = accounts.create_user(session, username, password, Role.admin)
            audit.record(session, Principal.of(user, None, _client(request)), "create", "user", user.id,
                         "the first admin, by the setup link")
    except AccountError as exc:
        return _form_page(request, svc, "setup.html", {"code": code, "error": str(exc), "username": username},
                          status_code=400)
    request.app.state.setup_code = None  # one time only
    return _logged_in(request, svc, user, "/", "after setting up the first admin")


# -- a user's own settings: API tokens and password -----------------------------------------------------

def _settings_page(request: Request, svc: Services, who: Principal, new_token: str | None = None,
                   error: str | None = None, status_code: int = 200):
    with svc.sessions() as session:
        tokens = accounts.tokens_of(session, who.user_id) if who.user_id else []
        return svc.templates.TemplateResponse(request, "settings.html", {
            "tokens": tokens, "new_token": new_token, "error": error}, status_code=status_code)


@router.get("/settings", response_class=HTMLResponse)
def settings_page(request: Request, svc: Services = Depends(services), who: Principal = Depends(SIGNED_IN)):
    return _settings_page(request, svc, who)


def _own_user(session, who: Principal) -> User:
    if who.user_id is None:
        raise HTTPException(400, "the server's --token has no account: log in as a user to make API tokens")
    return session.get(User, who.user_id)


@router.post("/settings/tokens", response_class=HTMLResponse)
def create_token(request: Request, name: str = Form("", max_length=200), svc: Services = Depends(services),
                 who: Principal = Depends(SIGNED_IN)):
    """A new API token of the user, shown once on the page that answers (only its hash is kept)."""
    try:
        with svc.sessions.begin() as session:
            raw, token = accounts.create_token(session, _own_user(session, who), name)
            audit.record(session, who, "create", "api token", token.id, token.name)
    except AccountError as exc:
        return _settings_page(request, svc, who, error=str(exc), status_code=400)
    return _settings_page(request, svc, who, new_token=raw)


@router.post("/settings/tokens/{token_id}/revoke")
def revoke_token(token_id: str, request: Request, next: str = Form("/settings"), svc: Services = Depends(services),
                 who: Principal = Depends(SIGNED_IN)):
    """Revoke one of the user's own tokens; an admin may revoke anyone's."""
    with svc.sessions.begin() as session:
        token = session.get(ApiToken, token_id) if ID.fullmatch(token_id) else None
        if token is None or not (token.user_id == who.user_id or who.may(Role.admin)):
            raise HTTPException(404, "no such API token")
        accounts.revoke_token(session, token)
        audit.record(session, who, "revoke", "api token", token.id, f"of {token.user.username}")
    return RedirectResponse(local_path(next), status_code=303)


@router.post("/settings/password", response_class=HTMLResponse)
def change_password(request: Request, current: str = Form("", max_length=1024),
                          password: str = Form("", max_length=1024), again: str = Form("", max_length=1024),
                          svc: Services = Depends(services), who: Principal = Depends(SIGNED_IN)):
    """A new password ends every login of the user; this browser gets a fresh one."""
    try:
        if password != again:
            raise AccountError("the two new passwords differ")
        with svc.sessions.begin() as session:
            user = _own_user(session, who)
            if accounts.authenticate(session, user.username, current) is None:
                raise AccountError("the current password is wrong")
            accounts.set_password(session, user, password)
            audit.record(session, who, "update", "user", user.id, "password")
    except AccountError as exc:
        return _settings_page(request, svc, who, error=str(exc), status_code=400)
    return _logged_in(request, svc, user, "/settings", "after changing the password")
