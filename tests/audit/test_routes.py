"""The audit routes on a real aiohttp server, and a witness reading them over HTTP."""

from __future__ import annotations

import asyncio
import base64
from pathlib import Path

from aiohttp import ClientSession, web

from camhub.audit import AuditLog
from camhub.audit.merkle import leaf_hash, verify_inclusion
from camhub.audit.note import verify_checkpoint
from camhub.audit.routes import AUDIT_LOG, ROUTES
from camhub.audit.witness import HttpSource, witness
from camhub.http.app import error_middleware

from ..conftest import FakeClock, sample_event


async def test_routes_serve_checkpoint_key_and_proofs_that_a_witness_accepts(tmp_path: Path, clock: FakeClock) -> None:
    log = await AuditLog.open(tmp_path, hub_id="home", clock=clock)
    app = web.Application(middlewares=[error_middleware])  # the routes' errors are HubErrors, answered by it
    app[AUDIT_LOG] = log
    ROUTES.add_to(app)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    url = f"http://127.0.0.1:{port}"
    try:
        for i in range(5):
            await log.append(sample_event(i, clock()))
        async with ClientSession() as http:
            async with http.get(url + "/api/audit/checkpoint") as r:
                assert r.content_type == "text/plain"
                note = await r.text()
            async with http.get(url + "/api/audit/key") as r:
                assert (await r.text()).strip() == str(log.verifier_key)
            checkpoint = verify_checkpoint(note, log.verifier_key)
            async with http.get(url + "/api/audit/proof/3") as r:
                body = await r.json()
            proof = [base64.b64decode(h) for h in body["proof"]]
            verify_inclusion(3, checkpoint.size, leaf_hash(body["entry"].encode()), proof, checkpoint.root)
            async with http.get(url + "/api/audit/proof/99") as r:
                assert r.status == 404 and (await r.json())["error"] == "not_found"
            async with http.get(url + "/api/audit/consistency?old=x") as r:
                assert r.status == 400 and "old must be an integer" in (await r.json())["message"]
        source = HttpSource(url)
        state, _ = await asyncio.to_thread(witness, None, source)
        for i in range(5, 9):
            await log.append(sample_event(i, clock()))
        state, message = await asyncio.to_thread(witness, state, source)
        assert message == "consistent: size 6 -> 10"
    finally:
        await runner.cleanup()
        await log.close()
    assert {r.path for r in ROUTES} == {
        r.resource.canonical for r in app.router.routes() if r.resource is not None and r.method == "GET"
    }
