"""Discovery joins the mDNS groups only on the interfaces the config names.

Each case runs the hub's zeroconf and announcement (tests/discovery/run_announcer.py)
inside a network namespace that has lo and a second interface d0, and reads
the kernel's multicast tables there while it is announced: 224.0.0.251 and
ff02::fb must be joined exactly on the named interfaces. "all" is the
control: there d0 is joined too, so a test that reads the tables wrongly
cannot pass the others.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from .netns import MDNS_V4, MDNS_V6, SECOND, SECOND_V4, SECOND_V6, Namespace

ANNOUNCER = Path(__file__).with_name("run_announcer.py")


def announced_memberships(netns: Namespace, interfaces: list[str]) -> dict[str, set[str]]:
    """{group: devices} while the announcer runs with `interfaces`; it must then withdraw and exit 0."""
    assert netns.members(MDNS_V4) == set() and netns.members(MDNS_V6) == set(), "mDNS joined before the start"
    groups, announcer = netns.memberships_while([sys.executable, str(ANNOUNCER), *interfaces], "announced camhub")
    assert announcer.proc.returncode == 0, announcer.output
    assert "withdrawn" in announcer.output
    return {group: {device for device, joined in groups.items() if group in joined} for group in (MDNS_V4, MDNS_V6)}


@pytest.mark.parametrize(
    ("interfaces", "v4_on", "v6_on"),
    [
        (["127.0.0.1"], {"lo"}, set()),
        ([SECOND_V4], {SECOND}, set()),
        ([SECOND_V6], set(), {SECOND}),
        (["127.0.0.1", SECOND_V6], {"lo"}, {SECOND}),
    ],
    ids=["loopback", "d0-v4", "d0-v6", "loopback-v4-d0-v6"],
)
def test_mdns_is_joined_only_on_the_named_interfaces(
    netns: Namespace, interfaces: list[str], v4_on: set[str], v6_on: set[str]
) -> None:
    if not netns.ipv6 and any(":" in a for a in interfaces):
        pytest.skip("the kernel gives network namespaces no IPv6")
    joined = announced_memberships(netns, interfaces)
    assert joined[MDNS_V4] == v4_on
    assert joined[MDNS_V6] == v6_on


def test_all_interfaces_join_the_second_interface_too(netns: Namespace) -> None:
    joined = announced_memberships(netns, ["all"])
    assert {"lo", SECOND} <= joined[MDNS_V4]
    if netns.ipv6:
        assert SECOND in joined[MDNS_V6]
