"""The app's routes as a test sees them: every route of the FastAPI app object with its methods and
path parameters, so a route added later is covered by the tests that walk them."""

from __future__ import annotations

import re
from dataclasses import dataclass

from fastapi.routing import APIRoute, iter_route_contexts

PARAM = re.compile(r"{(\w+)(?::\w+)?}")


@dataclass(frozen=True)
class AppRoute:
    path: str  # e.g. /v1/interviews/{interview_id}/charts/{name}
    methods: tuple[str, ...]
    params: tuple[str, ...]

    def url(self, values: dict[str, str]) -> str:
        """The path with each parameter set from ``values`` (by name; ``*`` for any other)."""
        return PARAM.sub(lambda m: values.get(m.group(1), values.get("*", "x")), self.path)


def app_routes(app) -> list[AppRoute]:
    """Every API and page route, the included routers' with their prefix (not the static files' mount)."""
    return [AppRoute(route.path, tuple(sorted(route.methods - {"HEAD"})), tuple(PARAM.findall(route.path)))
            for route in iter_route_contexts(app.routes) if isinstance(route.original_route, APIRoute)]
