"""The running hub's sockets join multicast groups only on the interfaces its config names.

A real `camhub run` with discovery on (zeroconf browsing, the hub's
announcement and the ONVIF probe) runs inside a network namespace holding
lo and a second interface d0 (tests/discovery/netns.py); the kernel's
multicast tables there are read once the hub browses and has probed. With
`interfaces: [127.0.0.1]` nothing is joined on d0; with `all` (the control,
safe inside the namespace) d0 is joined, so the test can fail.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from .netns import MDNS_V4, SECOND, Namespace

# WS-Discovery's group: the ONVIF probe sends to it and must never join it anywhere.
WS_DISCOVERY_V4 = "239.255.255.250"


def hub_config(folder: Path, interfaces: str) -> Path:
    config = folder / "camhub.yaml"
    config.write_text(
        f"data_dir: {folder / 'data'}\n"
        "web: {host: 127.0.0.1, port: 0}\n"
        f"discovery: {{interfaces: {interfaces}, onvif: true}}\n"
        "cameras: {}\n"
    )
    return config


def ready(lines: list[str]) -> bool:
    """Browsing, and announced (with web.host 127.0.0.1 and discovery on every interface, it says why not)."""
    text = "\n".join(lines)
    return "discovery: browsing" in text and ("announced the hub" in text or "the hub is not announced" in text)


@pytest.mark.parametrize(("interfaces", "expected"), [("[127.0.0.1]", {"lo"}), ("all", {"lo", SECOND})])
def test_the_hub_joins_mdns_only_where_the_config_says(
    netns: Namespace, tmp_path: Path, interfaces: str, expected: set[str]
) -> None:
    config = hub_config(tmp_path, interfaces)
    groups, hub = netns.memberships_while(
        [sys.executable, "-m", "camhub.cli.main", "-v", "run", "-c", str(config)], ready, timeout=120
    )
    assert hub.proc.returncode == 0, hub.output
    joined = {device for device, held in groups.items() if MDNS_V4 in held}
    assert joined == expected, hub.output
    assert not any(WS_DISCOVERY_V4 in held for held in groups.values()), groups
    if interfaces != "all":
        assert "withdrew" in hub.output, hub.output
