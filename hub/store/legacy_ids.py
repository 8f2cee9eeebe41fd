"""Clip ids an older hub numbered 1, 2, 3..., kept beside the index so a rebuilt index gives them back.

New clips take their id from their file name (`camhub.store.files.clip_id_of`);
clips numbered before that keep their numbers. The first open of an index
holding such rows copies {relative clip path: id} into LEGACY_IDS_FILE in the
data folder, and re-indexing (recovery, repair) reads them from there.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from camhub.durable import write_durably
from camhub.store.db import StoreError

# {relative clip path: id} of clips an older hub numbered; written once, read when re-indexing.
LEGACY_IDS_FILE = "clip-ids.json"


def legacy_ids(data_dir: Path) -> dict[str, int]:
    path = data_dir / LEGACY_IDS_FILE
    try:
        found = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise StoreError(f"{path}: cannot read the kept clip ids ({exc}); restore it from a backup") from None
    if not isinstance(found, dict) or not all(isinstance(k, str) and type(v) is int for k, v in found.items()):
        raise StoreError(f"{path}: expected an object of clip path to whole-number id; restore it from a backup")
    return found


def keep_legacy_ids(data_dir: Path, found: list[dict[str, Any]]) -> None:
    """Copy ids an older hub numbered into LEGACY_IDS_FILE, so a rebuilt index can give them back."""
    if not found:
        return
    kept = legacy_ids(data_dir)
    missing = {r["path"]: r["id"] for r in found if kept.get(r["path"]) != r["id"]}
    if missing:
        write_durably(data_dir / LEGACY_IDS_FILE, json.dumps({**kept, **missing}, sort_keys=True).encode())
