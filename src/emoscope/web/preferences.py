"""Settings an admin changes in the dashboard while the server runs, kept in the database over the
server's flags: for now the retention period (``--retention-days``)."""

from __future__ import annotations

from emoscope.errors import EmoscopeError
from emoscope.web.db import AppSetting
from emoscope.web.settings import Settings

RETENTION = "retention_days"
NEVER = "never"


def effective(session, settings: Settings) -> Settings:
    """``settings`` with what an admin stored over the flags."""
    stored = session.get(AppSetting, RETENTION)
    if stored is None:
        return settings
    return settings.model_copy(update={"retention_days": None if stored.value == NEVER else float(stored.value)})


def set_retention_days(session, days: float | None) -> None:
    """Keep interviews ``days`` days (None: for ever); the next sweep, run at once by the caller, applies it."""
    if days is not None and not 0 < days <= 36500:
        raise EmoscopeError("retention: a number of days above 0 (and at most 100 years), or empty for never")
    session.merge(AppSetting(key=RETENTION, value=NEVER if days is None else repr(float(days))))
