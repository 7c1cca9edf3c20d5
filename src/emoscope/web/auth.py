"""The token: ``Authorization: Bearer TOKEN`` for the API, a cookie (set by the login page) for the
dashboard's pages; checked in constant time against the app's settings."""

from __future__ import annotations

import secrets

from fastapi import HTTPException, Request

from emoscope.web.services import services

COOKIE = "emoscope_token"


class LoginRequired(Exception):
    """A page was asked for without the token: the browser goes to the login page."""

    def __init__(self, next_url: str):
        self.next_url = next_url


def _presented_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value:
        return value.strip()
    return request.cookies.get(COOKIE)


def _valid(request: Request, token: str | None) -> bool:
    expected = services(request).settings.token
    return token is not None and secrets.compare_digest(token.encode(), expected.encode())


def require_token(request: Request) -> None:
    """For the API: ``Authorization: Bearer TOKEN`` (or the dashboard's cookie)."""
    if not _valid(request, _presented_token(request)):
        raise HTTPException(401, "missing or wrong API token (send Authorization: Bearer TOKEN)",
                            headers={"WWW-Authenticate": "Bearer"})


def require_login(request: Request) -> None:
    """For the dashboard's pages: the cookie set by the login page (or a ``?token=`` link, which sets it)."""
    if not _valid(request, _presented_token(request)):
        raise LoginRequired(request.url.path)


def set_login_cookie(response, token: str):
    # HttpOnly: no script reads it; SameSite=Strict: other sites cannot make the browser send it (CSRF)
    response.set_cookie(COOKIE, token, httponly=True, samesite="strict")
    return response
