"""The app's routes: health checks (open), the REST API under /v1 and the dashboard's pages (token)."""
