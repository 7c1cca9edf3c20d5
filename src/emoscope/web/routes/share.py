"""Reports to share: a candidate's profile and every finished interview's report as one PDF
(:mod:`emoscope.report.pdf`), behind the API token like the rest of /v1."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from emoscope.web.auth import require_token

router = APIRouter(prefix="/v1", dependencies=[Depends(require_token)], tags=["reports"])
