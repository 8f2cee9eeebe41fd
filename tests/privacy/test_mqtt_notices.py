"""What the hub tells a real Mosquitto of outside requests and overrides, and what it keeps off it.

A whole hub (tests/privacy/conftest.py, manual clock) publishes to the
test's own broker (tests/mqtt_broker.py); a separate subscriber on
`camhub/#` collects everything the broker delivers. A request is told at
once and counted while it waits; a sealed override (delayed notice) leaves no
trace on the broker until its owners are told, and then only its kind, the
agency, cameras and window, never the case number or the document's hash.
"""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import pytest

from camhub.integrations.mqtt.output import REFRESH_INTERVAL

from ..mqtt_broker import Broker, Received, Subscriber
from .conftest import T0, PrivacyHub
from .test_consent import ask
from .test_overrides import upload, warrant

pytestmark = pytest.mark.timeout(240)

WAIT = 60.0  # seconds; generous, the machine is shared and busy
REQUESTS = "camhub/requests"
PENDING = "camhub/requests/pending"
ACTIVE = "camhub/overrides/active"


def payload_on(topic: str, payload: bytes) -> Any:
    return lambda m: m.topic == topic and m.payload == payload


def notices_of(sub: Subscriber, event_type: str, after: int = 0) -> list[Received]:
    return [m for m in sub.on(REQUESTS, after) if json.loads(m.payload)["event_type"] == event_type]


def carrying(sub: Subscriber, secrets: dict[str, str]) -> list[str]:
    """`name: message` for every message received that contains one of `secrets`' values."""
    return [f"{name}: {m}" for m in sub.messages for name, value in secrets.items() if value.encode() in m.payload]


async def requester_token(owner: aiohttp.ClientSession, name: str) -> str:
    async with owner.post("/api/requesters/tokens", json={"requester": name, "name": "case work"}) as r:
        assert r.status == 201, await r.text()
        return str((await r.json())["token"])


async def test_a_request_is_told_without_its_purpose_and_counted_until_decided(mosquitto: Broker, privacy_hub) -> None:
    purpose = "PURPOSE-q7Zx: the hedge quarrel at number 12, not for the broker"
    async with Subscriber(mosquitto, "camhub/#") as sub:
        ph: PrivacyHub = await privacy_hub(mqtt=mosquitto.hub_mqtt())
        await sub.wait_for(payload_on(PENDING, b"0"), what="pending 0 once the hub is connected", timeout=WAIT)
        owner = await ph.owner()
        token = await requester_token(owner, "acme-insurance")
        officer = ph.client(token)
        mark = len(sub.messages)
        async with officer.post(
            "/api/requests", json=ask(["yard", "porch"], T0 + 300, T0 + 900, purpose=purpose, organisation="ACME")
        ) as r:
            assert r.status == 201, await r.text()
            request = await r.json()

        told = await sub.wait_for(lambda m: m.topic == REQUESTS, what="the request's notice", after=mark, timeout=WAIT)
        assert not told.retain
        assert json.loads(told.payload) == {
            "event_type": "request_received",
            "id": request["id"],
            "requester": "acme-insurance",
            "organisation": "ACME",
            "cameras": ["yard", "porch"],
            "start_s": T0 + 300,
            "end_s": T0 + 900,
        }
        pending = await sub.wait_for(payload_on(PENDING, b"1"), what="pending 1", after=mark, timeout=WAIT)
        assert pending.retain

        async with owner.post("/api/auth/reauth", json={"password": ph.passwords["owner"]}) as r:
            assert r.status == 200, await r.text()
        decided = len(sub.messages)
        async with owner.post(f"/api/requests/{request['id']}/decision", json={"decision": "deny"}) as r:
            assert r.status == 200, await r.text()
        # A decision is not a notice: the next refresh (every REFRESH_INTERVAL s) says so.
        cleared = await sub.wait_for(
            payload_on(PENDING, b"0"), what="pending 0 after the denial", after=decided, timeout=REFRESH_INTERVAL + WAIT
        )
        assert cleared.retain

        await sub.barrier()
        assert len(sub.on(REQUESTS)) == 1, [str(m) for m in sub.on(REQUESTS)]
        leaked = carrying(sub, {"purpose": purpose, "token": token, "password": ph.passwords["owner"]})
        assert not leaked, leaked


async def test_a_sealed_override_stays_off_the_broker_until_its_owners_are_told(mosquitto: Broker, privacy_hub) -> None:
    agency = "Shelbyville County Sheriff (sealed)"
    async with Subscriber(mosquitto, "camhub/#") as sub:
        ph: PrivacyHub = await privacy_hub(mqtt=mosquitto.hub_mqtt())
        await sub.wait_for(payload_on(ACTIVE, b"0"), what="active 0 once the hub is connected", timeout=WAIT)
        owner = await ph.owner()
        async with owner.post("/api/accounts", json={"username": "custodian", "role": "custodian"}) as r:
            assert r.status == 201, await r.text()
            one_time = (await r.json())["one_time_password"]
        custodian = await ph.login("custodian", one_time, "the custodian's long password")
        document = await upload(custodian)
        until = int(ph.clock()) + 2 * 86400
        sealed: dict[str, Any] = {
            "notice": "delayed",
            "notice_delayed_until": until,
            "delay_ordered_by": "Hon. R. Alvarez",
        }

        # A search warrant whose footage leaves through a share link, and a preservation order that
        # places a hold; both sealed for two days.
        async with custodian.post(
            "/api/overrides", json=warrant(document, agency=agency, case_number="SEALED-SW-4711", **sealed)
        ) as r:
            assert r.status == 201, await r.text()
            search = await r.json()
        async with ph.client().get(search["share_link"]["url"]) as r:
            assert r.status == 200
            await r.read()
        preserve = warrant(
            document,
            kind="preservation",
            judge=None,
            agency=agency,
            case_number="SEALED-PO-4712",
            cameras=["porch"],
            start=T0,
            end=T0 + 300,
            **sealed,
        )
        async with custodian.post("/api/overrides", json=preserve) as r:
            assert r.status == 201, await r.text()
            preservation = await r.json()
        assert preservation["hold_id"] and search["export_id"]

        # A request filed after them makes the hub publish the counts at once, read after both were filed.
        officer = await ph.requester(owner, "officer-ruiz")
        filed = len(sub.messages)
        async with officer.post("/api/requests", json=ask(["yard"], T0, T0 + 300)) as r:
            assert r.status == 201, await r.text()
        counted = await sub.wait_for(payload_on(PENDING, b"1"), what="counts after the request", after=filed)
        index = sub.messages.index(counted)
        active = await sub.wait_for(lambda m: m.topic == ACTIVE, what="active with those counts", after=index + 1)
        assert active.payload == b"0" and active.retain
        await sub.barrier()

        assert not notices_of(sub, "override"), [str(m) for m in sub.on(REQUESTS)]
        assert [m.payload for m in sub.on(ACTIVE)] == [b"0"] * len(sub.on(ACTIVE))
        secrets = {
            "warrant id": search["id"],
            "preservation id": preservation["id"],
            "export id": search["export_id"],
            "hold id": preservation["hold_id"],
            "warrant's case number": "SEALED-SW-4711",
            "preservation's case number": "SEALED-PO-4712",
            "agency": agency,
            "document hash": document,
        }
        leaked = carrying(sub, secrets)
        assert not leaked, leaked

        # The delay ends: the clock's work tells the owners, and then the broker.
        told = len(sub.messages)
        ph.clock.advance(2 * 86400 + 1)
        await ph.hub.privacy.tick()
        for override in (search, preservation):
            await sub.wait_for(
                lambda m, i=override["id"]: m.topic == REQUESTS and json.loads(m.payload)["id"] == i,
                what=f"the notice of {override['kind']}",
                after=told,
            )
        await sub.wait_for(payload_on(ACTIVE, b"1"), what="active 1 after the notices", after=told)
        await sub.barrier()

        sent = notices_of(sub, "override", told)
        by_id = {json.loads(m.payload)["id"]: m for m in sent}
        assert len(sent) == len(by_id) == 2 and not any(m.retain for m in sent)  # each told once, not retained
        both = {"event_type": "override", "requester": agency, "start_s": T0}
        assert json.loads(by_id[search["id"]].payload) == {
            **both,
            "id": search["id"],
            "kind": "search_warrant",
            "cameras": ["yard"],
            "end_s": T0 + 600,
        }
        assert json.loads(by_id[preservation["id"]].payload) == {
            **both,
            "id": preservation["id"],
            "kind": "preservation",
            "cameras": ["porch"],
            "end_s": T0 + 300,
        }
        # Only the preservation's standing hold is in force; the warrant's release is not counted.
        assert sub.on(ACTIVE)[-1].payload == b"1", [str(m) for m in sub.on(ACTIVE, told)]
        assert b"2" not in {m.payload for m in sub.on(ACTIVE)}
        never = {"case numbers": "SEALED-", "document hash": document}
        leaked = carrying(sub, never)
        assert not leaked, leaked
