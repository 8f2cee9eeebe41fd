"""The auth routes are in the OpenAPI fragment and docs/accounts.md, and so are their error keys and limits."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from camhub.auth import OPENAPI_PATHS, AccountService, add_routes, errors, throttle
from camhub.auth import service as service_module

DOC = Path(__file__).resolve().parents[2] / "docs" / "accounts.md"


async def test_every_auth_route_is_in_openapi(tmp_path: Path) -> None:
    service = await AccountService.open(tmp_path)
    try:
        app = web.Application()
        add_routes(app, service)
        served = {
            (r.resource.canonical, r.method.lower()) for r in app.router.routes() if r.resource and r.method != "HEAD"
        }
    finally:
        await service.close()
    documented = {(path, method) for path, item in OPENAPI_PATHS.items() for method in item}
    assert served == documented


def test_docs_name_every_route_error_and_limit() -> None:
    text = DOC.read_text()
    missing = [path for path in OPENAPI_PATHS if path not in text]
    keys = {cls.key for cls in vars(errors).values() if isinstance(cls, type) and issubclass(cls, errors.AuthError)}
    missing += [f"`{key}`" for key in keys - {"auth_error"} if f"`{key}`" not in text]
    limits = ["ACCOUNT_LIMIT", "ADDRESS_LIMIT", "WINDOW_S", "LOCKOUT_S"]
    missing += [name for name in limits if f"`{name}` | {getattr(throttle, name):g}" not in text.replace(" s |", " |")]
    missing += [
        name
        for name in ["SESSION_IDLE_S", "SESSION_ABSOLUTE_S", "TOUCH_INTERVAL_S", "FRESH_AUTH_S"]
        if f"`{name}`" not in text or not hasattr(service_module, name)
    ]
    assert not missing, f"add to docs/accounts.md: {missing}"
