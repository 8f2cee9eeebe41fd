"""Hostile bodies and broken HTTP against a real hub: every answer is a JSON error naming the problem, never a 500.

Every route that reads a JSON body gets the same attacks (deep nesting, huge
numbers, NaN, bad UTF-8, lone surrogates, oversized bodies, bodies a
cross-site form can send); each must answer 400 or 413 with
`{"error", "message"}`, and the hub's log must hold no ERROR and no
traceback. Errors of other routes keep their message, a 405 says which
methods are allowed, and malformed requests or clients that hang up are
not logged as the hub's own failures.
"""

from __future__ import annotations

import asyncio
import gzip
import io
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from camhub.http.app import error_middleware

from .conftest import PrivacyHub

pytestmark = pytest.mark.timeout(300)

# (who calls, path): every route that reads a JSON body. Ids in paths need not exist: the body is read first.
BODY_ROUTES = [
    ("anonymous", "/api/auth/login"),
    ("anonymous", "/api/requesters/register"),
    ("owner", "/api/auth/password"),
    ("owner", "/api/auth/reauth"),
    ("owner", "/api/auth/tokens"),
    ("owner", "/api/requesters/tokens"),
    ("owner", "/api/requests/r-none/decision"),
    ("owner", "/api/accounts"),
    ("owner", "/api/accounts/owner/cameras"),
    ("owner", "/api/overrides"),
    ("owner", "/api/overrides/o-none/follow-up"),
    ("owner", "/api/overrides/o-none/delay"),
    ("owner", "/api/holds"),
    ("requester", "/api/requests"),
]

JSON = "application/json"
# (what, body, Content-Type, the statuses allowed, a word the message must hold)
HOSTILE: list[tuple[str, bytes, str, tuple[int, ...], str]] = [
    ("100,000-deep array", b"[" * 100_000 + b"]" * 100_000, JSON, (400, 413), ""),
    ("5,000-deep array under the size limit", b'{"name": ' + b"[" * 5_000 + b"]" * 5_000 + b"}", JSON, (400,), "deep"),
    ("5,000-digit integer", b'{"name": ' + b"9" * 5_000 + b"}", JSON, (400,), "number"),
    ("NaN", b'{"name": NaN}', JSON, (400,), "NaN"),
    ("-Infinity", b'{"name": -Infinity}', JSON, (400,), "Infinity"),
    ("a float that overflows", b'{"name": 1e999}', JSON, (400,), "number"),
    ("invalid UTF-8", b'{"name": "\xff\xfe"}', JSON, (400,), "UTF-8"),
    ("a surrogate encoded in UTF-8", b'{"name": "\xed\xa0\x80"}', JSON, (400,), "UTF-8"),
    ("a lone surrogate escape", b'{"name": "\\ud800"}', JSON, (400,), "surrogate"),
    ("a lone surrogate escape in a key", b'{"\\udfff": 1}', JSON, (400,), "surrogate"),
    ("a repeated key", b'{"name": "a", "name": "b"}', JSON, (400,), "twice"),
    ("oversized", b'{"name": "' + b"a" * 2_000_000 + b'"}', JSON, (413,), "bytes"),
    ("text/plain", b'{"name": "aaaaaaaaaaaa"}', "text/plain", (400,), "application/json"),
    ("a form", b"name=aaaaaaaaaaaa", "application/x-www-form-urlencoded", (400,), "application/json"),
    ("JSON in another charset", b'{"name": "aaaaaaaaaaaa"}', "application/json; charset=latin-1", (400,), "UTF-8"),
    ("not JSON", b'{"name": aaaaaaaaaaaa}', JSON, (400,), "not JSON"),
    ("an array, not an object", b'["aaaaaaaaaaaa"]', JSON, (400,), "object"),
    ("empty", b"", JSON, (400,), "empty"),
]


def no_errors_logged(caplog: pytest.LogCaptureFixture) -> list[str]:
    """Log records at ERROR or above, or with a traceback: each is a failure the hub reports as its own."""
    return [
        f"{r.name} {r.levelname}: {r.getMessage()}"
        for r in caplog.records
        if r.levelno >= logging.ERROR or r.exc_info or r.exc_text
    ]


async def sessions(ph: PrivacyHub) -> dict[str, aiohttp.ClientSession]:
    owner = await ph.owner()
    return {"anonymous": ph.client(), "owner": owner, "requester": await ph.requester(owner, "officer-ruiz")}


async def test_every_json_route_refuses_hostile_bodies_with_a_json_400_or_413(
    privacy_hub, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    ph: PrivacyHub = await privacy_hub(clips=[])
    who = await sessions(ph)
    wrong = []
    for role, path in BODY_ROUTES:
        for what, body, content_type, statuses, word in HOSTILE:
            # A file-like body: aiohttp's client warns (an error here) about large raw bytes.
            async with who[role].post(path, data=io.BytesIO(body), headers={"Content-Type": content_type}) as r:
                status, text = r.status, await r.text()
                answer: Any = await r.json() if r.content_type == JSON else None
            message = answer.get("message", "") if isinstance(answer, dict) else ""
            if not (
                status in statuses
                and isinstance(answer, dict)
                and set(answer) == {"error", "message"}
                and word.lower() in message.lower()
            ):
                wrong.append(f"{path} with {what}: {status} {text[:200]!r}")
            elif "aaaaaaaaaa" in message or "9999999999" in message or len(message) > 300:
                wrong.append(f"{path} with {what}: the message repeats the body: {message[:200]!r}")
    assert not wrong, "\n".join(wrong)
    assert not no_errors_logged(caplog)


async def test_a_cross_site_form_cannot_log_in_or_post_with_text_plain(privacy_hub) -> None:
    # A form on another site may post text/plain (or a urlencoded form) without a CORS preflight; a JSON
    # body in it, with the right password, must still not log anyone in.
    ph: PrivacyHub = await privacy_hub(clips=[])
    await ph.owner()
    form = ph.client()
    credentials = json.dumps({"username": "owner", "password": ph.passwords["owner"]}).encode()
    for content_type in (
        "text/plain",
        "text/plain; charset=utf-8",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
    ):
        async with form.post("/api/auth/login", data=credentials, headers={"Content-Type": content_type}) as r:
            assert r.status == 400 and "application/json" in (await r.json())["message"], (content_type, r.status)
            assert "camhub_session" not in r.cookies, content_type
    async with form.get("/api/auth/me") as r:
        assert r.status == 401


async def test_streamed_compressed_and_broken_bodies_are_bounded_too(
    privacy_hub, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    ph: PrivacyHub = await privacy_hub(clips=[])
    anonymous = ph.client()

    async def streamed() -> AsyncIterator[bytes]:  # chunked: no Content-Length to refuse it by
        for _ in range(40):
            yield b" " * 65536

    bomb = gzip.compress(b" " * 10_000_000)  # under the limit compressed, 10 MB unpacked
    assert len(bomb) < 16384
    for path in ("/api/auth/login", "/api/requesters/register"):
        for what, body, encoding, status in (
            ("chunked", streamed(), None, 413),
            ("a gzip bomb", bomb, "gzip", 413),
            ("broken gzip", b"not gzip at all", "gzip", 400),
        ):
            headers = {"Content-Type": JSON, **({"Content-Encoding": encoding} if encoding else {})}
            data = io.BytesIO(body) if isinstance(body, bytes) else body
            async with anonymous.post(path, data=data, headers=headers) as r:
                assert r.status == status and r.content_type == JSON, (path, what, r.status, await r.text())
                assert (await r.json())["error"] in ("invalid_body", "payload_too_large"), (path, what)
        broken = (
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            'Transfer-Encoding: chunked\r\n\r\n5\r\n{"a":\r\nzz\r\n'
        ).encode()
        answer = await raw_exchange(ph.url, broken)
        assert answer.split(b" ", 2)[1:2] == [b"400"], answer[:200]
    assert not no_errors_logged(caplog)


async def test_a_json_body_within_the_bounds_still_works(privacy_hub) -> None:
    ph: PrivacyHub = await privacy_hub(clips=[])
    owner = await ph.owner()
    body = b'{"name": "deep enough", "expires_in_s": 3600.5}'
    async with owner.post(
        "/api/auth/tokens", data=body, headers={"Content-Type": "application/json; charset=utf-8"}
    ) as r:
        assert r.status == 201, await r.text()
    nested = {"requester": "pd", "name": "x", "expires_in_s": 3600, "note": [[[[["ok"]]]]]}
    async with owner.post("/api/requesters/tokens", json=nested) as r:
        assert r.status == 400 and "'note'" in (await r.json())["message"], "a well-formed body reaches the route"


async def test_audit_route_errors_keep_their_message(privacy_hub, caplog: pytest.LogCaptureFixture) -> None:
    ph: PrivacyHub = await privacy_hub(clips=[])
    owner = await ph.owner()
    for path, status, says in (
        ("/api/audit/consistency?old=x", 400, "old must be an integer"),
        ("/api/audit/consistency?old=1&new=zz", 400, "new must be an integer"),
        ("/api/audit/consistency?old=5&new=2", 400, "5"),
        ("/api/audit/proof/first", 400, "index must be an integer"),
        ("/api/audit/proof/1?size=x", 400, "size must be an integer"),
        ("/api/audit/proof/99999", 404, "99999"),
    ):
        async with owner.get(path) as r:
            assert r.status == status and r.content_type == JSON, (path, r.status, await r.text())
            answer = await r.json()
        assert set(answer) == {"error", "message"}, answer
        assert says in answer["message"] and answer["message"] not in ("Bad Request", "Not Found"), (path, answer)
    assert not no_errors_logged(caplog)


async def test_a_wrong_method_answers_405_with_allow_and_an_unknown_path_a_json_404(privacy_hub) -> None:
    ph: PrivacyHub = await privacy_hub(clips=[])
    client = ph.client()
    for method, path, allowed in (
        ("POST", "/api/health", {"GET"}),
        ("DELETE", "/api/requests", {"GET", "POST"}),
        ("PUT", "/api/auth/login", {"POST"}),
    ):
        async with client.request(method, path) as r:
            assert r.status == 405 and r.content_type == JSON, (method, path, r.status)
            assert allowed <= {m.strip() for m in r.headers.get("Allow", "").split(",")}, (path, r.headers)
            answer = await r.json()
        assert answer["error"] == "method_not_allowed" and method in answer["message"], answer
    async with client.get("/api/no-such-thing") as r:
        assert r.status == 404 and (await r.json())["error"] == "not_found"


async def raw_exchange(url: str, data: bytes, *, close_after_send: bool = False) -> bytes:
    """Send bytes on a fresh TCP connection; return what the hub answers until it closes (or nothing)."""
    host, port = url.removeprefix("http://").rsplit(":", 1)
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(data)
        await writer.drain()
        if close_after_send:
            return b""
        return await asyncio.wait_for(reader.read(), 60)
    finally:
        writer.close()


async def test_a_malformed_request_gets_a_400_and_no_error_in_the_log(
    privacy_hub, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    ph: PrivacyHub = await privacy_hub(clips=[])
    for raw in (
        b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\nBad Header Line\r\n\r\n",
        b"GET /api/health HTTP/1.1 and more\r\nHost: 127.0.0.1\r\n\r\n",
        b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: x\r\n\r\n",
    ):
        answer = await raw_exchange(ph.url, raw)
        assert answer.split(b" ", 2)[1:2] == [b"400"], answer[:200]
    assert not no_errors_logged(caplog)


async def test_a_client_that_hangs_up_mid_body_leaves_no_error(privacy_hub, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    ph: PrivacyHub = await privacy_hub(clips=[])
    for path in ("/api/auth/login", "/api/requesters/register"):
        caplog.clear()
        head = (
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
        ).encode()
        await raw_exchange(ph.url, head + b'{"username"', close_after_send=True)
        # The hub notices on its own time; wait for its one line about it (or for the error it must not log).
        deadline = asyncio.get_running_loop().time() + 60
        while not any("hung up" in r.getMessage() or r.levelno >= logging.ERROR for r in caplog.records):
            assert asyncio.get_running_loop().time() < deadline, "the hub never noticed the client left"
            await asyncio.sleep(0.05)
        assert not no_errors_logged(caplog), path


async def test_an_unexpected_failure_answers_a_json_500_and_is_logged_once_with_its_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # No route of the hub fails on purpose, so this app has one that does, behind the hub's error middleware.
    async def broken(request: web.Request) -> web.StreamResponse:
        raise RuntimeError("a bug with a secret detail")

    app = web.Application(middlewares=[error_middleware])
    app.router.add_get("/broken", broken)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{port}/broken") as r:
            assert r.status == 500 and r.content_type == JSON, await r.text()
            answer = await r.json()
    finally:
        await runner.cleanup()
    assert answer["error"] == "internal_error" and "secret" not in answer["message"], answer
    logged = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(logged) == 1, [r.getMessage() for r in logged]
    # Once camhub.logs' RedactingFilter has seen the record (any earlier test may have set up logging), the
    # traceback is rendered into exc_text and exc_info cleared; either way the traceback is in the log.
    record = logged[0]
    traceback = record.exc_text or (logging.Formatter().formatException(record.exc_info) if record.exc_info else "")
    assert "Traceback" in traceback and "RuntimeError: a bug with a secret detail" in traceback, traceback
    assert "GET /broken" in logged[0].getMessage()
