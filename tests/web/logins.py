"""Accounts for the web app's tests: users made in the app's database, logins through the login form
(or straight into a session row, where a test needs many), and the CSRF token a page carries."""

from __future__ import annotations

import re

PASSWORD = "correct horse battery"
CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)">')


def add_user(app, username: str, role: str, password: str = PASSWORD) -> str:
    """A user in the running app's database; returns their id."""
    from emoscope.web.accounts import create_user

    with app.state.services.sessions.begin() as session:
        return create_user(session, username, password, role).id


def form_token(client, path: str = "/login") -> str:
    """The double-submit token of an anonymous form (the page sets its cookie)."""
    page = client.get(path)
    return re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)


def log_in(client, username: str, password: str = PASSWORD, next_url: str = "/"):
    """Log ``client`` in through the login form, as a browser does; returns the response (303 when right)."""
    return client.post("/login", data={"username": username, "password": password, "next": next_url,
                                       "csrf": form_token(client)}, follow_redirects=False)


def page_csrf(client, path: str = "/") -> str:
    """The CSRF token of the logged-in session, read from a page as the dashboard's script does."""
    return CSRF_META.search(client.get(path).text).group(1)


def session_for(app, client, user_id: str) -> str:
    """Log ``client`` in as ``user_id`` by a session row (no password check: for tests that need many
    logins); returns the session's CSRF token."""
    from emoscope.web.accounts import start_session
    from emoscope.web.auth import COOKIE
    from emoscope.web.db import User

    with app.state.services.sessions.begin() as session:
        raw, login = start_session(session, session.get(User, user_id))
        csrf = login.csrf
    client.cookies.set(COOKIE, raw)
    return csrf
