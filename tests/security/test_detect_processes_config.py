"""A hostile `detect_processes`: a config error naming the key and the range, never a hub that forks without end.

The count decides how many processes the hub starts, so a value from a pasted or scripted
config must be a small whole number: anything else stops the hub before a process starts.
"""

from __future__ import annotations

from typing import Any

import pytest

from camhub.config import MAX_DETECT_PROCESSES, parse_config
from camhub.errors import ConfigError


@pytest.mark.parametrize("value", [-1, MAX_DETECT_PROCESSES + 1, 10**9, 1.5, "two", None, [1], float("nan"), True])
def test_a_bad_count_is_refused_by_key(value: Any) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config({"detect_processes": value}, "camhub.yaml")
    message = str(info.value)
    assert "detect_processes" in message
    assert "Traceback" not in message and len(message) < 2000


@pytest.mark.parametrize("value", [0, 1, MAX_DETECT_PROCESSES])
def test_a_count_in_range_is_taken(value: int) -> None:
    assert parse_config({"detect_processes": value}, "camhub.yaml").detect_processes == value
