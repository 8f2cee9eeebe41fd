"""The network interfaces discovery may use, and the one zeroconf instance on them.

`discovery.interfaces` is "all" or a tuple of this host's addresses. The
zeroconf instance that `open_zeroconf` makes joins the mDNS groups
(224.0.0.251, ff02::fb) on those interfaces only: the hub's browser and its
own announcement share it, so nothing the hub does over mDNS reaches an
interface the config did not name (tests/discovery/test_multicast_scope.py
reads the kernel's membership tables to show it).

- "all": every interface this host has now, IPv4 and, when the host has an
  IPv6 address beyond ::1, IPv6 too (as Home Assistant does);
- a tuple: those addresses, IPv4 only, IPv6 only or both as the addresses
  are. A listed address this host does not have is left out, with a
  warning naming it (an address DHCP has not given yet must not stop the
  hub from recording); zeroconf would otherwise join nothing for it
  silently (IPv4) or fail to start (IPv6).

Which addresses the hub's announcement carries is `announced_addresses`:
only those where its web server can be reached.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from typing import Literal

import ifaddr
from zeroconf import InterfaceChoice, IPVersion
from zeroconf.asyncio import AsyncZeroconf

log = logging.getLogger(__name__)

Interfaces = Literal["all"] | tuple[str, ...]  # DiscoveryConfig.interfaces
# What web.host may be to listen on every address of its family.
_WILDCARDS = {"": None, "0.0.0.0": 4, "::": None}  # "::" is dual-stack on Linux: both families


def host_addresses() -> tuple[str, ...]:
    """Every address of this host's interfaces now, loopback included, IPv4 first (what "all" means)."""
    v4: list[str] = []
    v6: list[str] = []
    for adapter in ifaddr.get_adapters():
        for ip in adapter.ips:
            if isinstance(ip.ip, str):
                v4.append(ip.ip)
            else:
                v6.append(str(ipaddress.IPv6Address(ip.ip[0].split("%")[0])))
    return tuple(dict.fromkeys(v4 + v6))


def listening_addresses(interfaces: Interfaces) -> tuple[str, ...]:
    """The addresses zeroconf joins the mDNS groups on: for a tuple, those of its addresses this host has."""
    present = host_addresses()
    if interfaces == "all":
        return present
    have = {ipaddress.ip_address(a) for a in present}
    return tuple(a for a in interfaces if ipaddress.ip_address(a) in have)


def ip_version(addresses: tuple[str, ...]) -> IPVersion:
    """V4Only, V6Only or All, as `addresses` are; V4Only when there are none."""
    versions = {ipaddress.ip_address(a).version for a in addresses}
    if versions == {6}:
        return IPVersion.V6Only
    if versions == {4, 6}:
        return IPVersion.All
    return IPVersion.V4Only


def open_zeroconf(interfaces: Interfaces) -> AsyncZeroconf:
    """The zeroconf instance for `interfaces`, on the running event loop (no thread of its own).

    Its sockets are open when this returns; close it with `await zc.async_close()`.
    """
    asyncio.get_running_loop()  # raises outside the loop, where zeroconf would start a thread of its own
    if interfaces == "all":
        # IPv6 only when there is more than ::1: a host without it may not open IPv6 sockets at all.
        v6 = any(ipaddress.ip_address(a).version == 6 and a != "::1" for a in host_addresses())
        return AsyncZeroconf(interfaces=InterfaceChoice.All, ip_version=IPVersion.All if v6 else IPVersion.V4Only)
    present = listening_addresses(interfaces)
    for missing in (a for a in interfaces if a not in present):
        log.warning(
            "discovery.interfaces: %s is not an address of this host now (it has %s); discovery does not use it",
            missing,
            ", ".join(host_addresses()) or "none",
        )
    return AsyncZeroconf(interfaces=list(present), ip_version=ip_version(present))


def announced_addresses(interfaces: Interfaces, web_host: str) -> tuple[str, ...]:
    """The addresses the hub's announcement gives: where discovery runs and the web server listens.

    Loopback and IPv6 link-local addresses are left out (an announcement on the home network that
    says 127.0.0.1 sends its reader to itself) unless discovery runs on loopback alone, as in the
    demo and the tests. Empty when the web server listens on no address discovery may announce,
    as with the defaults (web.host 127.0.0.1, discovery on "all"): then the hub is not announced.
    """
    listening = listening_addresses(interfaces)
    if web_host in _WILDCARDS:
        family = _WILDCARDS[web_host]
        usable = tuple(a for a in listening if family is None or ipaddress.ip_address(a).version == family)
    elif web_host == "localhost":
        usable = tuple(a for a in listening if ipaddress.ip_address(a).is_loopback)
    else:
        try:
            wanted = ipaddress.ip_address(web_host)
        except ValueError:
            return ()  # a host name: which of our addresses it names is the resolver's business, not ours
        usable = tuple(a for a in listening if ipaddress.ip_address(a) == wanted)
    if all(_inward(a) for a in listening):
        return usable  # discovery on loopback alone: loopback is true to whoever hears it
    return tuple(a for a in usable if not _inward(a))


def _inward(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    return ip.is_loopback or (ip.version == 6 and ip.is_link_local)


async def started(zc: AsyncZeroconf) -> None:
    """Wait until `zc`'s sockets are set up, shielded from cancellation.

    python-zeroconf waits for its start on one shared future with `asyncio.wait_for`, and a
    cancelled waiter cancels that future: its own `async_close` then raises CancelledError and
    leaves the sockets open. Waiting here once, shielded, settles the future for every later
    wait, so a hub stopped while discovery starts still closes every socket.
    """
    await asyncio.shield(zc.zeroconf.async_wait_for_start())
