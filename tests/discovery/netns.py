"""A network namespace with a second interface, to see which interfaces a process joins mDNS on.

`namespace()` makes a namespace (root only) with loopback up and a second
interface `d0` (10.231.0.1/24 and fd00:231::1/64): a dummy where the kernel
has the module, else one end of a veth pair whose other end, `d0peer`, stays
in the namespace too. Nothing in it reaches the host's network, so a
process there may use "all" interfaces safely. `Namespace.start(argv)` runs
any command inside it (an announcer script, or `camhub run -c config`),
collecting its output; `wait_for` blocks until a line says it is ready, and
`memberships()` reads the kernel's multicast tables (/proc/net/igmp and
igmp6, which are per namespace) as {device: {group, ...}};
`memberships_while(argv, ready)` does all three and stops the process.

The namespace and every process left in it are removed when the context
ends, however the test ended.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import shutil
import signal
import socket
import struct
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

MDNS_V4 = "224.0.0.251"
MDNS_V6 = "ff02::fb"
SECOND = "d0"  # the interface besides lo
SECOND_V4 = "10.231.0.1"
SECOND_V6 = "fd00:231::1"


def unavailable() -> str | None:
    """Why no namespace can be made here, or None when one can."""
    if os.geteuid() != 0:
        return "making a network namespace needs root"
    if shutil.which("ip") is None:
        return "the ip command (iproute2) is not installed"
    probe = f"camhub-probe-{uuid.uuid4().hex[:8]}"
    made = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True)
    if made.returncode != 0:
        return f"ip netns add failed: {made.stderr.strip()}"
    subprocess.run(["ip", "netns", "del", probe], capture_output=True)
    return None


class NetnsProcess:
    """A command running inside a namespace; its stdout and stderr lines collect in `lines`."""

    def __init__(self, argv: Sequence[str], env: dict[str, str] | None, cwd: Path | None) -> None:
        self.argv = list(argv)
        self.lines: list[str] = []
        self._changed = threading.Condition()
        self.proc = subprocess.Popen(
            self.argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=cwd
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        with self.proc.stdout:
            for line in self.proc.stdout:
                with self._changed:
                    self.lines.append(line.rstrip("\n"))
                    self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    @property
    def output(self) -> str:
        with self._changed:
            return "\n".join(self.lines)

    def wait_for(self, ready: str | Callable[[list[str]], bool], timeout: float = 60.0) -> None:
        """Block until `ready` (a text some line contains, or a test of all lines) holds.

        Fails with the output so far when the process ends first or `timeout` seconds pass.
        """
        test = ready if callable(ready) else (lambda lines: any(ready in line for line in lines))
        deadline = time.monotonic() + timeout
        with self._changed:
            while not test(self.lines):
                if not self._reader.is_alive():
                    raise AssertionError(
                        f"{self.argv} ended (exit {self.proc.poll()}) before {ready!r}:\n{self.output}"
                    )
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"{self.argv}: no {ready!r} within {timeout} s:\n{self.output}")
                self._changed.wait(left)

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM, then SIGKILL after `timeout` seconds; the exit code (negative: killed by that signal)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._reader.join(timeout)
        return self.proc.returncode


class Namespace:
    """A network namespace by name; see the module docstring for what it holds."""

    def __init__(self, name: str, ipv6: bool) -> None:
        self.name = name
        self.ipv6 = ipv6  # whether the kernel gives the namespace IPv6 (SECOND_V6 on d0)
        self.processes: list[NetnsProcess] = []

    def exec(self, argv: Sequence[str], timeout: float = 30.0) -> str:
        """Run `argv` inside the namespace to its end; its stdout."""
        done = subprocess.run(
            ["ip", "netns", "exec", self.name, *argv], capture_output=True, text=True, timeout=timeout
        )
        if done.returncode != 0:
            raise AssertionError(f"{argv} in {self.name} failed ({done.returncode}): {done.stderr.strip()}")
        return done.stdout

    def start(self, argv: Sequence[str], env: dict[str, str] | None = None, cwd: Path | None = None) -> NetnsProcess:
        """Start `argv` inside the namespace (`ip netns exec` execs it: signals reach it directly)."""
        process = NetnsProcess(["ip", "netns", "exec", self.name, *argv], env, cwd)
        self.processes.append(process)
        return process

    def memberships_while(
        self,
        argv: Sequence[str],
        ready: str | Callable[[list[str]], bool],
        timeout: float = 60.0,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
    ) -> tuple[dict[str, set[str]], NetnsProcess]:
        """Start `argv`, wait until `ready`, read `memberships()`, stop it (SIGTERM).

        The tables as they were while it ran, and the process, stopped: its exit code and output.
        """
        process = self.start(argv, env, cwd)
        process.wait_for(ready, timeout)
        groups = self.memberships()
        process.stop()
        return groups, process

    def memberships(self) -> dict[str, set[str]]:
        """Multicast groups joined on each device in the namespace, as text: {"lo": {"224.0.0.251", ...}}."""
        groups = parse_igmp(self.exec(["cat", "/proc/net/igmp"]))
        if self.ipv6:
            for device, joined in parse_igmp6(self.exec(["cat", "/proc/net/igmp6"])).items():
                groups.setdefault(device, set()).update(joined)
        return groups

    def members(self, group: str) -> set[str]:
        """The devices on which `group` is joined."""
        return {device for device, joined in self.memberships().items() if group in joined}


def parse_igmp(text: str) -> dict[str, set[str]]:
    """/proc/net/igmp: a device line ("1\\tlo : 2 V3"), then one line per group, hex in host byte order."""
    groups: dict[str, set[str]] = {}
    device = None
    for line in text.splitlines()[1:]:
        fields = line.split()
        if not fields:
            continue
        if not line[0].isspace():
            device = fields[1]
            groups.setdefault(device, set())
        elif device is not None:
            groups[device].add(socket.inet_ntoa(struct.pack("=I", int(fields[0], 16))))
    return groups


def parse_igmp6(text: str) -> dict[str, set[str]]:
    """/proc/net/igmp6: "index device group-hex users flags timer" per line, the group in network order."""
    groups: dict[str, set[str]] = {}
    for line in text.splitlines():
        fields = line.split()
        if len(fields) >= 3:
            address = ipaddress.IPv6Address(bytes.fromhex(fields[2]))
            groups.setdefault(fields[1], set()).add(str(address))
    return groups


def _ip(*args: str) -> None:
    done = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30)
    if done.returncode != 0:
        raise AssertionError(f"ip {' '.join(args)} failed: {done.stderr.strip()}")


def _add_second_interface(name: str, ipv6: bool) -> None:
    dummy = subprocess.run(["ip", "-n", name, "link", "add", SECOND, "type", "dummy"], capture_output=True, text=True)
    links = [SECOND]
    if dummy.returncode != 0:  # no dummy module in this kernel: a veth pair, both ends in the namespace
        _ip("-n", name, "link", "add", SECOND, "type", "veth", "peer", "name", SECOND + "peer")
        links.append(SECOND + "peer")
    for link in links:
        if ipv6:  # no link-local address: it would be tentative (DAD) for a second, and d0 has one fixed address
            _ip("-n", name, "link", "set", link, "addrgenmode", "none")
    _ip("-n", name, "addr", "add", f"{SECOND_V4}/24", "dev", SECOND)
    if ipv6:
        _ip("-n", name, "addr", "add", f"{SECOND_V6}/64", "dev", SECOND, "nodad")
    for link in links:
        _ip("-n", name, "link", "set", link, "multicast", "on", "up")


@contextlib.contextmanager
def namespace(prefix: str = "camhub-test") -> Iterator[Namespace]:
    """A fresh namespace with lo and d0 up; removed, with every process in it, when the block ends."""
    name = f"{prefix}-{uuid.uuid4().hex[:8]}"
    _ip("netns", "add", name)
    try:
        _ip("-n", name, "link", "set", "lo", "up")
        ipv6 = subprocess.run(["ip", "netns", "exec", name, "test", "-e", "/proc/net/if_inet6"]).returncode == 0
        _add_second_interface(name, ipv6)
        space = Namespace(name, ipv6)
        try:
            yield space
        finally:
            for process in space.processes:
                process.stop()
    finally:
        _remove(name)


def _remove(name: str) -> None:
    # Processes a test started there and left behind (a child of a child): the namespace outlives its
    # name while any process is in it.
    pids = subprocess.run(["ip", "netns", "pids", name], capture_output=True, text=True).stdout.split()
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(int(pid), signal.SIGKILL)
    subprocess.run(["ip", "netns", "del", name], capture_output=True)
