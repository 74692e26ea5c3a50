"""Route policies: what each route declares where it is added.

A route carries its family's error shape, the `match_info` parameters and query keys
that are secrets, and the purpose of a guess with the statuses that count as a failed
one. The error middleware, the rate limiter, metrics and the access log read it from
`request.match_info.route` (one dictionary lookup); nothing works it out from paths.

Requests that match no route (404, 405) take the policy of the family that claimed
their path prefix with `claim_prefix`, else `DEFAULT`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass, field

from aiohttp import hdrs, web
from aiohttp.abc import AbstractView
from aiohttp.typedefs import Handler
from aiohttp.web_urldispatcher import AbstractRoute

from qrstream.redact import MASK, mask_untrusted


@dataclass(frozen=True, slots=True)
class Guess:
    """A route that checks a secret: failed answers are charged to the client's bucket."""

    purpose: str
    fails: frozenset[int]


@dataclass(frozen=True, slots=True)
class RoutePolicy:
    family: str
    """Label in metrics and logs: `cards`, `admin`, `instances`, `verifications`, `pages`, `ops`."""
    error_key: str = "error"
    """Key of the error body: `error`, or `message` for the Laravel-style cards API."""
    not_found: str = "Not found"
    """Text of a 404 that the router (not a handler) answers."""
    secrets: frozenset[str] = frozenset()
    """`match_info` names whose values are secrets (masked in logs)."""
    secret_query: frozenset[str] = frozenset()
    """Query keys whose values are secrets."""
    guess: Guess | None = None

    def but(self, **changes: object) -> RoutePolicy:
        """A copy with some fields changed (`API.but(secrets=…)`)."""
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]


DEFAULT = RoutePolicy(family="none")
OPS = RoutePolicy(family="ops")
PAGES = RoutePolicy(family="pages")
ADMIN = RoutePolicy(family="admin", guess=Guess("admin-auth", frozenset({401})))
"""Every `/admin/*` route: the bearer key is the secret being guessed."""


def secret_params(*names: str) -> frozenset[str]:
    return frozenset(names)


@dataclass(slots=True)
class _Compiled:
    """A route's policy with its log path template: literal pieces and parameter names."""

    policy: RoutePolicy
    pieces: tuple[tuple[str, str | None], ...]
    """(literal text, parameter name or None) in order; the path is their concatenation."""

    def log_path(self, request: web.Request) -> str:
        info = request.match_info
        parts: list[str] = []
        for text, name in self.pieces:
            parts.append(text)
            if name is not None:
                parts.append(MASK if name in self.policy.secrets else mask_untrusted(info.get(name, "")))
        path = "".join(parts)
        query = request.query_string
        if query:
            path = f"{path}?{mask_untrusted(self._mask_query(query) if self.policy.secret_query else query)}"
        return path

    def _mask_query(self, query: str) -> str:
        out = []
        for pair in query.split("&"):
            key, eq, _ = pair.partition("=")
            out.append(f"{key}={MASK}" if eq and key in self.policy.secret_query else pair)
        return "&".join(out)


def _pieces(canonical: str) -> tuple[tuple[str, str | None], ...]:
    """`/waInstance{id}/qr/{token}` → (("/waInstance", "id"), ("/qr/", "token"))."""
    pieces: list[tuple[str, str | None]] = []
    rest = canonical
    while "{" in rest:
        text, _, after = rest.partition("{")
        name, _, rest = after.partition("}")
        pieces.append((text, name.partition(":")[0]))
    pieces.append((rest, None))
    return tuple(pieces)


@dataclass(slots=True)
class Policies:
    """The app's table: route → compiled policy, and the prefixes families claimed."""

    by_route: dict[AbstractRoute, _Compiled] = field(default_factory=dict)
    prefixes: list[tuple[str, RoutePolicy]] = field(default_factory=list)

    def unmatched(self, path: str) -> RoutePolicy:
        for prefix, policy in self.prefixes:
            if path.startswith(prefix):
                return policy
        return DEFAULT

    def of(self, request: web.Request) -> RoutePolicy:
        compiled = self.by_route.get(request.match_info.route)
        return compiled.policy if compiled is not None else self.unmatched(request.path)

    def log_path(self, request: web.Request) -> str:
        """The request's path and query for a log line, its secrets masked."""
        compiled = self.by_route.get(request.match_info.route)
        if compiled is not None:
            return compiled.log_path(request)
        # No route: no declared secrets, so the text backstop masks what looks like one.
        return mask_untrusted(request.path_qs)


POLICIES: web.AppKey[Policies] = web.AppKey("route_policies", Policies)


def install(app: web.Application) -> Policies:
    policies = Policies()
    app[POLICIES] = policies
    return policies


def policies(request: web.Request) -> Policies:
    return request.app[POLICIES]


def policy_of(request: web.Request) -> RoutePolicy:
    return request.app[POLICIES].of(request)


def claim_prefix(app: web.Application, prefix: str, policy: RoutePolicy) -> None:
    """Requests under `prefix` that match no route (404/405) answer in `policy`'s shape."""
    table = app[POLICIES].prefixes
    table.append((prefix, policy))
    table.sort(key=lambda item: len(item[0]), reverse=True)  # longest prefix first


HandlerLike = Handler | type[AbstractView]


class Routes:
    """Adds a family's routes, each with its policy: `routes.get(path, handler, name=…)`."""

    def __init__(self, app: web.Application, policy: RoutePolicy) -> None:
        self._app = app
        self.policy = policy

    def add(
        self,
        method: str,
        path: str,
        handler: HandlerLike,
        *,
        name: str | None = None,
        policy: RoutePolicy | None = None,
    ) -> AbstractRoute:
        chosen = policy if policy is not None else self.policy
        router = self._app.router
        route = (
            router.add_get(path, handler, name=name)  # HEAD too, as HTTP expects
            if method == hdrs.METH_GET
            else router.add_route(method, path, handler, name=name)
        )
        compiled = _Compiled(chosen, _pieces(route.resource.canonical if route.resource else path))
        table = self._app[POLICIES].by_route
        for each in _same_handler(route):
            table[each] = compiled
        return route

    def get(
        self, path: str, handler: HandlerLike, *, name: str | None = None, policy: RoutePolicy | None = None
    ) -> None:
        self.add(hdrs.METH_GET, path, handler, name=name, policy=policy)

    def post(
        self, path: str, handler: HandlerLike, *, name: str | None = None, policy: RoutePolicy | None = None
    ) -> None:
        self.add(hdrs.METH_POST, path, handler, name=name, policy=policy)

    def put(
        self, path: str, handler: HandlerLike, *, name: str | None = None, policy: RoutePolicy | None = None
    ) -> None:
        self.add(hdrs.METH_PUT, path, handler, name=name, policy=policy)

    def patch(
        self, path: str, handler: HandlerLike, *, name: str | None = None, policy: RoutePolicy | None = None
    ) -> None:
        self.add(hdrs.METH_PATCH, path, handler, name=name, policy=policy)

    def delete(
        self, path: str, handler: HandlerLike, *, name: str | None = None, policy: RoutePolicy | None = None
    ) -> None:
        self.add(hdrs.METH_DELETE, path, handler, name=name, policy=policy)


def _same_handler(route: AbstractRoute) -> Iterable[AbstractRoute]:
    """The route itself and the HEAD route `add_get` added beside it."""
    yield route
    if route.method == hdrs.METH_GET and route.resource is not None:
        for other in route.resource:
            if other.method == hdrs.METH_HEAD and other.handler is route.handler:
                yield other
