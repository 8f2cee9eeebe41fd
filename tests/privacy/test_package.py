"""Export packages: built from a real audit log and real H.264 clips, verified offline, every tampering named."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import shutil
import subprocess
import sys
import warnings
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from camhub.audit import AuditLog, ExportBuilt
from camhub.audit.note import SigningKey, sign_checkpoint
from camhub.cli.main import main
from camhub.privacy.package.format import CHECKPOINT, ENTRY, FORMAT, KEY, MANIFEST, PROOF, README, PackageError
from camhub.privacy.package.verifier import verify_package
from camhub.privacy.package.writer import make_manifest, write_package
from camhub.store.files import sha256_of

from ..conftest import FakeClock, sample_event

CAMHUB = Path(sys.executable).with_name("camhub")
BASIS: dict[str, Any] = {
    "kind": "request",
    "id": "r1",
    "requester": "officer-7",
    "organisation": "City PD",
    "purpose": "burglary",
    "case_reference": "CR-2023-118",
    "decision": "narrowed",
}
SCOPE: dict[str, Any] = {
    "cameras": ["drive", "front"],
    "start_s": 1_699_999_000,
    "end_s": 1_700_000_000,
    "clip_ids": None,
}


@dataclass
class Built:
    path: Path  # the package
    key: str  # the log's verifier key
    index: int  # the export_built entry
    manifest: bytes
    files: list[dict[str, Any]]
    sources: list[tuple[str, Path]]


def file_entry(name: str, source: Path, camera: str, start_ms: int, clip_id: int) -> dict[str, Any]:
    digest = sha256_of(source)
    return {
        "name": name,
        "sha256": digest,
        "bytes": source.stat().st_size,
        "camera": camera,
        "start_ms": start_ms,
        "end_ms": start_ms + 2000,
        "source_clip_id": clip_id,
        "source_sha256": digest,
        "trimmed": False,
    }


@pytest.fixture
def clips(tmp_path: Path, clip_mp4: Path, make_video: Callable[..., Path]) -> list[tuple[str, Path]]:
    """Two real, different H.264 clips on disk, with their package names."""
    folder = tmp_path / "staging"
    folder.mkdir()
    pairs = [
        ("clips/front_20231114T220000.000Z_a1b2c3.mp4", clip_mp4),
        (
            "clips/drive_20231114T220500.000Z_d4e5f6.mp4",
            make_video(size="320x240", rate=10, seconds=1, fragmented=True),
        ),
    ]
    out = []
    for name, video in pairs:
        out.append((name, folder / name.removeprefix("clips/")))
        shutil.copy(video, out[-1][1])
    return out


async def build(
    tmp_path: Path, clock: FakeClock, sources: list[tuple[str, Path]], before_write: Callable[[], object] = lambda: None
) -> Built:
    """What egress does: manifest, durable export_built, proof at the receipt's checkpoint, then the zip."""
    log = await AuditLog.open(tmp_path / "data", hub_id="home", clock=clock)
    try:
        for i in range(1, 6):  # some history, so the proof has several hashes
            clock.advance(1)
            await log.append(sample_event(i, clock()))
        files = [
            file_entry(name, path, name[6:11], 1_699_999_100_000 + 300_000 * i, 40 + i)
            for i, (name, path) in enumerate(sources)
        ]
        manifest = make_manifest(
            export_id="exp_1", hub_origin=log.origin, created_s=int(clock()), basis=BASIS, scope=SCOPE, files=files
        )
        receipt = await log.append(
            ExportBuilt(
                time=clock(),
                actor="owner",
                export_id="exp_1",
                basis="request:r1",
                recipient="officer-7",
                cameras=("drive", "front"),
                start_s=SCOPE["start_s"],
                end_s=SCOPE["end_s"],
                clip_sha256=tuple(f["sha256"] for f in files),
                clip_ids=tuple(f["source_clip_id"] for f in files),
                bytes=sum(f["bytes"] for f in files),
                manifest_sha256=hashlib.sha256(manifest).hexdigest(),
            )
        )
        await log.append(sample_event(9, clock()))  # the log moves on; the proof stays at the receipt's size
        size = receipt.checkpoint.size
        entry = await log.entry(receipt.index)
        proof = await log.inclusion_proof(receipt.index, size)
        key = str(log.verifier_key)
    finally:
        await log.close()
    before_write()
    path = tmp_path / "exports" / "exp_1.zip"
    path.parent.mkdir(exist_ok=True)
    written = write_package(
        path,
        manifest=manifest,
        files=sources,
        entry=entry,
        index=receipt.index,
        tree_size=size,
        proof=proof,
        checkpoint_note=receipt.checkpoint.note,
        verifier_key=key,
    )
    assert written == path.stat().st_size
    return Built(path, key, receipt.index, manifest, files, sources)


@pytest.fixture
async def built(tmp_path: Path, clock: FakeClock, clips: list[tuple[str, Path]]) -> Built:
    return await build(tmp_path, clock, clips)


def members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as zf:
        return {info.filename: zf.read(info) for info in zf.infolist()}


def vouched_for(path: Path) -> dict[str, bytes]:
    """Every member but README.txt, which no hash covers."""
    with zipfile.ZipFile(path) as zf:
        return {info.filename: zf.read(info) for info in zf.infolist() if info.filename != README}


def rewrite(
    built: Built,
    name: str = "tampered.zip",
    *,
    replace: dict[str, bytes] | None = None,
    drop: tuple[str, ...] = (),
    add: tuple[tuple[str, bytes], ...] = (),
) -> Path:
    """A copy of the package re-zipped (fresh CRCs, as an attacker would) with members changed."""
    out = built.path.with_name(name)
    with zipfile.ZipFile(out, "w") as zf, warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # zipfile warns on the duplicate names some tests want
        for member, data in [*members(built.path).items(), *add]:
            if member not in drop:
                zf.writestr(zipfile.ZipInfo(member), (replace or {}).get(member, data))
    return out


def problems(path: Path, key: str | None = None) -> list[str]:
    result = verify_package(path, key)
    assert not result.ok and result.proves == []
    return result.problems


def flip(data: bytes, at: int) -> bytes:
    return data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1 :]


# What a good package holds and proves


def test_a_package_verifies_and_says_in_plain_words_what_it_proves(built: Built, tmp_path: Path) -> None:
    result = verify_package(built.path)
    assert result.ok and result.problems == []
    footage = sum(int(f["bytes"]) for f in built.files)
    assert result.proves[0].startswith(f"these 2 files ({footage} bytes) are exactly the files listed in the manifest")
    key_name = "+".join(built.key.split("+")[:2])
    assert f"is the one recorded in entry #{built.index} of audit log camhub/home" in result.proves[1]
    assert (
        f"included in the log's tree of size {built.index + 1} signed by key {key_name} at 2023-11-14 "
        in result.proves[1]
    )
    assert any(f"that key {key_name} belongs to the owner's hub" in line for line in result.does_not_prove)
    assert any("shows what it appears to show" in line for line in result.does_not_prove)
    assert any("that nothing else was released" in line for line in result.does_not_prove)
    assert not list(built.path.parent.glob("*.partial"))


def test_the_layout_is_stored_uncompressed_and_holds_playable_clips(built: Built, tmp_path: Path) -> None:
    with zipfile.ZipFile(built.path) as zf:
        infos = zf.infolist()
        assert [i.filename for i in infos] == [
            MANIFEST,
            *(n for n, _ in built.sources),
            ENTRY,
            PROOF,
            CHECKPOINT,
            KEY,
            README,
        ]
        assert {i.compress_type for i in infos} == {zipfile.ZIP_STORED}
        zf.extractall(tmp_path / "out")
    assert (tmp_path / "out" / MANIFEST).read_bytes() == built.manifest
    manifest = json.loads(built.manifest)
    assert manifest["format"] == FORMAT and manifest["basis"] == BASIS and manifest["scope"] == SCOPE
    for name, source in built.sources:
        assert (tmp_path / "out" / name).read_bytes() == source.read_bytes()
        probe = subprocess.run(
            ["ffprobe", "-v", "error", "-show_streams", "-of", "json", str(tmp_path / "out" / name)],
            capture_output=True,
            text=True,
            check=True,
        )
        assert json.loads(probe.stdout)["streams"][0]["codec_name"] == "h264"
    assert (tmp_path / "out" / KEY).read_text() == built.key + "\n"
    readme = (tmp_path / "out" / README).read_text()
    assert "camhub export verify exp_1.zip" in readme and "What it does not prove" in readme


def test_a_pinned_key_that_matches_is_named_as_proven(built: Built) -> None:
    result = verify_package(built.path, built.key)
    assert result.ok
    assert result.proves[-1].endswith("is the key you gave with --key")
    assert not any("belongs to the owner's hub" in line for line in result.does_not_prove)


# Each tampering fails, naming the cause


def test_one_changed_byte_in_a_clip_is_named_with_both_hashes(built: Built) -> None:
    name, source = built.sources[1]
    data = source.read_bytes()
    changed = flip(data, len(data) // 2)
    expected = hashlib.sha256(data).hexdigest()
    found = hashlib.sha256(changed).hexdigest()
    assert problems(rewrite(built, replace={name: changed})) == [
        f"{name}: expected SHA-256 {expected} ({len(data)} bytes), found {found} ({len(data)} bytes)"
    ]


def test_one_changed_byte_in_a_clip_in_place_fails_the_zip_checksum_and_is_named(built: Built) -> None:
    name, source = built.sources[0]
    raw = built.path.read_bytes()
    at = raw.find(source.read_bytes())
    built.path.write_bytes(flip(raw, at + 1000))
    [problem] = problems(built.path)
    assert problem.startswith(f"{name}: cannot be read from the zip (Bad CRC-32")
    assert f"the manifest expects SHA-256 {sha256_of(source)}" in problem


def test_one_changed_byte_in_the_manifest_is_named(built: Built) -> None:
    changed = built.manifest.replace(b'"City PD"', b'"City PE"')
    assert len(changed) == len(built.manifest) and changed != built.manifest
    [problem] = problems(rewrite(built, replace={MANIFEST: changed}))
    assert problem == (
        f"{MANIFEST}: SHA-256 is {hashlib.sha256(changed).hexdigest()}, but the audit entry records "
        f"{hashlib.sha256(built.manifest).hexdigest()}"
    )


def test_a_manifest_that_is_not_canonical_json_is_named(built: Built) -> None:
    loose = json.dumps(json.loads(built.manifest), indent=1).encode()
    assert problems(rewrite(built, replace={MANIFEST: loose})) == [f"{MANIFEST}: not in canonical JSON form (RFC 8785)"]


def test_an_extra_clip_is_named(built: Built, clip_mp4: Path) -> None:
    extra = ("clips/garage_20231114T221000.000Z_000000.mp4", clip_mp4.read_bytes())
    assert problems(rewrite(built, add=(extra,))) == [f"{extra[0]}: in the package but not in the manifest"]


def test_a_missing_clip_is_named(built: Built) -> None:
    name = built.sources[0][0]
    assert problems(rewrite(built, drop=(name,))) == [f"{name}: listed in the manifest but missing from the package"]


def test_an_altered_entry_is_not_in_the_signed_tree(built: Built) -> None:
    entry = members(built.path)[ENTRY]
    changed = entry.replace(b'"actor":"owner"', b'"actor":"ownes"')
    [problem] = problems(rewrite(built, replace={ENTRY: changed}))
    assert problem == (
        f"{PROOF}: inclusion proof for entry {built.index} does not lead to the root of size "
        f"{built.index + 1}: the entry is not in the signed tree as given"
    )


def test_an_entry_for_another_export_is_named(built: Built) -> None:
    entry = members(built.path)[ENTRY]
    changed = entry.replace(b'"export_id":"exp_1"', b'"export_id":"exp_2"')
    found = problems(rewrite(built, replace={ENTRY: changed}))
    assert found[0] == f"{ENTRY} (entry #{built.index}): export_id 'exp_2' is not the manifest's 'exp_1'"
    assert "does not lead to the root" in found[1]


def test_an_altered_proof_hash_is_named(built: Built) -> None:
    proof = json.loads(members(built.path)[PROOF])
    assert proof["index"] == built.index and len(proof["hashes"]) >= 2
    proof["hashes"][1] = base64.b64encode(flip(base64.b64decode(proof["hashes"][1]), 0)).decode()
    changed = json.dumps(proof, separators=(",", ":"), sort_keys=True).encode()
    [problem] = problems(rewrite(built, replace={PROOF: changed}))
    assert problem.startswith(f"{PROOF}: inclusion proof for entry {built.index} does not lead to the root")


def test_an_altered_checkpoint_signature_is_named(built: Built) -> None:
    note = members(built.path)[CHECKPOINT].decode()
    body, _, signature = note.partition("\n\n")
    prefix, _, b64 = signature.rstrip("\n").rpartition(" ")
    raw = base64.b64decode(b64)
    changed = f"{body}\n\n{prefix} {base64.b64encode(flip(raw, len(raw) - 1)).decode()}\n"
    key_id = built.key.split("+")[1]
    assert problems(rewrite(built, replace={CHECKPOINT: changed.encode()})) == [
        f"{CHECKPOINT}: the signature of key {key_id} does not verify"
    ]


def test_a_wrong_pinned_key_is_named(built: Built) -> None:
    other = SigningKey.generate("camhub/home").verifier
    found = problems(built.path, str(other))
    own = "+".join(built.key.split("+")[:2])
    assert found[0] == f"{KEY}: holds key {own}, not the pinned key camhub/home+{other.id.hex()}"
    assert found[1].startswith(f"{CHECKPOINT}: not signed by key camhub/home {other.id.hex()}")


def test_a_package_re_signed_by_another_key_passes_alone_and_fails_against_the_pinned_key(built: Built) -> None:
    # What "does not prove that the key belongs to the owner's hub" means in practice.
    old = members(built.path)[CHECKPOINT].decode()
    lines = old.split("\n")
    forger = SigningKey.generate("camhub/home")
    forged = sign_checkpoint("camhub/home", int(lines[1]), base64.b64decode(lines[2]), int(lines[3][5:]), [forger])
    path = rewrite(built, replace={CHECKPOINT: forged.note.encode(), KEY: f"{forger.verifier}\n".encode()})
    assert verify_package(path).ok
    assert any("belongs to the owner's hub" in line for line in verify_package(path).does_not_prove)
    assert problems(path, built.key)[0].startswith(f"{KEY}: holds key camhub/home+{forger.verifier.id.hex()}")


@pytest.mark.parametrize("name", ["../x", "/etc/x", "clips/../../x", "clips\\x.mp4", "C:/x"])
def test_a_member_that_could_escape_the_folder_is_refused(built: Built, name: str) -> None:
    found = problems(rewrite(built, add=((name, b"x"),)))
    assert found == [f"{name!r}: unsafe member name (absolute, '..', a backslash or a control character)"]


def test_members_outside_the_layout_and_duplicates_are_refused(built: Built) -> None:
    path = rewrite(built, add=(("notes.txt", b"x"), (KEY, b"camhub/home+00000000+AA==\n")))
    assert problems(path) == [f"'notes.txt': not part of the {FORMAT} layout", f"{KEY!r}: appears more than once"]


def test_a_missing_audit_member_is_named(built: Built) -> None:
    assert problems(rewrite(built, drop=(PROOF,))) == [f"{PROOF}: missing"]


def test_a_file_that_is_not_a_zip_is_named(tmp_path: Path) -> None:
    path = tmp_path / "not.zip"
    path.write_bytes(b"hello")
    assert problems(path) == ["not.zip: not a readable zip file (BadZipFile: File is not a zip file)"]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_changed_byte_fails_or_leaves_every_proven_member_unchanged(built: Built, data: st.DataObject) -> None:
    # A byte of zip metadata (a time stamp, a version field) may change without harm;
    # what verification vouches for may not.
    raw = built.path.read_bytes()
    at = data.draw(st.integers(0, len(raw) - 1), label="at")
    mask = data.draw(st.integers(1, 255), label="mask")
    tampered = built.path.with_name("flipped.zip")
    tampered.write_bytes(raw[:at] + bytes([raw[at] ^ mask]) + raw[at + 1 :])
    if verify_package(tampered).ok:
        assert vouched_for(tampered) == vouched_for(built.path), f"byte {at} ^ {mask:#x} changed a member, yet verified"


# Building refuses what would not verify, leaving nothing behind


async def test_a_file_changed_between_manifest_and_package_leaves_no_package(
    tmp_path: Path, clock: FakeClock, clips: list[tuple[str, Path]]
) -> None:
    name, source = clips[1]

    def tamper() -> None:
        source.write_bytes(flip(source.read_bytes(), 500))  # same size, other bytes

    with pytest.raises(PackageError, match=f"changed after the manifest was made: {name} should have SHA-256"):
        await build(tmp_path, clock, clips, before_write=tamper)
    assert list((tmp_path / "exports").iterdir()) == []


async def test_a_file_grown_since_the_manifest_is_refused_before_copying(
    tmp_path: Path, clock: FakeClock, clips: list[tuple[str, Path]]
) -> None:
    name, source = clips[0]
    with pytest.raises(PackageError, match=rf"\({name}\): the manifest says \d+ bytes, found \d+"):
        await build(tmp_path, clock, clips, before_write=lambda: source.write_bytes(source.read_bytes() + b"x"))
    assert list((tmp_path / "exports").iterdir()) == []


async def test_an_entry_that_does_not_match_the_manifest_is_refused(built: Built, tmp_path: Path) -> None:
    m = members(built.path)
    proof = json.loads(m[PROOF])
    with pytest.raises(PackageError, match=r"the audit records do not prove this manifest: manifest\.json: SHA-256 is"):
        write_package(
            tmp_path / "other.zip",
            manifest=built.manifest.replace(b"City PD", b"City PE"),
            files=built.sources,
            entry=m[ENTRY],
            index=proof["index"],
            tree_size=proof["tree_size"],
            proof=[base64.b64decode(h) for h in proof["hashes"]],
            checkpoint_note=m[CHECKPOINT].decode(),
            verifier_key=built.key,
        )
    assert not (tmp_path / "other.zip").exists()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"name": "../x.mp4"}, "'../x.mp4' climbs out of its folder"),
        ({"name": "/etc/x.mp4"}, "'/etc/x.mp4' is an absolute path"),
        ({"name": "video.mp4"}, "'video.mp4' is not under clips/"),
        ({"name": "clips/.hidden.mp4"}, "must be 1-128 of A-Z a-z 0-9 . _ - and not start with a dot"),
        ({"bytes": 1.5}, "files[0].bytes: 1.5 is a float"),
        ({"camera": "garage"}, "camera 'garage' is not in the scope's cameras"),
        ({"start_ms": 1_600_000_000_000, "end_ms": 1_600_000_002_000}, "lies outside the scope's time window"),
        ({"sha256": "AB" * 32}, "sha256 must be 64 lowercase hex digits"),
    ],
)
def test_make_manifest_refuses_bad_files_naming_the_field(change: dict[str, object], message: str) -> None:
    good = {
        "name": "clips/front_a.mp4",
        "sha256": "ab" * 32,
        "bytes": 10,
        "camera": "front",
        "start_ms": 1_699_999_100_000,
        "end_ms": 1_699_999_102_000,
        "source_clip_id": 1,
        "source_sha256": "ab" * 32,
        "trimmed": False,
    }
    with pytest.raises(PackageError, match="export manifest 'exp_1': .*" + re.escape(message)):
        make_manifest(
            export_id="exp_1",
            hub_origin="camhub/home",
            created_s=1_700_000_000,
            basis=BASIS,
            scope=SCOPE,
            files=[{**good, **change}],
        )


def test_make_manifest_refuses_duplicate_names_and_a_basis_without_kind() -> None:
    f = {
        "name": "clips/a.mp4",
        "sha256": "ab" * 32,
        "bytes": 10,
        "camera": "front",
        "start_ms": 1_699_999_100_000,
        "end_ms": 1_699_999_102_000,
        "source_clip_id": 1,
        "source_sha256": "ab" * 32,
        "trimmed": True,
    }
    with pytest.raises(PackageError, match=r"'clips/a\.mp4' is listed more than once"):
        make_manifest(
            export_id="e",
            hub_origin="camhub/home",
            created_s=1,
            basis=BASIS,
            scope=SCOPE,
            files=[f, {**f, "name": "clips/A.mp4"}],
        )
    with pytest.raises(PackageError, match="basis: expected an object with kind request or override"):
        make_manifest(export_id="e", hub_origin="camhub/home", created_s=1, basis={"id": "x"}, scope=SCOPE, files=[f])


# The command line


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(CAMHUB), "export", "verify", *args], capture_output=True, text=True, cwd=cwd, timeout=60, check=False
    )


def test_cli_exit_codes_and_output(built: Built, tmp_path: Path) -> None:
    ok = run_cli(str(built.path), cwd=tmp_path)
    assert ok.returncode == 0, ok.stderr
    lines = ok.stdout.splitlines()
    assert lines[0] == f"ok: {built.path} verifies"
    assert lines[1] == "it proves:" and lines[2].startswith("  - these 2 files (")
    assert "it does not prove:" in lines

    key_file = tmp_path / "hub.key"
    key_file.write_text(built.key + "\n")
    pinned = run_cli(str(built.path), "--key", str(key_file), cwd=tmp_path)
    assert pinned.returncode == 0 and "is the key you gave with --key" in pinned.stdout

    name, source = built.sources[0]
    tampered = rewrite(built, replace={name: flip(source.read_bytes(), 100)})
    bad = run_cli(str(tampered), cwd=tmp_path)
    assert bad.returncode == 1 and bad.stdout == ""
    assert bad.stderr.splitlines()[0] == f"camhub: export: verification FAILED: {tampered}: 1 problem(s)"
    assert bad.stderr.splitlines()[1].startswith(f"  - {name}: expected SHA-256 {sha256_of(source)}")

    as_json = run_cli(str(tampered), "--json", cwd=tmp_path)
    result = json.loads(as_json.stdout)
    assert as_json.returncode == 1 and result["ok"] is False and result["problems"][0].startswith(name)

    missing = run_cli(str(tmp_path / "nope.zip"), cwd=tmp_path)
    assert missing.returncode == 2 and missing.stderr == f"camhub: {tmp_path / 'nope.zip'}: no such file\n"
    bad_key = run_cli(str(built.path), "--key", "not-a-key", cwd=tmp_path)
    assert bad_key.returncode == 2 and "not a verifier key" in bad_key.stderr
    secret = tmp_path / "data" / "audit" / "signing.key"  # given by mistake: refused without echoing it
    leaked = run_cli(str(built.path), "--key", str(secret), cwd=tmp_path)
    assert leaked.returncode == 2 and "private signing key" in leaked.stderr
    assert secret.read_text().strip().split("+", 4)[4] not in leaked.stderr


def test_cli_in_process_with_a_wrong_pinned_key(built: Built, capsys: pytest.CaptureFixture[str]) -> None:
    other = SigningKey.generate("camhub/home").verifier
    assert main(["export", "verify", str(built.path), "--key", str(other)]) == 1
    err = capsys.readouterr().err
    assert f"not the pinned key camhub/home+{other.id.hex()}" in err
    assert main(["export", "verify", str(built.path), "--key", built.key, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["ok"] is True
