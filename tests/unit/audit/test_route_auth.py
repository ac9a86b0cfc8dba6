"""Completeness: every route is authenticated (resolves the verified caller) or is on the
public allow-list; the audit and anomaly routes in particular."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts

from control_plane.app import PUBLIC_ROUTES, create_app
from control_plane.identity.deps import get_detached_principal, get_principal
from control_plane.sessions.deps import get_refresh
from tests.support.app import make_settings


def _calls(dependant: Dependant) -> Iterator[object]:
    for sub in dependant.dependencies:
        yield sub.call
        yield from _calls(sub)


# The dependencies that resolve the verified caller: ``get_principal``, the one that does
# so in a unit of work of its own, and the token refresh's single dependency (which calls
# ``authenticate`` itself, see its docstring).
AUTHENTICATING = {get_principal, get_detached_principal, get_refresh}


def test_every_route_is_authenticated_or_allow_listed(tmp_path: Path) -> None:
    app = create_app(make_settings(tmp_path))
    routes = {
        str(context.path): context.route
        for context in iter_route_contexts(app.routes)
        if isinstance(context.route, APIRoute)
    }
    assert {"/v1/audit", "/v1/audit/verify", "/v1/audit/export", "/v1/anomalies"} <= set(routes)
    unauthenticated = sorted(
        path
        for path, route in routes.items()
        if path not in PUBLIC_ROUTES and not AUTHENTICATING & set(_calls(route.dependant))
    )
    assert unauthenticated == []
