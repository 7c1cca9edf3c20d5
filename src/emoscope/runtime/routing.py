"""Which model analyses a video, chosen by the group the user names in its metadata (``--meta group=G``).

A routes file maps group names to models (shipped names or bundle paths) plus an optional ``default``
for any other group. The group always comes from the user; emoscope never guesses one from a face
(docs/groups.md). Example: configs/group-routes.toml.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from emoscope.errors import EmoscopeError
from emoscope.runtime.config_file import read_config_file

GROUP_KEY = "group"
"""The metadata key routing reads (``--meta group=G``; a manifest's ``group`` column)."""


class GroupRoutes(BaseModel):
    """``default``: the model for a group that has no route (none: such a group is refused);
    ``groups``: group name -> model."""

    model_config = ConfigDict(extra="forbid")

    default: str | None = Field(None, description="model for groups without a route; none = refuse them")
    groups: dict[str, str] = Field(default_factory=dict, description="group name -> shipped model or bundle path")

    @field_validator("default")
    @classmethod
    def _not_blank(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("is empty")
        return value

    @field_validator("groups")
    @classmethod
    def _no_blank_routes(cls, value: dict[str, str]) -> dict[str, str]:
        for group, model in value.items():
            if not group.strip() or not model.strip():
                raise ValueError(f"group {group!r} -> {model!r}: neither may be empty")
        return value


def read_routes(path: str | Path) -> tuple[GroupRoutes, Path]:
    """The routes in a .toml/.json/.yaml file, with model paths made relative to the file's folder."""
    path = Path(path)
    if not path.is_file():
        raise EmoscopeError(f"routes file not found: {path}")
    try:
        routes = GroupRoutes.model_validate(read_config_file(path))
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "routes"
        raise EmoscopeError(f"{path}: invalid route {where!r}: {err['msg']}") from None
    if routes.default is None and not routes.groups:
        raise EmoscopeError(f"{path}: no routes (expected `default = \"MODEL\"` and/or a [groups] table)")
    folder = path.parent

    def located(model: str) -> str:
        # a bundle path is read from the routes file's folder; a shipped name stays a name
        if model.endswith((".safetensors", ".onnx")) and not Path(model).is_absolute():
            return str(folder / model)
        return model

    return routes.model_copy(update={
        "default": None if routes.default is None else located(routes.default),
        "groups": {group: located(model) for group, model in routes.groups.items()},
    }), path


def route_model(routes: GroupRoutes, group: str | None, source: str = "routes") -> tuple[str, str]:
    """The model for ``group`` and how it was chosen (``"group"`` or ``"default"``)."""
    if group is not None and group in routes.groups:
        return routes.groups[group], "group"
    if routes.default is not None:
        return routes.default, "default"
    known = ", ".join(sorted(routes.groups))
    if group is None:
        raise EmoscopeError(f"{source} has no default route: name the group with --meta {GROUP_KEY}=G (routed: {known})")
    raise EmoscopeError(f"{source}: no route for group {group!r} and no default (routed: {known})")


def routed_model(path: str | Path, metadata: dict[str, str]) -> tuple[str, dict[str, str]]:
    """The model ``path``'s routes choose for ``metadata``'s group, and the metadata with the choice
    recorded (``routed_model``, ``route``: the group or default, ``routes``: the file)."""
    routes, path = read_routes(path)
    group = metadata.get(GROUP_KEY)
    model, how = route_model(routes, group, str(path))
    route = f"group {group}" if how == "group" else "default"
    return model, {**metadata, "routed_model": model, "route": route, "routes": str(path)}
