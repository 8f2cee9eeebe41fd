"""Declared routes: what an area serves, and how /api/openapi.json documents it, in one list.

Each area (cameras, clips, audit, auth, privacy) declares a module-level
`Routes` table. A route names its method, path, handler and OpenAPI
operation together, so a route cannot be served without being documented.
Handlers are module-level functions that find their services through typed
`web.AppKey`s; `camhub.http.app.make_app` sets the keys and adds the tables
of the services the hub has, and `camhub.http.openapi` assembles the one
document from every table.

Two facts about a route shape its documentation and are declared, not
guessed from its path: `household` (footage: owners and members only, by
session cookie or API token; adds the security requirement and the 401 and
403 answers) and `audited` (it writes an audit entry before it acts, so it
may answer 503 when the log cannot be written).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Operation = dict[str, Any]
H = TypeVar("H", bound=Handler)

METHODS = ("GET", "POST", "PATCH", "DELETE")


@dataclass(frozen=True)
class Route:
    method: str  # GET (HEAD is served with it), POST, PATCH or DELETE
    path: str  # aiohttp's pattern, which is also OpenAPI's: /api/clips/{id}
    handler: Handler
    operation: Operation  # the OpenAPI operation object
    household: bool = False
    audited: bool = False


class Routes:
    """One area's routes, in the order they are declared."""

    def __init__(self, area: str, schemas: dict[str, Operation] | None = None) -> None:
        self.area = area
        self.schemas = schemas or {}  # components/schemas this area's operations refer to
        self._routes: list[Route] = []

    def add(
        self,
        method: str,
        path: str,
        handler: Handler,
        operation: Operation,
        *,
        household: bool = False,
        audited: bool = False,
    ) -> None:
        if method not in METHODS:
            raise ValueError(f"{self.area}: {method} {path}: method must be one of {', '.join(METHODS)}")
        if any(r.method == method and r.path == path for r in self._routes):
            raise ValueError(f"{self.area}: {method} {path} is declared twice")
        self._routes.append(Route(method, path, handler, operation, household, audited))

    def route(
        self, method: str, path: str, operation: Operation, *, household: bool = False, audited: bool = False
    ) -> Callable[[H], H]:
        """Declare the decorated handler as `method path`, documented by `operation`."""

        def declare(handler: H) -> H:
            self.add(method, path, handler, operation, household=household, audited=audited)
            return handler

        return declare

    def get(self, path: str, operation: Operation, *, household: bool = False) -> Callable[[H], H]:
        return self.route("GET", path, operation, household=household)

    def post(
        self, path: str, operation: Operation, *, household: bool = False, audited: bool = False
    ) -> Callable[[H], H]:
        return self.route("POST", path, operation, household=household, audited=audited)

    def delete(
        self, path: str, operation: Operation, *, household: bool = False, audited: bool = False
    ) -> Callable[[H], H]:
        return self.route("DELETE", path, operation, household=household, audited=audited)

    def __iter__(self) -> Iterator[Route]:
        return iter(self._routes)

    def add_to(self, app: web.Application) -> None:
        for r in self._routes:
            if r.method == "GET":
                app.router.add_get(r.path, r.handler)  # and HEAD, as aiohttp does by default
            else:
                app.router.add_route(r.method, r.path, r.handler)
