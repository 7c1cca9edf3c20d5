"""The FastAPI application: :func:`create_app` wires the database (migrated on start), the file
storage, the job runner, the accounts and the routes; every error answers one line of JSON,
``{"error": "..."}`` (a browser asking for a page gets it as a small HTML page)."""

from __future__ import annotations

import logging
import secrets
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import quote

from alembic.util import CommandError
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException

from emoscope.errors import EmoscopeError
from emoscope.files import ensure_writable_folder
from emoscope.report.html import LAWFUL_USE_NOTICE
from emoscope.version import __version__
from emoscope.web import audit, migrations, preferences
from emoscope.web.accounts import LoginLimiter, forget_expired_sessions, has_admin
from emoscope.web.auth import LoginRequired, is_api, require_role
from emoscope.web.db import make_engine, make_sessions
from emoscope.web.images import ImageAnalyzer
from emoscope.web.jobs import JobRunner, QueueFull
from emoscope.web.retention import sweep
from emoscope.web.routes import account, admin, candidates, health, invitations, jobs, pages, reports, share
from emoscope.web.services import Services
from emoscope.web.settings import Settings
from emoscope.web.storage import Storage

HERE = Path(__file__).resolve().parent
log = logging.getLogger("emoscope.web")


def _error(status: int, message: str, headers: dict | None = None) -> JSONResponse:
    return JSONResponse({"error": " ".join(str(message).split())}, status_code=status, headers=headers)


def _wants_page(request: Request) -> bool:
    """A browser asking for a page (not the API, not a script): errors are shown as a page."""
    return (not is_api(request.url.path) and "text/html" in request.headers.get("accept", "")
            and getattr(request.app.state, "services", None) is not None)


def open_database(url: str) -> Engine:
    """An engine on ``url`` with the schema upgraded (a new database gets it, an old one its missing
    revisions) and a write tried, since a read-only database opens and reads: a file that is not a
    database, one that cannot be written, or a server out of reach is one :class:`EmoscopeError` line."""
    engine = make_engine(url)
    try:
        migrations.upgrade(engine)
        with engine.begin() as connection:
            connection.execute(text("UPDATE alembic_version SET version_num = version_num"))
    except (SQLAlchemyError, CommandError) as exc:
        engine.dispose()
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        raise EmoscopeError(f"database {engine.url.render_as_string(hide_password=True)}: {reason}") from None
    return engine


def _needs_first_admin(engine: Engine | None) -> bool:
    if engine is None:
        return True
    with make_sessions(engine)() as session:
        return not has_admin(session)


def template_context(request: Request) -> dict:
    """What every page knows: who is logged in (``me``, None on the login page) and, for a login session,
    its CSRF token (an anonymous form passes its own)."""
    me = getattr(request.state, "principal", None)
    return {"me": me, "csrf": me.csrf} if me is not None and me.csrf else {"me": me}


def create_app(settings: Settings) -> FastAPI:
    """The app for ``settings`` (checked: a token is needed beyond loopback). With no enabled admin in
    the database, ``app.state.setup_code`` holds the one-time code of the first admin's setup link
    (``/setup?code=…``, printed by `emoscope serve`)."""
    settings = settings.check()
    # A database that exists is checked now, so `emoscope serve` refuses a corrupt or read-only one in
    # one line before it starts; a new one is made at start, so a refused command leaves no folder behind.
    checked = open_database(settings.url) if settings.database_exists else None
    setup_code = secrets.token_urlsafe(24) if _needs_first_admin(checked) else None

    def retention_sweep(sessions, storage) -> int:
        """Delete what is older than the retention period (an admin's setting, else --retention-days)."""
        with sessions() as session:
            current = preferences.effective(session, settings)
        deleted = sweep(current, sessions, storage)
        with sessions.begin() as session:
            forget_expired_sessions(session)
            if deleted:
                audit.record(session, None, "delete", "interviews", None,
                             f"{deleted} older than {current.retention_days:g} days", actor="retention")
        return deleted

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        ensure_writable_folder(settings.data_dir)
        storage = Storage(settings.data_dir).create()
        engine = checked or open_database(settings.url)
        sessions = make_sessions(engine)
        runner = JobRunner(settings, sessions, storage, on_retention=lambda: retention_sweep(sessions, storage))
        runner.start()
        images = ImageAnalyzer()
        templates = Jinja2Templates(directory=HERE / "templates", context_processors=[template_context])
        templates.env.globals["lawful_use_notice"] = LAWFUL_USE_NOTICE
        app.state.services = Services(settings, sessions, storage, runner, images, templates)
        app.state.sweep = lambda: retention_sweep(sessions, storage)
        try:
            yield
        finally:
            runner.stop()
            images.close()
            engine.dispose()

    # The OpenAPI routes are added below, behind a login like every route but the health checks.
    app = FastAPI(title="emoscope", version=__version__, lifespan=lifespan, docs_url=None, redoc_url=None,
                  openapi_url=None,
                  description="Upload interviews, follow their analysis, read and compare reports. Every "
                              "route but /healthz and /readyz needs `Authorization: Bearer TOKEN`: a personal "
                              "API token (the dashboard's settings page) or the server's --token. Viewers "
                              "read; analysts add, upload, review and delete.")
    app.state.settings = settings
    app.state.setup_code = setup_code
    app.state.login_limiter = LoginLimiter()

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        if _wants_page(request):
            return request.app.state.services.templates.TemplateResponse(
                request, "error.html", {"status": exc.status_code, "message": exc.detail},
                status_code=exc.status_code, headers=getattr(exc, "headers", None))
        return _error(exc.status_code, exc.detail, getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError):
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"] if part not in ("body", "query", "path"))
        return _error(422, f"{where}: {first['msg']}" if where else first["msg"])

    @app.exception_handler(EmoscopeError)
    async def emoscope_error(request: Request, exc: EmoscopeError):
        return _error(400, str(exc))

    @app.exception_handler(QueueFull)
    async def queue_full(request: Request, exc: QueueFull):
        return _error(429, f"the analysis queue is full ({settings.max_queue} jobs waiting); try again later",
                      headers={"Retry-After": "30"})

    @app.exception_handler(Exception)
    async def internal_error(request: Request, exc: Exception):
        log.error("%s %s failed", request.method, request.url.path, exc_info=exc)  # the traceback goes to the log
        return _error(500, f"internal error: {type(exc).__name__}")

    @app.exception_handler(LoginRequired)
    async def login_required(request: Request, exc: LoginRequired):
        if is_api(request.url.path):
            return _error(401, "missing or wrong API token (send Authorization: Bearer TOKEN)",
                          headers={"WWW-Authenticate": "Bearer"})
        return RedirectResponse(f"/login?next={quote(exc.next_url)}", status_code=303)

    @app.middleware("http")
    async def security_headers(request: Request, call_next):
        response = await call_next(request)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "SAMEORIGIN")  # report pages embed the report, no one else
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        return response

    @app.get("/openapi.json", include_in_schema=False, dependencies=[Depends(require_role("viewer"))])
    def openapi_schema() -> dict:
        return app.openapi()

    @app.get("/docs", include_in_schema=False, dependencies=[Depends(require_role("viewer"))])
    def docs():
        # Swagger UI ships in static/swagger (swagger-ui-dist 5.35.0, Apache-2.0): nothing is fetched from a CDN
        return get_swagger_ui_html(openapi_url="/openapi.json", title="emoscope API",
                                   swagger_js_url="/static/swagger/swagger-ui-bundle.js",
                                   swagger_css_url="/static/swagger/swagger-ui.css",
                                   swagger_favicon_url="/static/swagger/favicon-32x32.png")

    app.include_router(health.router)
    for api in (candidates, reports, jobs):
        app.include_router(api.router, prefix="/v1")
    app.include_router(account.router)
    app.include_router(pages.router)
    app.include_router(admin.router)
    app.include_router(share.router)
    app.include_router(invitations.router)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    return app
