"""A hub's announcement alone, as a process: `python run_announcer.py all` or `... ADDRESS [ADDRESS ...]`.

Opens zeroconf on those interfaces as the hub does (`open_zeroconf`), announces,
prints "announced NAME", and on SIGTERM withdraws, closes and prints "withdrawn".
tests/discovery/test_multicast_scope.py runs it inside a network namespace.
"""

from __future__ import annotations

import asyncio
import signal
import sys

from camhub.discovery.announce import HubAnnouncer
from camhub.discovery.network import Interfaces, announced_addresses, open_zeroconf

HUB_ID = "5ca1ab1e" * 4


async def main(args: list[str]) -> None:
    interfaces: Interfaces = "all" if args == ["all"] else tuple(args)
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    zc = open_zeroconf(interfaces)
    try:
        addresses = announced_addresses(interfaces, "::")
        announcer = HubAnnouncer(zc, port=8971, hub_id=HUB_ID, version="0.0.test", addresses=addresses)
        await announcer.start()
        print(f"announced {announcer.name}", flush=True)
        await stop.wait()
        await announcer.stop()
    finally:
        await zc.async_close()
    print("withdrawn", flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
