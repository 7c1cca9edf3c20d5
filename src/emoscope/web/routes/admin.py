"""An admin's pages: the accounts (create, change role, disable, set a password, revoke tokens), the
audit log (read page by page, export as CSV) and the settings (retention)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, StreamingResponse
from sqlalchemy import select

from emoscope.errors import EmoscopeError
from emoscope.web import accounts, audit, preferences
from emoscope.web.accounts import Principal
from emoscope.web.auth import require_role
from emoscope.web.db import ID, Role, User, utcnow
from emoscope.web.services import Services, services

router = APIRouter(prefix="/admin", include_in_schema=False)
ADMIN = require_role("admin")


def _filter():
    """A filter of the audit log (an action or an actor); one Query object per parameter, since FastAPI
    names a shared one after the first parameter that uses it."""
    return Query(None, max_length=64, pattern=r"^[\w .@-]*$")


# -- accounts --------------------------------------------------------------------------------------------

def _users_page(request: Request, svc: Services, error: str | None = None, status_code: int = 200):
    with svc.sessions() as session:
        users = session.scalars(select(User).order_by(User.username)).all()
        tokens = accounts.tokens_of(session)
        return svc.templates.TemplateResponse(request, "admin_users.html", {
            "users": users, "tokens": tokens, "roles": [role.value for role in Role], "error": error},
            status_code=status_code)


@router.get("/users", response_class=HTMLResponse, dependencies=[Depends(ADMIN)])
def users_page(request: Request, svc: Services = Depends(services)):
    return _users_page(request, svc)


@router.post("/users", response_class=HTMLResponse)
def create_user(request: Request, username: str = Form("", max_length=200), password: str = Form("", max_length=1024),
                role: str = Form("analyst"), svc: Services = Depends(services), who: Principal = Depends(ADMIN)):
    try:
        with svc.sessions.begin() as session:
            user = accounts.create_user(session, username, password, _role(role))
            audit.record(session, who, "create", "user", user.id, f"{user.username} as {user.role.value}")
    except EmoscopeError as exc:
        return _users_page(request, svc, str(exc), 400)
    return RedirectResponse("/admin/users", status_code=303)


def _role(value: str) -> Role:
    try:
        return Role(value)
    except ValueError:
        raise accounts.AccountError(f"unknown role {value[:20]!r}: one of {', '.join(r.value for r in Role)}") from None


@router.post("/users/{user_id}", response_class=HTMLResponse)
def update_user(user_id: str, request: Request, role: str = Form(...), disabled: bool = Form(False),
                password: str = Form("", max_length=1024), svc: Services = Depends(services),
                who: Principal = Depends(ADMIN)):
    """Change a user's role, disable or enable them, and (when given) set a new password."""
    try:
        with svc.sessions.begin() as session:
            user = session.get(User, user_id) if ID.fullmatch(user_id) else None
            if user is None:
                raise HTTPException(404, "no such user")
            changes = []
            if user.role != _role(role):
                changes.append(f"role {user.role.value} → {role}")
                accounts.set_role(session, user, role)
            if user.disabled != disabled:
                changes.append("disabled" if disabled else "enabled")
                accounts.set_disabled(session, user, disabled)
            if password:
                changes.append("password set")
                accounts.set_password(session, user, password)
            if changes:
                audit.record(session, who, "update", "user", user.id, f"{user.username}: {', '.join(changes)}")
    except EmoscopeError as exc:
        return _users_page(request, svc, str(exc), 400)
    return RedirectResponse("/admin/users", status_code=303)


# -- the audit log ---------------------------------------------------------------------------------------

@router.get("/audit", response_class=HTMLResponse)
def audit_page(request: Request, page: int = Query(1, ge=1, le=1_000_000), action: str | None = _filter(),
               actor: str | None = _filter(), svc: Services = Depends(services), who: Principal = Depends(ADMIN)):
    """The log, newest first, 50 lines a page, optionally one action's or one actor's."""
    with svc.sessions() as session:
        lines = audit.page(session, page, action, actor)
        response = svc.templates.TemplateResponse(request, "admin_audit.html", {
            "page": lines, "action": action or "", "actor": actor or ""})
    audit.log(svc.sessions, who, "view", "audit log", detail=f"page {lines.number}")  # who read it is logged too
    return response


@router.get("/audit.csv")
def audit_csv(action: str | None = _filter(), actor: str | None = _filter(), svc: Services = Depends(services),
              who: Principal = Depends(ADMIN)):
    """The whole log (or the filtered part) as CSV; the export itself is logged first."""
    audit.log(svc.sessions, who, "export", "audit log", detail=" ".join(
        f"{name} {value}" for name, value in (("action", action), ("actor", actor)) if value) or "all lines")
    name = f"emoscope-audit-{utcnow():%Y%m%d-%H%M%S}.csv"
    return StreamingResponse(audit.csv_lines(svc.sessions, action, actor), media_type="text/csv",
                             headers={"Content-Disposition": f'attachment; filename="{name}"'})


# -- settings --------------------------------------------------------------------------------------------

def _settings_page(request: Request, svc: Services, message: str | None = None, error: str | None = None,
                   status_code: int = 200):
    with svc.sessions() as session:
        current = preferences.effective(session, svc.settings)
    return svc.templates.TemplateResponse(request, "admin_settings.html", {
        "current": current, "flag": svc.settings.retention_days, "message": message, "error": error},
        status_code=status_code)


@router.get("/settings", response_class=HTMLResponse, dependencies=[Depends(ADMIN)])
def settings_page(request: Request, svc: Services = Depends(services)):
    return _settings_page(request, svc)


@router.post("/settings", response_class=HTMLResponse)
def save_settings(request: Request, retention_days: str = Form("", max_length=20), svc: Services = Depends(services),
                  who: Principal = Depends(ADMIN)):
    """Set the retention period (empty: keep for ever) and apply it at once."""
    try:
        days = float(retention_days) if retention_days.strip() else None
        with svc.sessions.begin() as session:
            preferences.set_retention_days(session, days)
            audit.record(session, who, "update", "settings", None,
                         f"retention {'never' if days is None else f'{days:g} days'}")
    except ValueError:
        return _settings_page(request, svc, error="retention: a number of days, or empty for never", status_code=400)
    except EmoscopeError as exc:
        return _settings_page(request, svc, error=str(exc), status_code=400)
    deleted = request.app.state.sweep()
    return _settings_page(request, svc, message=f"Saved; {deleted} interview{'s' * (deleted != 1)} older than the "
                                                f"period deleted now.")
