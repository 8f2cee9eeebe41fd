"""Schemathesis over the hub's own OpenAPI document, as four kinds of caller.

A real hub (`privacy_hub`: accounts, privacy, audit log and real clips on two
cameras) is fuzzed operation by operation as an owner (session cookie, after
the one-time password is changed), a requester (token), a member who may see
only one camera (API token) and an anonymous caller. Every response must:

- not be a 5xx;
- match the document: a documented status code, content type and body schema;
- carry no footage (clip video, snapshots, thumbnails, live view, share
  package) to a caller not entitled to it.

The run is bounded by examples per operation, not by time, so it is the same
run on a quiet machine and a busy one; there are no timing assertions. It is
derandomized, so a failure found once is found again.

Schemathesis (synchronous `requests`) runs in a worker thread while the hub
serves on the test's event loop.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, assume, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from camhub.store.index import INDEX_FILE

EXAMPLES = 12  # per operation and caller: about 1,900 cases in all, 2-3 minutes on a busy 2-core machine
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
FOOTAGE = ("image/jpeg", "video/mp4", "multipart/x-mixed-replace", "application/zip")
CAMERAS = ("yard", "porch")  # the privacy_hub's, with clips on both
MEMBER_CAMERA = "yard"
# A live view or event stream never ends; its headers say all there is to check (status, type).
STREAMS = {"GET /api/cameras/{name}/live.mjpeg", "GET /api/events"}
# POST /api/documents takes a PDF; any bytes will do, as they would for application/octet-stream.
schemathesis.serializer.alias("application/pdf", "application/octet-stream")


@dataclass
class Caller:
    name: str
    headers: dict[str, str] = field(default_factory=dict)
    cookies: dict[str, str] = field(default_factory=dict)
    # Operations this caller does not run, with why: each would end the credential the rest of the run uses.
    skip: dict[str, str] = field(default_factory=dict)
    # Path parameters this caller must not hit, by operation, for the same reason.
    spare: dict[str, tuple[str, set[Any]]] = field(default_factory=dict)
    cases: int = 0
    footage: int = 0  # footage responses it was entitled to


@dataclass
class Entitlement:
    """Who may receive footage: owners everything; the member one camera; no one else (share links aside)."""

    clip_cameras: dict[int, str]
    share_tokens: set[str]

    def real(self, operation: str) -> list[dict[str, Any]]:
        """Path parameters naming real footage on each camera, so footage routes serve something.

        The privacy_hub's cameras are disabled, so the camera snapshot and live view answer 404 even then;
        they are checked for refusals only."""
        if "/api/clips/{id}" in operation:
            return [{"id": next(i for i, c in self.clip_cameras.items() if c == camera)} for camera in CAMERAS]
        if "/api/cameras/{name}" in operation:
            return [{"name": camera} for camera in CAMERAS]
        if operation == "GET /api/share/{token}":
            return [{"token": token} for token in self.share_tokens]
        return []

    def allows(self, caller: str, operation: str, path: dict[str, Any]) -> bool:
        if operation == "GET /api/share/{token}":
            return path.get("token") in self.share_tokens  # the link is the credential, whoever holds it
        if caller == "owner":
            return True
        if caller != "member":
            return False
        if "{name}" in operation:
            return path.get("name") == MEMBER_CAMERA
        try:  # negative cases send ids as text, e.g. "01"; the clip served is still clip 1
            clip = int(path.get("id"))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return False
        return self.clip_cameras.get(clip) == MEMBER_CAMERA


def _call(case: schemathesis.Case, caller: Caller, session: requests.Session) -> schemathesis.Response:
    if case.operation.label not in STREAMS:
        return case.call(session=session, headers=caller.headers, cookies=caller.cookies)
    kwargs = {**case.as_transport_kwargs(headers=caller.headers), "stream": True, "timeout": 60}
    kwargs["cookies"] = {**(kwargs.get("cookies") or {}), **caller.cookies}
    with session.request(**kwargs) as raw:
        content = raw.content if raw.status_code != 200 else b""  # errors are short JSON; the stream is not read
        return schemathesis.Response(
            status_code=raw.status_code,
            headers={k.lower(): [v] for k, v in raw.headers.items()},
            content=content,
            request=raw.request,
            elapsed=0.0,
            message=raw.reason,
            encoding=raw.encoding,
            http_version="1.1",
            verify=True,
        )


def _footage(response: schemathesis.Response) -> bool:
    kind = (response.headers.get("content-type") or [""])[0].split(";")[0].strip().lower()
    return response.status_code < 300 and kind in FOOTAGE


def fuzz(schema: Any, caller: Caller, entitled: Entitlement) -> list[str]:
    """Run every operation as `caller`; returns one line per failing operation (empty: all held)."""
    failures: list[str] = []
    session = requests.Session()
    for result in schema.get_all_operations():
        operation = result.ok()
        label = operation.label
        if label in caller.skip:
            continue
        strategy = st.one_of(
            *(
                operation.as_strategy(generation_mode=mode)
                for mode in (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE)
            ),
            *(operation.as_strategy(path_parameters=real) for real in entitled.real(label)),
        )
        test = _one_operation(strategy, caller, entitled, session)
        try:
            test()
        # Every failing operation is reported, not just the first; schemathesis groups its check failures
        # in a BaseExceptionGroup.
        except (Exception, BaseExceptionGroup) as exc:
            failures.append(f"{caller.name} {label}: {exc}")
    session.close()
    return failures


def _one_operation(
    strategy: Any, caller: Caller, entitled: Entitlement, session: requests.Session
) -> Callable[[], None]:
    @settings(
        max_examples=EXAMPLES,
        deadline=None,  # a busy machine is slow; slowness is not a failure here
        derandomize=True,  # the same cases every run, so a failure is reproducible
        database=None,
        phases=[Phase.explicit, Phase.generate],  # no shrinking: it would repeat requests for minutes
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
        report_multiple_bugs=False,
    )
    @given(case=strategy)
    def test(case: schemathesis.Case) -> None:
        spared = caller.spare.get(case.operation.label)
        if spared is not None:
            assume(case.path_parameters.get(spared[0]) not in spared[1])
        caller.cases += 1
        response = _call(case, caller, session)
        case.validate_response(response, checks=CHECKS, headers=caller.headers)
        if not _footage(response):
            return
        if entitled.allows(caller.name, case.operation.label, case.path_parameters or {}):
            caller.footage += 1
        else:
            raise AssertionError(
                f"footage ({response.headers.get('content-type')}) reached {caller.name}: {response.status_code}\n"
                f"{case.as_curl_command(headers=caller.headers)}"
            )

    return test


def give_pictures(data: Path, clips: list[Any]) -> None:
    """A snapshot and thumbnail (real JPEGs) for the first clip of each camera, as the recorder would index them."""
    ok, jpeg = cv2.imencode(".jpg", np.zeros((120, 160, 3), np.uint8))
    assert ok
    db = sqlite3.connect(data / INDEX_FILE)
    try:
        for camera in CAMERAS:
            clip = next(c for c in clips if c.camera == camera)
            picture = Path(clip.path).with_suffix(".jpg")
            (data / picture).write_bytes(jpeg.tobytes())
            with db:
                db.execute(
                    "UPDATE clips SET snapshot_path = ?, thumbnail_path = ? WHERE id = ?",
                    [str(picture), str(picture), clip.id],
                )
    finally:
        db.close()


async def _json(session: Any, method: str, path: str, body: dict[str, Any], status: int) -> dict[str, Any]:
    async with session.request(method, path, json=body) as response:
        assert response.status == status, await response.text()
        return await response.json()  # type: ignore[no-any-return]


@pytest.mark.timeout(1800)
async def test_schemathesis_finds_no_5xx_no_mismatch_and_no_footage_leak(privacy_hub: Any) -> None:
    ph = await privacy_hub(privacy={"share_link_downloads": 100})  # enough for every caller to download
    give_pictures(ph.data, ph.clips)
    owner = await ph.owner()
    cookie = next(c.value for c in owner.cookie_jar if c.key == "camhub_session")

    account = await _json(
        owner, "POST", "/api/accounts", {"username": "mia", "role": "member", "cameras": [MEMBER_CAMERA]}, 201
    )
    member = await ph.login("mia", account["one_time_password"], "a long and new member password")
    member_token = await _json(member, "POST", "/api/auth/tokens", {"name": "fuzz"}, 201)
    requester_token = await _json(owner, "POST", "/api/requesters/tokens", {"requester": "agency", "name": "fuzz"}, 201)
    in_use = {member_token["id"], requester_token["id"]}
    # An approved request, so the share route has a package to serve to whoever holds the link.
    requester = ph.client(requester_token["token"])
    t0 = int(min(clip.start_time for clip in ph.clips))
    asked = await _json(
        requester,
        "POST",
        "/api/requests",
        {
            "identity": "Officer Dana Ruiz",
            "organisation": "Springfield PD",
            "contact": "ruiz@springfield.example",
            "purpose": "burglary on the street",
            "cameras": [MEMBER_CAMERA],
            "start": t0 + 60,
            "end": t0 + 180,
            "wanted_by": int(ph.clock()) + 10 * 86400,
        },
        201,
    )
    approved = await _json(owner, "POST", f"/api/requests/{asked['id']}/decision", {"decision": "approve"}, 200)
    share_token = approved["share_link"]["url"].removeprefix("/api/share/")
    async with ph.client().get("/api/openapi.json") as response:
        document = await response.json()

    revoke = "DELETE /api/auth/tokens/{id}"
    callers = [
        Caller(
            "owner",
            cookies={"camhub_session": cookie},
            # Logging out, or changing the password, ends the session every later case uses.
            skip={"POST /api/auth/logout": "ends this session", "POST /api/auth/password": "ends this session"},
            # Revoking the member's or requester's token would end theirs; changing the member's cameras, or
            # refusing the requester's account, would change what they are entitled to mid-run.
            spare={
                revoke: ("id", in_use),
                "POST /api/accounts/{username}/cameras": ("username", {"mia"}),
                "POST /api/requesters/registrations/{username}/{verdict}": ("username", {"agency"}),
            },
        ),
        Caller("member", headers={"Authorization": f"Bearer {member_token['token']}"}, spare={revoke: ("id", in_use)}),
        Caller(
            "requester", headers={"Authorization": f"Bearer {requester_token['token']}"}, spare={revoke: ("id", in_use)}
        ),
        Caller("anonymous"),
    ]
    entitled = Entitlement({clip.id: clip.camera for clip in ph.clips}, share_tokens={share_token})

    config = schemathesis.Config()
    config.projects.default.update(base_url=ph.url)
    # Credentials come from the callers; generated ones would replace them.
    config.projects.default.generation.update(with_security_parameters=False)
    schema = schemathesis.openapi.from_dict(document, config=config)

    failures: list[str] = []
    for caller in callers:
        failures += await asyncio.to_thread(fuzz, schema, caller, entitled)
    counts = Counter({caller.name: caller.cases for caller in callers})
    print(
        f"schemathesis cases per caller: {dict(counts)}; "
        f"footage to the entitled: {[(c.name, c.footage) for c in callers]}"
    )
    assert all(counts[c.name] > 100 for c in callers), counts  # the run really ran
    assert all(c.footage for c in callers), "the footage routes served nothing to check"
    assert not failures, "\n\n".join(failures)
