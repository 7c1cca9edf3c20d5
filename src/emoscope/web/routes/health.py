"""Liveness and readiness, the only routes without a token (for load balancers and process managers)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict:
    """The server answers."""
    return {"status": "ok"}


@router.get("/readyz")
def readyz(request: Request):
    """The database answers and the analysis workers are alive."""
    services = getattr(request.app.state, "services", None)
    if services is None:
        return JSONResponse({"error": "starting"}, status_code=503)
    try:
        with services.sessions() as session:
            session.execute(text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001 - any database failure means not ready
        return JSONResponse({"error": f"database: {type(exc).__name__}"}, status_code=503)
    if not services.runner.alive:
        return JSONResponse({"error": "analysis workers are not running"}, status_code=503)
    return {"status": "ready", "workers": services.settings.workers}
