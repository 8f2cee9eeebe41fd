"""A sealed override leaves no trace in the hub's log, which the owners read.

Attack (issue 9, item 11): while an override's owners' notice was delayed,
the hub logged its id, kind, case number and invoker at INFO, and its
export, hold and download lines named it too. Through the real HTTP API:
invoke sealed overrides (a warrant with a download, a preservation order,
a further delay), then let the notice fall due: only then may the log
name it.
"""

from __future__ import annotations

import logging

import aiohttp
import pytest

from ..privacy.conftest import T0, PrivacyHub

pytestmark = pytest.mark.timeout(120)

PDF = b"%PDF-1.4\n% a sealed warrant\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n"
CASE = "SW-SEALED-7731"
PRESERVE_CASE = "PO-SEALED-5512"


def _order(document: str, until: int, **extra: object) -> dict[str, object]:
    body: dict[str, object] = {
        "kind": "search_warrant",
        "authority": "Superior Court",
        "jurisdiction": "State of X",
        "case_number": CASE,
        "judge": "Hon. R. Alvarez",
        "issued": T0 + 3600,
        "agency": "Springfield PD",
        "officer_contact": "Det. Kim",
        "cameras": ["yard"],
        "start": T0,
        "end": T0 + 600,
        "document_sha256": document,
        "notice": "delayed",
        "notice_delayed_until": until,
        "delay_ordered_by": "Hon. R. Alvarez",
    }
    body.update(extra)
    return body


async def _invoke(session: aiohttp.ClientSession, body: dict[str, object]) -> dict:
    async with session.post("/api/overrides", json=body) as r:
        assert r.status == 201, await r.text()
        return await r.json()


async def test_sealed_overrides_are_not_in_the_log(privacy_hub, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    ph: PrivacyHub = await privacy_hub()
    owner = await ph.owner()
    async with owner.post("/api/accounts", json={"username": "custodian-zed", "role": "custodian"}) as r:
        one_time = (await r.json())["one_time_password"]
    custodian = await ph.login("custodian-zed", one_time, "the custodian's long password")
    async with custodian.post("/api/documents", data=PDF, headers={"Content-Type": "application/pdf"}) as r:
        assert r.status == 201
        document = (await r.json())["sha256"]
    until = int(ph.clock()) + 30 * 86400

    caplog.clear()
    warrant = await _invoke(custodian, _order(document, until))
    async with ph.client().get(warrant["share_link"]["url"]) as r:
        assert r.status == 200
        await r.read()
    preservation = await _invoke(
        custodian, _order(document, until, kind="preservation", judge=None, case_number=PRESERVE_CASE)
    )
    async with custodian.post(
        f"/api/overrides/{warrant['id']}/delay",
        json={"notice_delayed_until": until + 86400, "delay_ordered_by": "Hon. B"},
    ) as r:
        assert r.status == 200, await r.text()
    await ph.hub.privacy.tick()

    sealed = (
        warrant["id"],
        warrant["export_id"],
        preservation["id"],
        preservation["hold_id"],
        CASE,
        PRESERVE_CASE,
        "search_warrant",
        "preservation",
        "custodian-zed",
        "Springfield PD",
    )
    logged = "\n".join(record.getMessage() for record in caplog.records)
    for secret in sealed:
        assert secret not in logged, f"{secret!r} is in the hub's log while sealed:\n{logged}"

    # Once the owners are told, the log may say what happened.
    ph.clock.advance(32 * 86400)
    await ph.hub.privacy.tick()
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert warrant["id"] in logged and CASE in logged and "custodian-zed" in logged
