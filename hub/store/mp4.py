"""Just enough of the MP4 box structure to cut a fragmented MP4 after its last whole fragment.

A clip interrupted by a crash ends in a half-written fragment. Everything up
to the end of the last complete `mdat` box plays; the rest is cut off.
"""

from __future__ import annotations

import struct
from pathlib import Path


def top_level_boxes(path: Path) -> list[tuple[str, int, int]]:
    """(type, offset, size) of each complete top-level box; stops at the first incomplete one."""
    boxes = []
    size_on_disk = path.stat().st_size
    with open(path, "rb") as f:
        offset = 0
        while offset + 8 <= size_on_disk:
            f.seek(offset)
            header = f.read(16)
            size, kind = struct.unpack(">I4s", header[:8])
            if size == 1:
                if len(header) < 16:
                    break
                size = struct.unpack(">Q", header[8:16])[0]
            elif size == 0:
                size = size_on_disk - offset  # "to the end of the file"
            if size < 8 or offset + size > size_on_disk:
                break
            boxes.append((kind.decode("latin-1"), offset, size))
            offset += size
    return boxes


def complete_length(path: Path) -> int:
    """Bytes of `path` that form a playable fragmented MP4: through the last whole mdat, 0 if none."""
    boxes = top_level_boxes(path)
    kinds = [b[0] for b in boxes]
    if "moov" not in kinds:
        return 0
    last_mdat = max((i for i, k in enumerate(kinds) if k == "mdat"), default=None)
    if last_mdat is None:
        return 0
    _, offset, size = boxes[last_mdat]
    return offset + size
