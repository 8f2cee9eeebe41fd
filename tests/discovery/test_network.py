"""Which interfaces discovery uses and which addresses the hub announces (camhub.discovery.network)."""

from __future__ import annotations

import logging

import pytest
from zeroconf import IPVersion

from camhub.discovery import network
from camhub.discovery.network import announced_addresses, host_addresses, ip_version, open_zeroconf

# An address no test machine has (TEST-NET-2).
ABSENT = "198.51.100.77"
LAN = ("127.0.0.1", "::1", "192.168.1.10", "fe80::1", "2001:db8::10")


def test_the_ip_version_follows_the_addresses() -> None:
    assert ip_version(("127.0.0.1",)) is IPVersion.V4Only
    assert ip_version(("fd00::1",)) is IPVersion.V6Only
    assert ip_version(("127.0.0.1", "fd00::1")) is IPVersion.All
    assert ip_version(()) is IPVersion.V4Only


def test_all_means_every_address_of_the_host_ipv4_first() -> None:
    found = host_addresses()
    assert "127.0.0.1" in found
    versions = [":" in a for a in found]
    assert versions == sorted(versions)


def test_a_loopback_config_announces_loopback() -> None:
    assert announced_addresses(("127.0.0.1",), "127.0.0.1") == ("127.0.0.1",)
    assert announced_addresses(("127.0.0.1",), "0.0.0.0") == ("127.0.0.1",)
    assert announced_addresses(("127.0.0.1",), "localhost") == ("127.0.0.1",)


def test_nothing_is_announced_where_the_web_server_does_not_listen() -> None:
    assert announced_addresses(("127.0.0.1",), ABSENT) == ()
    assert announced_addresses(("127.0.0.1",), "camhub.lan") == ()
    assert announced_addresses((ABSENT,), "0.0.0.0") == ()


def test_the_home_network_hears_of_outward_addresses_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(network, "host_addresses", lambda: LAN)
    # Loopback and link-local left out: a reader on the home network cannot use them.
    assert announced_addresses("all", "::") == ("192.168.1.10", "2001:db8::10")
    assert announced_addresses("all", "0.0.0.0") == ("192.168.1.10",)
    assert announced_addresses(("127.0.0.1", "192.168.1.10"), "0.0.0.0") == ("192.168.1.10",)
    # The web server on loopback only: discovery on the home network may not promise it there.
    assert announced_addresses(("192.168.1.10",), "127.0.0.1") == ()
    assert announced_addresses("all", "127.0.0.1") == ()  # the defaults: not announced
    assert announced_addresses(("127.0.0.1", "192.168.1.10"), "localhost") == ()
    assert announced_addresses("all", "192.168.1.10") == ("192.168.1.10",)


def test_zeroconf_opens_only_inside_the_event_loop() -> None:
    with pytest.raises(RuntimeError):
        open_zeroconf(("127.0.0.1",))


async def test_a_listed_address_the_host_lacks_is_left_out_and_said(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="camhub.discovery.network"):
        zc = open_zeroconf(("127.0.0.1", ABSENT))
    try:
        assert f"discovery.interfaces: {ABSENT} is not an address of this host now" in caplog.text
        assert network.listening_addresses(("127.0.0.1", ABSENT)) == ("127.0.0.1",)
    finally:
        await zc.async_close()
