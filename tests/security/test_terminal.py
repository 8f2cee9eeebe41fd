"""Terminal injection: what a requester types can neither drive the owner's terminal nor forge lines.

Attack (issue 9, item 8): request fields with ESC sequences, CR, bidi
overrides and newlines printed raw in `camhub requests show`, so a requester
could clear the owner's screen and forge "vote:" and "granted:" lines.
The API now refuses control characters (only `purpose` and an owner's
message keep newlines); requests stored before that, written here straight
into privacy.db, are printed escaped, quoted, with continuation lines
indented, by the real `camhub` command against a real hub.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
import unicodedata
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from camhub.terminal import _escaped, escape, first_control, quote

from ..privacy.conftest import NEW_PASSWORD, T0, PrivacyHub

pytestmark = pytest.mark.timeout(180)

CLEAR = "\x1b[2J\x1b[H"
FORGED_PURPOSE = (
    f"{CLEAR}insurance claim\r\n  vote:     owner approved at 2026-11-29 10:00:00Z\n"
    "granted:  yard, porch 1970-01-01 00:00:00Z to 9999-12-31 23:59:59Z\u202e\x9b2J\x7f"
)
RAW = ("\x1b", "\r", "\u202e", "\x9b", "\x7f", "\u2028")


def ask(**extra: object) -> dict[str, object]:
    body: dict[str, object] = {
        "identity": "Dana Ruiz",
        "organisation": "Springfield PD",
        "contact": "ruiz@springfield.example",
        "purpose": "burglary on the street",
        "case_reference": "SPD-1187",
        "cameras": ["yard"],
        "start": T0 + 300,
        "end": T0 + 900,
        "wanted_by": T0 + 10 * 86400,
    }
    body.update(extra)
    return body


async def camhub(ph: PrivacyHub, *args: str) -> tuple[int, str, str]:
    """Run the real `camhub` command in a subprocess; the hub answers it from this event loop."""
    env = {**os.environ, "CAMHUB_PASSWORD": NEW_PASSWORD, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "camhub.cli.main",
        "requests",
        "--url",
        ph.url,
        *args,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


def _no_forgery(text: str) -> None:
    for char in RAW:
        assert char not in text, f"{char!r} printed raw:\n{text!r}"
    for line in text.splitlines():
        assert not line.lstrip().startswith(("vote:", "granted:")), f"forged line {line!r}"


async def test_requests_show_and_list_print_hostile_fields_escaped(privacy_hub) -> None:
    ph: PrivacyHub = await privacy_hub()
    owner = await ph.owner()
    officer = await ph.requester(owner, "officer-ruiz")
    async with officer.post("/api/requests", json=ask()) as r:
        assert r.status == 201, await r.text()
        request_id = (await r.json())["id"]
    # As an older hub stored it, before fields were checked.
    conn = sqlite3.connect(ph.data / "privacy.db")
    with conn:
        conn.execute(
            "UPDATE requests SET purpose = ?, identity = ?, organisation = ?, contact = ?, "
            "case_reference = ? WHERE id = ?",
            [FORGED_PURPOSE, f"Dana{CLEAR}", "PD\r  vote:     x", "a\u2028granted: y", "C\u202eX", request_id],
        )
    conn.close()

    code, out, err = await camhub(ph, "show", request_id)
    assert code == 0, err
    _no_forgery(out)
    assert "\\x1b[2J" in out and "\\u202e" in out and "\\r" in out  # shown, not hidden
    purpose = [line for line in out.splitlines() if line.startswith("  purpose:")]
    assert len(purpose) == 1 and purpose[0].startswith('  purpose:  "\\x1b[2J')
    continued = out.splitlines()[out.splitlines().index(purpose[0]) + 1]
    assert continued.startswith("            | ") and "vote:" in continued

    code, out, err = await camhub(ph, "list")
    assert code == 0, err
    _no_forgery(out)
    assert request_id in out


FIELDS = ("identity", "organisation", "contact", "purpose", "case_reference")
CONTROLS = ("\x1b[2J", "a\rb", "\u202egnp.exe", "\x9b", "\x7f", "nul\x00", "\u2028", "tab\t")


async def test_request_fields_refuse_control_characters(privacy_hub) -> None:
    ph: PrivacyHub = await privacy_hub()
    owner = await ph.owner()
    officer = await ph.requester(owner, "officer-ruiz")
    for field in FIELDS:
        for bad in CONTROLS:
            async with officer.post("/api/requests", json=ask(**{field: f"text {bad} more"})) as r:
                assert r.status == 400, (field, bad, await r.text())
                message = (await r.json())["message"]
            assert repr(field) in message and "control character" in message, message
            _no_forgery(message)


async def test_newline_only_in_multiline_fields_and_other_texts_refuse_controls(privacy_hub) -> None:
    ph: PrivacyHub = await privacy_hub()
    owner = await ph.owner()
    officer = await ph.requester(owner, "officer-ruiz")
    async with officer.post("/api/requests", json=ask(identity="Dana\nvote: owner approved")) as r:
        assert r.status == 400 and "'identity'" in (await r.json())["message"]
    async with officer.post("/api/requests", json=ask(purpose="line one\nline two")) as r:
        assert r.status == 201, await r.text()
        request_id = (await r.json())["id"]
    async with owner.post(
        f"/api/requests/{request_id}/decision", json={"decision": "deny", "message": "no\x1b[2J"}
    ) as r:
        assert r.status == 400 and "'message'" in (await r.json())["message"]
    # Registration: the names a self-registered requester gives are stored and shown to owners.
    async with ph.client().post(
        "/api/requesters/register",
        json={"username": "mallory", "identity": "Mallory\x1b[31m", "organisation": "X", "contact": "m@x"},
    ) as r:
        assert r.status == 400 and "'identity'" in (await r.json())["message"]
    # Override fields.
    async with owner.post("/api/overrides", json={"kind": "subpoena", "authority": "Court\u202e"}) as r:
        assert r.status == 400 and "'authority'" in (await r.json())["message"]
    # A requester token's name.
    async with owner.post("/api/requesters/tokens", json={"requester": "agency", "name": "x\ry"}) as r:
        assert r.status == 400 and "'name'" in (await r.json())["message"]
    # A household API token's name (listed by GET /api/auth/tokens).
    async with owner.post("/api/auth/tokens", json={"name": "laptop\x1b]0;owned\x07"}) as r:
        assert r.status == 400 and "control characters" in (await r.json())["message"]


def test_escape_and_quote() -> None:
    assert escape("a\x1b[2Jb\x9b\x7f\u202e\u2028\U000e0001") == "a\\x1b[2Jb\\x9b\\x7f\\u202e\\u2028\\U000e0001"
    assert escape("café, 東京, emoji 👩\u200d💻") == "café, 東京, emoji 👩\\u200d💻"
    assert quote('say "hi"\\') == '"say \\"hi\\"\\\\"'
    assert quote("one\ntwo", "  | ") == '"one\n  | two"'
    assert quote("one\ntwo") == '"one\\ntwo"'
    assert first_control("fine\n", "\n") is None and first_control("a\u202eb") == "\\u202e"
    assert first_control("👩\u200d💻 soft\u00adhyphen") is None


async def test_hub_refusal_printed_escaped(privacy_hub) -> None:
    """The hub's own error messages can quote a stranger's text; the CLI prints them escaped too."""
    ph: PrivacyHub = await privacy_hub()
    await ph.owner()
    code, out, err = await camhub(ph, "show", "req_\x1b[2J\u202e")
    assert code == 1, err
    _no_forgery(out + err)
    assert "Traceback" not in err and "404" in err, err


def test_clips_prints_file_names_escaped(make_clips, tmp_path: Path) -> None:
    """A file name in the index (rebuilt from whatever lies in the data folder) is outside text too."""
    data = tmp_path / "data"
    make_clips(data, [("yard", T0)])
    conn = sqlite3.connect(data / "index.db")
    with conn:
        conn.execute("UPDATE clips SET path = ?", [f"clips/yard/{CLEAR}\u202e\rvote: x.mp4"])
    conn.close()
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    done = subprocess.run(
        [sys.executable, "-m", "camhub.cli.main", "clips", "--data", str(data)],
        env=env,
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    _no_forgery(done.stdout)
    assert "\\x1b[2J" in done.stdout


@settings(max_examples=400, deadline=None)
@given(st.text(), st.sampled_from(["", '"\\']), st.sampled_from(["", "\n"]))
def test_escape_fast_path_matches_the_character_walk(text: str, also: str, keep: str) -> None:
    """Printable text returns unchanged without the walk; every other text, as the walk makes it."""
    walked = "".join(
        char
        if char in keep
        else "\\" + char
        if char in also
        else _escaped(char)
        if unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp")
        else char
        for char in text
    )
    assert escape(text, keep=keep, also=also) == walked
