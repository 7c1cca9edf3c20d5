"""Who is asking, and may they: every route but the health checks, the login and the first admin's
setup declares the least role it needs with ``Depends(require_role("viewer" | "analyst" | "admin"))``.

A request is authenticated by, in this order:

- ``Authorization: Bearer TOKEN``: a user's personal API token (``emo_…``, made on the settings page),
  or the server's own ``--token``, which acts as an admin without an account (for scripts);
- the ``emoscope_session`` cookie of a browser that logged in (HttpOnly, SameSite=Lax): a row in
  ``login_sessions``. A request with the cookie that changes something (any method but GET/HEAD/OPTIONS)
  must also carry the session's CSRF token, in the ``X-CSRF-Token`` header or a form's ``csrf`` field;
  bearer requests need none, since no browser sends a bearer token by itself.

Anonymous requests get ``401`` on the API (``/v1/…``, ``/openapi.json``) and are sent to the login page
elsewhere; a role too low gets ``403``. The forms of anonymous pages (login, setup) are protected by a
double-submit cookie (:func:`form_csrf`, :func:`check_form_csrf`)."""

from __future__ import annotations

import secrets
from urllib.parse import urlsplit

from fastapi import HTTPException, Request
from starlette.concurrency import run_in_threadpool

from emoscope.web.accounts import SESSION_HOURS, Principal, find_session, token_owner
from emoscope.web.db import Role
from emoscope.web.services import services

COOKIE = "emoscope_session"
FORM_CSRF_COOKIE = "emoscope_form"
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_UNKNOWN = object()


class LoginRequired(Exception):
    """No one is logged in: 401 on the API, the login page elsewhere (see the app's handler)."""

    def __init__(self, next_url: str):
        self.next_url = next_url


def is_api(path: str) -> bool:
    return path.startswith("/v1/") or path == "/openapi.json"


def _bearer(request: Request) -> str | None:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def is_service_token(request: Request, presented: str) -> bool:
    expected = services(request).settings.token
    return expected is not None and secrets.compare_digest(presented.encode(), expected.encode())


def _identify(request: Request) -> Principal | None:
    svc = services(request)
    ip = request.client.host if request.client else None
    bearer = _bearer(request)
    if bearer is not None:  # a wrong bearer token is a failure, not a reason to look at the cookie
        if is_service_token(request, bearer):
            return Principal.of(None, None, ip)
        with svc.sessions.begin() as session:
            user = token_owner(session, bearer)
            return Principal.of(user, None, ip) if user is not None else None
    cookie = request.cookies.get(COOKIE)
    if not cookie:
        return None
    with svc.sessions() as session:
        found = find_session(session, cookie, svc.settings.token)
        return Principal.of(found[1], found[0].csrf, ip) if found is not None else None


async def current_principal(request: Request) -> Principal | None:
    """Who sends ``request`` (None: no one logged in), looked up once per request."""
    known = getattr(request.state, "principal", _UNKNOWN)
    if known is _UNKNOWN:
        known = request.state.principal = await run_in_threadpool(_identify, request)
    return known


async def _check_csrf(request: Request, expected: str) -> None:
    presented = request.headers.get(CSRF_HEADER)
    if presented is None and request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        presented = (await request.form()).get(CSRF_FIELD)  # a page's form; multipart bodies use the header
    if not isinstance(presented, str) or not secrets.compare_digest(presented.encode(), expected.encode()):
        raise HTTPException(403, "missing or wrong CSRF token: reload the page and try again")


def require_role(role: Role | str):
    """The dependency a route declares to admit ``role`` and the roles above it (viewer < analyst < admin)::

        @router.get("/v1/things", dependencies=[Depends(require_role("viewer"))])
        def things(who: Principal = Depends(require_role("analyst"))): ...   # or take who is asking

    It returns the :class:`~emoscope.web.accounts.Principal`; it raises :class:`LoginRequired` for no
    one, 403 for a role too low, and 403 for a browser's change without the session's CSRF token."""
    needed = Role(role)

    async def dependency(request: Request) -> Principal:
        who = await current_principal(request)
        if who is None:
            raise LoginRequired(request.url.path)
        if who.csrf is not None and request.method not in SAFE_METHODS:
            await _check_csrf(request, who.csrf)
        if not who.may(needed):
            raise HTTPException(403, f"this needs the {needed.value} role or higher (you are {who.role.value})")
        return who

    return dependency


def local_path(url: str | None) -> str:
    """Only a path on this server may be where a login or a form leads: no scheme, no host, no //host,
    and no backslash (browsers read /\\host as //host)."""
    if not url or not url.startswith("/") or url.startswith("//") or "\\" in url or urlsplit(url).netloc:
        return "/"
    return url


def set_session_cookie(request: Request, response, raw: str):
    response.set_cookie(COOKIE, raw, max_age=SESSION_HOURS * 3600, httponly=True, samesite="lax",
                        secure=request.url.scheme == "https", path="/")
    return response


def clear_session_cookie(response):
    response.delete_cookie(COOKIE, path="/")
    return response


def form_csrf(request: Request) -> str:
    """The double-submit token of an anonymous form: the browser's cookie, or a new one that
    :func:`keep_form_csrf` sets on the page's response."""
    return request.cookies.get(FORM_CSRF_COOKIE) or secrets.token_urlsafe(32)


def keep_form_csrf(request: Request, response, token: str):
    response.set_cookie(FORM_CSRF_COOKIE, token, httponly=True, samesite="lax",
                        secure=request.url.scheme == "https", path="/")
    return response


def check_form_csrf(request: Request, presented: str | None) -> None:
    """An anonymous form's field must equal the cookie: another site can make a browser post a form, but
    cannot read or set this site's cookie to match."""
    cookie = request.cookies.get(FORM_CSRF_COOKIE)
    if not cookie or not presented or not secrets.compare_digest(cookie.encode(), presented.encode()):
        raise HTTPException(403, "missing or wrong CSRF token: reload the page and try again")

