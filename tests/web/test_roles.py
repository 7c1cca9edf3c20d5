"""Who may call what: every route of the app (walked from the app object) must have a row in ROLE_OF,
so a route added without one fails here. Each route is called by no one, a viewer, an analyst and an
admin (each with a login session and, for a change, its CSRF token), with unknown ids: anonymous gets
401 on the API and the login page elsewhere, a role below the route's gets 403, the others get past
the check (whatever the route then answers for an unknown id). On SQLite and on PostgreSQL."""

from __future__ import annotations

import uuid

from web.app_routes import app_routes
from web.logins import add_user

PUBLIC = None
ROLE_OF = {
    # health checks, logging in, the first admin's setup, and the candidates' invitation pages (the
    # invitation's one-time token is their only key)
    ("GET", "/healthz"): PUBLIC, ("GET", "/readyz"): PUBLIC,
    ("GET", "/login"): PUBLIC, ("POST", "/login"): PUBLIC,
    ("GET", "/setup"): PUBLIC, ("POST", "/setup"): PUBLIC,
    ("GET", "/invite/{token}"): PUBLIC, ("POST", "/invite/{token}/consent"): PUBLIC,
    ("POST", "/invite/{token}/answers/{position}"): PUBLIC,
    # anyone logged in: reading, the API's reference, their own settings
    ("GET", "/openapi.json"): "viewer", ("GET", "/docs"): "viewer",
    ("GET", "/"): "viewer", ("GET", "/candidates/{candidate_id}"): "viewer",
    ("GET", "/interviews/{interview_id}"): "viewer", ("GET", "/compare"): "viewer",
    ("POST", "/logout"): "viewer", ("GET", "/settings"): "viewer", ("POST", "/settings/tokens"): "viewer",
    ("POST", "/settings/tokens/{token_id}/revoke"): "viewer", ("POST", "/settings/password"): "viewer",
    ("GET", "/v1/candidates"): "viewer", ("GET", "/v1/candidates/{candidate_id}"): "viewer",
    ("GET", "/v1/interviews"): "viewer", ("GET", "/v1/interviews/{interview_id}"): "viewer",
    ("GET", "/v1/interviews/{interview_id}/report"): "viewer",
    ("GET", "/v1/interviews/{interview_id}/report.html"): "viewer",
    ("GET", "/v1/interviews/{interview_id}/frames"): "viewer",
    ("GET", "/v1/interviews/{interview_id}/charts"): "viewer",
    ("GET", "/v1/interviews/{interview_id}/charts/{name}"): "viewer",
    ("GET", "/v1/candidates/{candidate_id}/report.pdf"): "viewer",
    ("GET", "/v1/interviews/{interview_id}/report.pdf"): "viewer",
    ("GET", "/v1/compare"): "viewer", ("GET", "/v1/jobs"): "viewer", ("GET", "/v1/jobs/{job_id}"): "viewer",
    ("GET", "/v1/jobs/{job_id}/events"): "viewer", ("GET", "/v1/models"): "viewer",
    # analysts: candidates, uploads, reviews, invitations, deletions, photos
    ("POST", "/v1/candidates"): "analyst", ("DELETE", "/v1/candidates/{candidate_id}"): "analyst",
    ("POST", "/v1/candidates/{candidate_id}/interviews"): "analyst",
    ("PUT", "/v1/interviews/{interview_id}/review"): "analyst",
    ("DELETE", "/v1/interviews/{interview_id}"): "analyst", ("POST", "/v1/jobs/{job_id}/cancel"): "analyst",
    ("POST", "/v1/images:analyze"): "analyst", ("POST", "/interviews/{interview_id}/review"): "analyst",
    ("POST", "/v1/candidates/{candidate_id}/invitations"): "analyst",
    ("GET", "/v1/candidates/{candidate_id}/invitations"): "analyst",
    ("GET", "/v1/invitations/{invitation_id}"): "analyst", ("POST", "/v1/invitations/{invitation_id}/revoke"): "analyst",
    ("GET", "/candidates/{candidate_id}/invitations"): "analyst",
    ("POST", "/candidates/{candidate_id}/invitations"): "analyst",
    ("POST", "/invitations/{invitation_id}/revoke"): "analyst",
    # admins: accounts, the audit log, settings
    ("GET", "/admin/users"): "admin", ("POST", "/admin/users"): "admin", ("POST", "/admin/users/{user_id}"): "admin",
    ("GET", "/admin/audit"): "admin", ("GET", "/admin/audit.csv"): "admin",
    ("GET", "/admin/settings"): "admin", ("POST", "/admin/settings"): "admin",
}
ROLES = ("viewer", "analyst", "admin")


def _denied_by_role(response) -> bool:
    return response.status_code == 403 and "role or higher" in response.text


def _sent_to_login(response) -> bool:
    return response.status_code == 401 or (response.status_code == 303
                                           and response.headers["location"].startswith("/login?next="))


def test_every_route_has_a_row_and_each_role_gets_what_its_row_says(make_server):
    server = make_server()
    app, client = server.client.app, server.client
    routes = {(method, route.path): route for route in app_routes(app) for method in route.methods}
    assert set(routes) - set(ROLE_OF) == set(), "routes without a row in ROLE_OF (say who may call them)"
    assert set(ROLE_OF) - set(routes) == set(), "rows of ROLE_OF for routes the app no longer has"

    from emoscope.web.accounts import start_session
    from emoscope.web.auth import COOKIE
    from emoscope.web.db import User

    users = {role: add_user(app, f"{role}-user", role) for role in ROLES}

    def login(role: str) -> dict:
        """A fresh session each call, since one of the routes is /logout."""
        client.cookies.clear()
        if role is None:
            return {}
        with app.state.services.sessions.begin() as session:
            raw, row = start_session(session, session.get(User, users[role]))
            csrf = row.csrf
        client.cookies.set(COOKIE, raw)
        return {"X-CSRF-Token": csrf}

    values = {"*": str(uuid.uuid4()), "name": "x.png", "position": "1"}
    checked = 0
    for (method, path), needed in sorted(ROLE_OF.items(), key=lambda row: row[0][1]):
        url = routes[(method, path)].url(values)
        for role in (None, *ROLES):
            headers = login(role)
            response = client.request(method, url, headers=headers, follow_redirects=False)
            where = (method, path, role, response.status_code, response.text[:200])
            if needed is PUBLIC:
                assert not _sent_to_login(response) and not _denied_by_role(response), where
            elif role is None:
                if path.startswith("/v1/") or path == "/openapi.json":
                    assert response.status_code == 401 and "missing or wrong API token" in response.text, where
                else:
                    assert response.status_code == 303, where
                    assert response.headers["location"].startswith("/login?next="), where
            elif ROLES.index(role) < ROLES.index(needed):
                assert _denied_by_role(response), where
            else:
                assert not _sent_to_login(response) and response.status_code != 403, where
            checked += 1
    assert checked == 4 * len(ROLE_OF)
