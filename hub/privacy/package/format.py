"""The export package format `camhub-export/1`: what a package holds and what its documents look like.

Layout (every member is stored uncompressed):

    manifest.json          canonical JSON (RFC 8785): the basis, the scope, each file's SHA-256 and size
    clips/...              the footage, exactly the files the manifest lists
    audit/entry.json       the `export_built` audit entry; its manifest_sha256 binds the manifest
    audit/proof.json       the entry's inclusion proof: {"hashes": [base64], "index", "tree_size"}
    audit/checkpoint.txt   the signed checkpoint (C2SP signed note) the proof leads to
    audit/key.txt          the log's verifier key
    README.txt             plain words for the recipient; no hash covers it

This module is the one definition both sides share: the member names, the
manifest's schema (`manifest_problems`, `parse_manifest`), the shape of the
proof document and the README text. The writer (`writer.py`) and the
verifier (`verifier.py`) import it; it imports neither.
"""

from __future__ import annotations

import base64
import json
import re
from typing import Any

import rfc8785

from camhub.audit.canonical import canonical, check_value
from camhub.audit.errors import AuditError
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


def is_int(value: Any) -> bool:
    """A JSON integer: bool is an int subclass in Python, but true is not 1 in a manifest."""
    return isinstance(value, int) and not isinstance(value, bool)


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


def _scope_problems(scope: Any) -> list[str]:
    if not isinstance(scope, dict) or tuple(sorted(scope)) != SCOPE_KEYS:
        return [f"scope: expected an object with the keys {', '.join(SCOPE_KEYS)}"]
    problems = []
    if not isinstance(scope["cameras"], list) or not all(isinstance(c, str) and c for c in scope["cameras"]):
        problems.append("scope.cameras: expected a list of camera names")
    if not (is_int(scope["start_s"]) and is_int(scope["end_s"]) and 0 <= scope["start_s"] <= scope["end_s"]):
        problems.append("scope: start_s and end_s must be Unix seconds with start_s <= end_s")
    ids = scope["clip_ids"]
    if ids is not None and not (isinstance(ids, list) and all(is_int(i) for i in ids)):
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
        if not (is_int(f[k]) and f[k] >= 0)
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
    if not (is_int(value["created_s"]) and value["created_s"] >= 0):
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


# The audit part


def proof_document(index: int, tree_size: int, proof: list[bytes]) -> bytes:
    """audit/proof.json: canonical JSON of the entry's index, the tree size and the proof's hashes in base64."""
    return canonical({"hashes": [base64.b64encode(h).decode() for h in proof], "index": index, "tree_size": tree_size})


def key_document(verifier_key: str) -> bytes:
    """audit/key.txt: the verifier key on one line (name+id+key)."""
    return f"{verifier_key.strip()}\n".encode()


# What the recipient reads first


def readme(manifest: dict[str, Any], index: int, tree_size: int, package_name: str) -> str:
    """README.txt: the package in plain words, and how to check it; no hash covers it."""
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
