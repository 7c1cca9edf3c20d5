"""The analysts' web app (`emoscope serve`): FastAPI + SQLAlchemy over the analysis engine in :mod:`emoscope.apps`."""
