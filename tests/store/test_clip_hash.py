"""A clip's SHA-256 as the index, `camhub check` and exports record it: the file's bytes, whatever their size."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from camhub.store.files import sha256_of


@pytest.mark.parametrize("size", [0, 1, (1 << 18) - 1, 1 << 18, (3 << 20) + 12345])
def test_the_hash_is_the_files_sha256_at_sizes_around_the_read_buffer(tmp_path: Path, size: int) -> None:
    data = os.urandom(size)
    path = tmp_path / "clip.mp4"
    path.write_bytes(data)
    assert sha256_of(path) == hashlib.sha256(data).hexdigest()
