"""The analysts' web app (`emoscope serve`): FastAPI + SQLAlchemy over the analysis jobs in :mod:`emoscope.jobs`."""
