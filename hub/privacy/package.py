"""Export packages: the zip an outside party receives, and its offline verification.

Layout (format `camhub-export/1`; every member is stored uncompressed):

    manifest.json          canonical JSON (RFC 8785): the basis, the scope, each file's SHA-256 and size
    clips/...              the footage, exactly the files the manifest lists
    audit/entry.json       the `export_built` audit entry; its manifest_sha256 binds the manifest
    audit/proof.json       the entry's inclusion proof: {"hashes": [base64], "index", "tree_size"}
    audit/checkpoint.txt   the signed checkpoint (C2SP signed note) the proof leads to
    audit/key.txt          the log's verifier key
    README.txt             plain words for the recipient; no hash covers it

`make_manifest` builds the manifest, `write_package` the zip (durably, and
checking each file against the manifest while it copies), `verify_package`
checks a package with nothing but the package and, better, a key got out of
band. The egress choke point decides what goes in. See docs/exports.md.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import json
import os
import re
import zipfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import rfc8785

from camhub.audit.canonical import canonical, check_value, decode_entry
from camhub.audit.errors import AuditError, VerificationFailed
from camhub.audit.merkle import HASH_SIZE, leaf_hash, verify_inclusion
from camhub.audit.note import (
    SIG_PREFIX,
    Checkpoint,
    VerifierKey,
    parse_checkpoint,
    verify_checkpoint,
)
from camhub.clock import utc_text
from camhub.durable import TMP_SUFFIX, durable_rename
from camhub.errors import HubError

FORMAT = "camhub-export/1"
MANIFEST = "manifest.json"
CLIPS = "clips/"
ENTRY = "audit/entry.json"
PROOF = "audit/proof.json"
CHECKPOINT = "audit/checkpoint.txt"
KEY = "audit/key.txt"
README = "README.txt"
REQUIRED = (MANIFEST, ENTRY, PROOF, CHECKPOINT, KEY)
# Zip tools that re-pack a folder add directory members; they carry no bytes.
DIRECTORIES = ("audit/", CLIPS)
# A hostile zip may declare any size: read no more than these from the small members.
LIMITS = {MANIFEST: 16 << 20, ENTRY: 16 << 20, PROOF: 64 << 10, CHECKPOINT: 64 << 10, KEY: 4 << 10}
CHUNK = 1 << 20

MANIFEST_KEYS = ("basis", "created_s", "export_id", "files", "format", "hub_origin", "scope")
SCOPE_KEYS = ("cameras", "clip_ids", "end_s", "start_s")
FILE_KEYS = ("bytes", "camera", "end_ms", "name", "sha256", "source_clip_id", "source_sha256", "start_ms", "trimmed")
BASIS_KINDS = ("request", "override")
# Portable on every file system a recipient may unpack to: no separators, no leading dot.
_SEGMENT = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,127}")
_SHA256 = re.compile(r"[0-9a-f]{64}")


class PackageError(HubError):
    """A package cannot be built as asked, or the file to verify cannot be opened (not: it failed to verify)."""

    key = "export_package_error"
    status = 500


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    problems: list[str] = field(default_factory=list)  # what failed, in the order checked
    proves: list[str] = field(default_factory=list)  # plain words; empty unless ok
    does_not_prove: list[str] = field(default_factory=list)


# The manifest


def name_problem(name: Any) -> str | None:
    """Why `name` cannot be a file of a package (relative, under clips/, portable), or None."""
    if not isinstance(name, str):
        return f"file name {name!r} is not a string"
    parts = name.split("/")
    if "\\" in name:
        return f"{name!r} holds a backslash"
    if name.startswith("/") or re.match(r"[A-Za-z]:", name):
        return f"{name!r} is an absolute path"
    if ".." in parts:
        return f"{name!r} climbs out of its folder (..)"
    if parts[0] + "/" != CLIPS or len(parts) < 2:
        return f"{name!r} is not under {CLIPS}"
    if len(name) > 255 or not all(_SEGMENT.fullmatch(p) for p in parts[1:]):
        return f"{name!r}: each part after {CLIPS} must be 1-128 of A-Z a-z 0-9 . _ - and not start with a dot"
    return None


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _scope_problems(scope: Any) -> list[str]:
    if not isinstance(scope, dict) or tuple(sorted(scope)) != SCOPE_KEYS:
        return [f"scope: expected an object with the keys {', '.join(SCOPE_KEYS)}"]
    problems = []
    if not isinstance(scope["cameras"], list) or not all(isinstance(c, str) and c for c in scope["cameras"]):
        problems.append("scope.cameras: expected a list of camera names")
    if not (_is_int(scope["start_s"]) and _is_int(scope["end_s"]) and 0 <= scope["start_s"] <= scope["end_s"]):
        problems.append("scope: start_s and end_s must be Unix seconds with start_s <= end_s")
    ids = scope["clip_ids"]
    if ids is not None and not (isinstance(ids, list) and all(_is_int(i) for i in ids)):
        problems.append("scope.clip_ids: expected null or a list of integer clip ids")
    return problems


def _file_problems(i: int, f: Any, scope: dict[str, Any]) -> list[str]:
    if not isinstance(f, dict) or tuple(sorted(f)) != FILE_KEYS:
        return [f"files[{i}]: expected an object with the keys {', '.join(FILE_KEYS)}"]
    where = f"files[{i}] ({f['name']})" if isinstance(f["name"], str) else f"files[{i}]"
    problems = [f"files[{i}]: {p}"] if (p := name_problem(f["name"])) else []
    problems += [
        f"{where}: {k} must be 64 lowercase hex digits"
        for k in ("sha256", "source_sha256")
        if not (isinstance(f[k], str) and _SHA256.fullmatch(f[k]))
    ]
    problems += [
        f"{where}: {k} must be a whole number, 0 or more"
        for k in ("bytes", "start_ms", "end_ms", "source_clip_id")
        if not (_is_int(f[k]) and f[k] >= 0)
    ]
    if not isinstance(f["camera"], str) or not isinstance(f["trimmed"], bool):
        problems.append(f"{where}: camera must be a string and trimmed true or false")
    if problems:
        return problems
    if f["start_ms"] > f["end_ms"]:
        problems.append(f"{where}: start_ms {f['start_ms']} is after end_ms {f['end_ms']}")
    # Egress decides what is released; this only refuses a manifest that contradicts its own scope.
    if f["camera"] not in scope["cameras"]:
        problems.append(f"{where}: camera {f['camera']!r} is not in the scope's cameras")
    if scope["clip_ids"] is not None and f["source_clip_id"] not in scope["clip_ids"]:
        problems.append(f"{where}: source clip {f['source_clip_id']} is not among the scope's clip_ids")
    if f["end_ms"] < scope["start_s"] * 1000 or f["start_ms"] > scope["end_s"] * 1000:
        problems.append(f"{where}: {f['start_ms']}..{f['end_ms']} ms lies outside the scope's time window")
    return problems


def manifest_problems(value: Any) -> list[str]:
    """Everything wrong with a manifest value, each naming its field; [] when it is a valid manifest."""
    try:
        check_value(value, "manifest")
    except AuditError as exc:
        return [str(exc)]
    if not isinstance(value, dict) or tuple(sorted(value)) != MANIFEST_KEYS:
        keys = ", ".join(sorted(value)) if isinstance(value, dict) else type(value).__name__
        return [f"expected the keys {', '.join(MANIFEST_KEYS)}, got {keys}"]
    problems = [] if value["format"] == FORMAT else [f"format {value['format']!r} is not {FORMAT!r}"]
    problems += [
        f"{k} must be a non-empty string"
        for k in ("export_id", "hub_origin")
        if not (isinstance(value[k], str) and value[k])
    ]
    if not (_is_int(value["created_s"]) and value["created_s"] >= 0):
        problems.append("created_s must be Unix seconds")
    basis = value["basis"]
    if not (
        isinstance(basis, dict)
        and basis.get("kind") in BASIS_KINDS
        and isinstance(basis.get("id"), str)
        and basis["id"]
    ):
        problems.append(f"basis: expected an object with kind {' or '.join(BASIS_KINDS)} and an id")
    problems += _scope_problems(value["scope"])
    files = value["files"]
    if not isinstance(files, list):
        return [*problems, "files: expected a list"]
    if problems:
        return problems  # the files are checked against a valid scope only
    for i, f in enumerate(files):
        problems += _file_problems(i, f, value["scope"])
    # Case-blind: on the recipient's Windows or macOS disk, A.mp4 and a.mp4 are one file.
    names = [f["name"].casefold() for f in files if isinstance(f, dict) and isinstance(f.get("name"), str)]
    problems += [f"files: {n!r} is listed more than once" for n in sorted({n for n in names if names.count(n) > 1})]
    return problems


def make_manifest(
    *,
    export_id: str,
    hub_origin: str,
    created_s: int,
    basis: dict[str, Any],
    scope: dict[str, Any],
    files: list[dict[str, Any]],
) -> bytes:
    """The canonical JSON bytes of a manifest; raises PackageError naming every wrong field."""
    value = {
        "basis": basis,
        "created_s": created_s,
        "export_id": export_id,
        "files": files,
        "format": FORMAT,
        "hub_origin": hub_origin,
        "scope": scope,
    }
    problems = manifest_problems(value)
    if problems:
        raise PackageError(f"export manifest {export_id!r}: " + "; ".join(problems))
    return canonical(value)


def parse_manifest(data: bytes) -> tuple[dict[str, Any] | None, list[str]]:
    """(manifest, []) when `data` is a canonical manifest of FORMAT, else (None, problems)."""
    try:
        value = json.loads(data)
        again = rfc8785.dumps(value)
    except Exception as exc:
        return None, [f"{MANIFEST}: not valid canonical JSON ({exc})"]
    if again != data:
        return None, [f"{MANIFEST}: not in canonical JSON form (RFC 8785)"]
    problems = manifest_problems(value)
    return (None, [f"{MANIFEST}: {p}" for p in problems]) if problems else (value, [])


# The audit part, checked the same way by the writer and the verifier


@dataclass(frozen=True)
class _Proven:
    manifest: dict[str, Any]
    manifest_bytes: bytes
    entry: dict[str, Any]
    tree_size: int
    checkpoint: Checkpoint
    key: VerifierKey


def proof_document(index: int, tree_size: int, proof: list[bytes]) -> bytes:
    return canonical({"hashes": [base64.b64encode(h).decode() for h in proof], "index": index, "tree_size": tree_size})


def _parse_proof(data: bytes) -> tuple[int, int, list[bytes]]:
    try:
        value = json.loads(data)
        if rfc8785.dumps(value) != data:
            raise ValueError("not in canonical JSON form (RFC 8785)")
    except Exception as exc:
        raise VerificationFailed(f"{PROOF}: not valid canonical JSON ({exc})") from None
    if not (
        isinstance(value, dict)
        and sorted(value) == ["hashes", "index", "tree_size"]
        and _is_int(value["index"])
        and _is_int(value["tree_size"])
        and isinstance(value["hashes"], list)
    ):
        raise VerificationFailed(f'{PROOF}: expected {{"hashes": [base64], "index": int, "tree_size": int}}')
    hashes = []
    for i, text in enumerate(value["hashes"]):
        try:
            raw = base64.b64decode(text, validate=True) if isinstance(text, str) else b""
        except binascii.Error:
            raw = b""
        if len(raw) != HASH_SIZE or base64.b64encode(raw).decode() != text:
            raise VerificationFailed(f"{PROOF}: hashes[{i}] is not the base64 of a 32-byte hash")
        hashes.append(raw)
    return value["index"], value["tree_size"], hashes


def _check_entry(
    entry: dict[str, Any], manifest: dict[str, Any], manifest_bytes: bytes, index: int | None
) -> list[str]:
    fields = entry["fields"]
    where = f"{ENTRY} (entry #{entry['index']})"
    if entry["event"] != "export_built" or not isinstance(fields, dict):
        return [f"{where}: is a {entry['event']!r} event, not export_built"]
    problems = []
    if index is not None and entry["index"] != index:
        problems.append(f"{where}: holds index {entry['index']}, but {PROOF} is for entry #{index}")
    if fields.get("export_id") != manifest["export_id"]:
        problems.append(
            f"{where}: export_id {fields.get('export_id')!r} is not the manifest's {manifest['export_id']!r}"
        )
    actual = hashlib.sha256(manifest_bytes).hexdigest()
    if fields.get("manifest_sha256") != actual:
        problems.append(f"{MANIFEST}: SHA-256 is {actual}, but the audit entry records {fields.get('manifest_sha256')}")
    listed = [f["sha256"] for f in manifest["files"]]
    logged = fields.get("clip_sha256")
    if logged != listed:
        if not isinstance(logged, list) or len(logged) != len(listed):
            count = len(logged) if isinstance(logged, list) else logged
            problems.append(f"{where}: clip_sha256 lists {count} hashes, the manifest {len(listed)} files")
        else:
            problems += [
                f"{where}: clip_sha256[{i}] is {got}, but the manifest's {manifest['files'][i]['name']} "
                f"has SHA-256 {want}"
                for i, (got, want) in enumerate(zip(logged, listed, strict=True))
                if got != want
            ]
    return problems


def _canonical_signatures(note: str, signatures: list[tuple[str, bytes, bytes]]) -> bool:
    # parse_checkpoint reads base64 leniently; only the body is signed, so insist on one spelling of the rest.
    lines = "".join(f"{SIG_PREFIX}{n} {base64.b64encode(k + s).decode()}\n" for n, k, s in signatures)
    return note.partition("\n\n")[2] == lines


def check_audit(
    manifest: dict[str, Any],
    manifest_bytes: bytes,
    entry_bytes: bytes,
    proof_bytes: bytes,
    note_bytes: bytes,
    key_bytes: bytes,
    pinned: VerifierKey | None,
    problems: list[str],
) -> _Proven | None:
    """Check entry, proof, checkpoint and signature against the manifest; append what fails to `problems`."""
    start = len(problems)
    try:
        index, tree_size, hashes = _parse_proof(proof_bytes)
    except VerificationFailed as exc:
        index, tree_size, hashes, proof_error = -1, 0, [], str(exc)
    else:
        proof_error = ""
    entry = None
    try:
        entry = decode_entry(entry_bytes, index)
        problems += _check_entry(entry, manifest, manifest_bytes, None if proof_error else index)
    except AuditError as exc:
        problems.append(f"{ENTRY}: {exc}")
    if proof_error:
        problems.append(proof_error)
    checkpoint = note = None
    try:
        note = note_bytes.decode()
        checkpoint, signatures = parse_checkpoint(note, CHECKPOINT)
        if not _canonical_signatures(note, signatures):
            problems.append(f"{CHECKPOINT}: signature lines are not in their canonical form")
    except (UnicodeDecodeError, VerificationFailed) as exc:
        problems.append(f"{CHECKPOINT}: {exc}" if isinstance(exc, UnicodeDecodeError) else str(exc))
    if checkpoint is not None and not proof_error:
        if tree_size != checkpoint.size:
            problems.append(
                f"{PROOF}: is for a tree of size {tree_size}, the checkpoint's tree has size {checkpoint.size}"
            )
        else:
            try:
                verify_inclusion(index, tree_size, leaf_hash(entry_bytes), hashes, checkpoint.root)
            except VerificationFailed as exc:
                problems.append(f"{PROOF}: {exc}: the entry is not in the signed tree as given")
    if checkpoint is not None and checkpoint.origin != manifest["hub_origin"]:
        problems.append(
            f"{CHECKPOINT}: origin {checkpoint.origin!r} is not the manifest's log {manifest['hub_origin']!r}"
        )
    key = None
    try:
        key = VerifierKey.parse(key_bytes.decode())
        if key_bytes.decode() != f"{key}\n":
            problems.append(f"{KEY}: not a verifier key in its canonical form (one line: name+id+key)")
    except (UnicodeDecodeError, AuditError) as exc:
        problems.append(f"{KEY}: {exc}")
    if key is not None and pinned is not None and key != pinned:
        problems.append(
            f"{KEY}: holds key {key.name}+{key.id.hex()}, not the pinned key {pinned.name}+{pinned.id.hex()}"
        )
    signer = pinned or key
    if note is not None and checkpoint is not None and signer is not None:
        try:
            verify_checkpoint(note, signer, CHECKPOINT)
        except VerificationFailed as exc:
            problems.append(str(exc))
    if len(problems) > start or entry is None or checkpoint is None or signer is None:
        return None
    return _Proven(manifest, manifest_bytes, entry, tree_size, checkpoint, signer)


# Writing


def _zip_info(name: str, created_s: int, size: int) -> zipfile.ZipInfo:
    stamp = datetime.fromtimestamp(min(max(created_s, 315_532_800), 4_354_819_199), UTC)  # zip times: 1980-2107
    info = zipfile.ZipInfo(name, stamp.timetuple()[:6])
    info.compress_type = zipfile.ZIP_STORED
    info.external_attr = 0o644 << 16
    info.file_size = size  # lets zipfile choose ZIP64 up front for files over 2 GiB
    return info


def _copy_checked(zf: zipfile.ZipFile, info: zipfile.ZipInfo, source: Path, expected: dict[str, Any]) -> None:
    digest = hashlib.sha256()
    copied = 0
    with open(source, "rb") as src, zf.open(info, "w") as dst:
        while chunk := src.read(CHUNK):
            digest.update(chunk)
            copied += len(chunk)
            dst.write(chunk)
            if copied > expected["bytes"]:
                break
    if digest.hexdigest() != expected["sha256"] or copied != expected["bytes"]:
        raise PackageError(
            f"{source} changed after the manifest was made: {info.filename} should have SHA-256 "
            f"{expected['sha256']} ({expected['bytes']} bytes), it has {digest.hexdigest()} "
            f"({copied}{'+' if copied > expected['bytes'] else ''} bytes); no package was written"
        )


def write_package(
    path: Path,
    *,
    manifest: bytes,
    files: list[tuple[str, Path]],
    entry: bytes,
    index: int,
    tree_size: int,
    proof: list[bytes],
    checkpoint_note: str,
    verifier_key: str,
) -> int:
    """Write the package zip at `path` whole or not at all; returns its size in bytes.

    Blocking (run it in a thread). Refuses, leaving nothing behind, when the
    audit part does not verify against the manifest or a file's bytes are not
    the manifest's: a package the hub writes always passes `verify_package`.
    """
    path = Path(path)
    value, problems = parse_manifest(manifest)
    if value is None:
        raise PackageError(f"{path.name}: " + "; ".join(problems))
    listed = [f["name"] for f in value["files"]]
    if [name for name, _ in files] != listed:
        raise PackageError(f"{path.name}: the files given {[n for n, _ in files]} are not the manifest's {listed}")
    proof_bytes = proof_document(index, tree_size, proof)
    key_bytes = f"{verifier_key.strip()}\n".encode()
    if check_audit(value, manifest, entry, proof_bytes, checkpoint_note.encode(), key_bytes, None, problems) is None:
        raise PackageError(f"{path.name}: the audit records do not prove this manifest: " + "; ".join(problems))
    for (name, source), expected in zip(files, value["files"], strict=True):
        if not source.is_file() or source.stat().st_size != expected["bytes"]:
            size = source.stat().st_size if source.is_file() else "no file"
            raise PackageError(
                f"{source} ({name}): the manifest says {expected['bytes']} bytes, found {size}; no package was written"
            )
    if path.exists():
        raise PackageError(f"{path}: a package of that name exists; packages are never replaced")
    created = value["created_s"]
    small = [
        (ENTRY, entry),
        (PROOF, proof_bytes),
        (CHECKPOINT, checkpoint_note.encode()),
        (KEY, key_bytes),
        (README, readme(value, index, tree_size, path.name).encode()),
    ]
    tmp = path.with_name(path.name + TMP_SUFFIX)
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()  # left by a crash
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # footage: the owner's eyes only, from byte 0
        with open(fd, "wb") as raw, zipfile.ZipFile(raw, "w") as zf:
            zf.writestr(_zip_info(MANIFEST, created, len(manifest)), manifest)
            for (name, source), expected in zip(files, value["files"], strict=True):
                _copy_checked(zf, _zip_info(name, created, expected["bytes"]), source, expected)
            for name, data in small:
                zf.writestr(_zip_info(name, created, len(data)), data)
        durable_rename(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    return path.stat().st_size


def readme(manifest: dict[str, Any], index: int, tree_size: int, package_name: str) -> str:
    files = manifest["files"]
    total = sum(f["bytes"] for f in files)
    return f"""\
camhub export {manifest["export_id"]}
{"=" * (14 + len(manifest["export_id"]))}

This zip holds video from a camhub home camera hub ({manifest["hub_origin"]}),
released under {manifest["basis"]["kind"]} {manifest["basis"]["id"]}, with what you need to check it
offline:

  manifest.json         on what basis the video was released, the cameras and
                        time window, and the SHA-256 hash and size of each file
  clips/                {len(files)} video file(s), {total} bytes, exactly as listed in the manifest
  audit/entry.json      entry #{index} of the hub's audit log, recording this export
                        and the SHA-256 of the manifest and of each file
  audit/proof.json      a Merkle inclusion proof (RFC 6962) for that entry
  audit/checkpoint.txt  the log's checkpoint of size {tree_size}, signed with Ed25519
  audit/key.txt         the public key that signs the log

How to check it
---------------
    camhub export verify {package_name}
    camhub export verify {package_name} --key 'KEY'

where KEY is the hub's verifier key as the owner, or someone who watches the
hub's log, gave it to you. Exit status 0: it verifies, and the command says
what that proves; 1: it does not, and the command names what failed. camhub's
docs/exports.md gives the same steps for any SHA-256, Merkle and Ed25519 tool.

What a successful check proves
------------------------------
- The files are exactly those the manifest lists, byte for byte.
- The manifest is the one the hub recorded in its audit log (entry #{index}),
  and that entry is in the log's tree that the checkpoint signs.

What it does not prove
----------------------
- That the key belongs to the owner's hub, unless you compare it with the
  key the owner or an independent witness publishes (or pass it with --key).
- That the video shows what it appears to show, or that the clocks were right.
- That nothing else was released: that needs the whole log or the hub's
  transparency report.
- Anything in this README: no hash covers it.
"""


# Verifying


def _member_problem(name: str) -> str | None:
    if (
        "\\" in name
        or name.startswith("/")
        or re.match(r"[A-Za-z]:", name)
        or ".." in name.split("/")
        or any(ord(c) < 32 for c in name)
    ):
        return f"{name!r}: unsafe member name (absolute, '..', a backslash or a control character)"
    if name in REQUIRED or name in (README, *DIRECTORIES):
        return None
    if name.startswith(CLIPS) and name_problem(name.removesuffix("/")) is None:
        return None
    return f"{name!r}: not part of the {FORMAT} layout"


def _read_small(zf: zipfile.ZipFile, name: str) -> bytes:
    info = zf.getinfo(name)
    limit = LIMITS[name]
    if info.file_size > limit:
        raise VerificationFailed(f"{name}: {info.file_size} bytes, more than the {limit} it may hold")
    with zf.open(info) as f:
        data = f.read(limit + 1)
    if len(data) > limit:
        raise VerificationFailed(f"{name}: more than the {limit} bytes it may hold")
    return data


def _hash_member(f: IO[bytes]) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    while chunk := f.read(CHUNK):
        digest.update(chunk)
        size += len(chunk)
    return digest.hexdigest(), size


def _check_files(zf: zipfile.ZipFile, manifest: dict[str, Any], problems: list[str]) -> None:
    present = {i.filename: i for i in zf.infolist() if i.filename.startswith(CLIPS) and not i.is_dir()}
    for f in manifest["files"]:
        info = present.pop(f["name"], None)
        if info is None:
            problems.append(f"{f['name']}: listed in the manifest but missing from the package")
            continue
        try:
            with zf.open(info) as member:
                actual, size = _hash_member(member)
        except Exception as exc:
            problems.append(
                f"{f['name']}: cannot be read from the zip ({exc}): changed or damaged; "
                f"the manifest expects SHA-256 {f['sha256']}"
            )
            continue
        if actual != f["sha256"] or size != f["bytes"]:
            problems.append(
                f"{f['name']}: expected SHA-256 {f['sha256']} ({f['bytes']} bytes), found {actual} ({size} bytes)"
            )
    problems += [f"{name}: in the package but not in the manifest" for name in present]


def _verify_zip(zf: zipfile.ZipFile, pinned: VerifierKey | None, problems: list[str]) -> _Proven | None:
    names = [i.filename for i in zf.infolist()]
    problems += [p for n in names if (p := _member_problem(n))]
    problems += [f"{i.filename!r}: a folder that holds bytes" for i in zf.infolist() if i.is_dir() and i.file_size]
    problems += [f"{n!r}: appears more than once" for n in sorted({n for n in names if names.count(n) > 1})]
    problems += [f"{n}: missing" for n in REQUIRED if n not in names]
    if problems:
        return None
    try:
        small = {name: _read_small(zf, name) for name in REQUIRED}
    except VerificationFailed as exc:
        problems.append(str(exc))
        return None
    manifest, found = parse_manifest(small[MANIFEST])
    if manifest is None:
        problems += found
        return None
    _check_files(zf, manifest, problems)
    proven = check_audit(
        manifest, small[MANIFEST], small[ENTRY], small[PROOF], small[CHECKPOINT], small[KEY], pinned, problems
    )
    return None if problems else proven


def _claims(proven: _Proven, pinned: bool) -> tuple[list[str], list[str]]:
    manifest = proven.manifest
    files = manifest["files"]
    key = f"{proven.key.name}+{proven.key.id.hex()}"
    entry = proven.entry
    fields = entry["fields"]
    proves = [
        (
            f"these {len(files)} files ({sum(f['bytes'] for f in files)} bytes) are exactly the files listed in the "
            "manifest: each one's SHA-256 and size match, and there are no others"
        ),
        (
            f"the manifest (SHA-256 {hashlib.sha256(proven.manifest_bytes).hexdigest()}) is the one recorded in entry "
            f"#{entry['index']} of audit log {proven.checkpoint.origin} (export {manifest['export_id']}, basis "
            f"{fields.get('basis')}, to {fields.get('recipient')}, "
            f"logged {utc_text(entry['time_ms'] / 1000)}), which is "
            f"included in the log's tree of size {proven.tree_size} signed by key {key} "
            f"at {utc_text(proven.checkpoint.time)}"
        ),
    ]
    if pinned:
        proves.append(f"key {key} is the key you gave with --key")
    not_proven = (
        []
        if pinned
        else [
            (
                f"that key {key} belongs to the owner's hub: compare it with the key the owner or a witness publishes, "
                "and verify again with --key"
            )
        ]
    )
    not_proven += [
        (
            "that the footage shows what it appears to show, or that the hub's and the cameras' clocks were right "
            "(every time above is the hub's own)"
        ),
        (
            "that the basis was genuine: the log records the request or legal document the hub was given, not whether "
            "it was real"
        ),
        (
            "that nothing else was released: that needs the whole log (camhub audit verify), a witness's checkpoints "
            "or the transparency report"
        ),
        f"anything in {README}: no hash covers it",
    ]
    return proves, not_proven


def verify_package(path: Path, pinned_key: str | None = None) -> VerifyResult:
    """Check a package offline; `pinned_key` is the hub's verifier key got out of band.

    Raises PackageError when `path` is not a file and AuditError when
    `pinned_key` is not a verifier key; every finding about the package
    itself is a problem in the result.
    """
    if pinned_key is not None and pinned_key.lstrip().startswith("PRIVATE+"):
        # Checked before parsing, whose error would repeat the key on screen.
        raise PackageError(
            "the key given is the hub's private signing key: give its verifier key "
            "(name+id+key, printed by `camhub audit verify`) and keep the private one secret"
        )
    pinned = VerifierKey.parse(pinned_key) if pinned_key is not None else None
    path = Path(path)
    if not path.is_file():
        raise PackageError(f"{path}: no such file")
    problems: list[str] = []
    try:
        with zipfile.ZipFile(path) as zf:
            verified = _verify_zip(zf, pinned, problems)
    except Exception as exc:
        problems.append(f"{path.name}: not a readable zip file ({type(exc).__name__}: {exc})")
        verified = None
    if verified is None:
        return VerifyResult(False, problems or [f"{path.name}: does not verify"])
    proves, not_proven = _claims(verified, pinned=pinned is not None)
    return VerifyResult(True, [], proves, not_proven)
