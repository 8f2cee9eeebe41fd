"""A Mosquitto broker of our own on 127.0.0.1, for `camhub demo` and the tests (tests/mqtt_broker.py).

`LocalMosquitto` runs Debian's `mosquitto` (2.x) with a config it writes
into a folder it owns: one listener on 127.0.0.1, no anonymous clients, a
password file made by `mosquitto_passwd` (user `camhub`, a random password
unless one is given), no persistence, and the broker's log beside them.
Without persistence a retained message does not survive a restart: a
client that publishes retained state (the hub) must publish it again when it
reconnects. The port is picked once and kept across restarts, so a client
reconnects to the address it had.

`start()` returns once this process's broker has logged that it runs and
accepts a TCP connection; it raises `BrokerError` with the end of the log
when the broker exits or does not get there in time. It blocks for as long
as mosquitto takes to listen (milliseconds), so async callers run it in a
thread.
"""

from __future__ import annotations

import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import IO

from camhub.errors import HubError

HOST = "127.0.0.1"
USERNAME = "camhub"
INSTALL_HINT = "apt-get install mosquitto"
# Debian installs the broker in /usr/sbin, which is not on an ordinary user's PATH.
SBIN = ("/usr/local/sbin", "/usr/sbin", "/sbin")


class BrokerError(HubError):
    """Our own Mosquitto could not be set up, started or stopped; the message says why."""

    key = "broker_failed"


def find_program(name: str) -> Path | None:
    """`mosquitto` or `mosquitto_passwd` on PATH or in the sbin folders, else None."""
    path = os.pathsep.join([os.environ.get("PATH", ""), *SBIN])
    found = shutil.which(name, path=path)
    return Path(found) if found else None


def mosquitto_version(binary: Path) -> str:
    """The version `mosquitto -h` reports ("2.0.11"); BrokerError when it reports none."""
    result = subprocess.run([str(binary), "-h"], capture_output=True, text=True, timeout=30, check=False)
    found = re.search(r"mosquitto version (\S+)", result.stdout + result.stderr)
    if found:
        return found.group(1)
    raise BrokerError(f"{binary} -h printed no version; expected 'mosquitto version 2.x'")


def free_loopback_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


class LocalMosquitto:
    """One mosquitto process on 127.0.0.1 with a password file, its files in `folder`."""

    host = HOST

    def __init__(
        self,
        folder: Path,
        *,
        port: int | None = None,
        username: str = USERNAME,
        password: str | None = None,
        binary: Path | None = None,
    ) -> None:
        found = binary or find_program("mosquitto")
        if found is None:
            raise BrokerError(f"mosquitto is not installed ({INSTALL_HINT})")
        self.binary = found
        self.folder = folder
        self.port = port or free_loopback_port()
        self._port_given = port is not None
        self.username = username
        self.password = password or secrets.token_urlsafe(18)
        self.config_path = folder / "mosquitto.conf"
        self.password_path = folder / "passwd"
        self.log_path = folder / "mosquitto.log"
        self._stderr_path = folder / "mosquitto.stderr"
        self._process: subprocess.Popen[bytes] | None = None
        self._stderr: IO[bytes] | None = None
        self._started_once = False

    def hub_mqtt(self) -> dict[str, object]:
        """The `mqtt:` keys of a hub config that connects to this broker with its user."""
        return {"host": self.host, "port": self.port, "username": self.username, "password": self.password}

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self, patience: float = 30.0) -> None:
        """Start the broker and return once it accepts connections on `port`; a no-op when it runs."""
        if self.running:
            return
        if not self._started_once:
            self._prepare()
        # A port picked here may have been taken since; pick another, but only before the first start:
        # after it, clients know this address and the broker must come back on it.
        tries = 1 if self._port_given or self._started_once else 3
        for attempt in range(tries):
            try:
                self._launch(patience)
                break
            except BrokerError:
                if attempt + 1 == tries or "Address already in use" not in self.log_text():
                    raise
                self.port = free_loopback_port()
                self._write_config()
        self._started_once = True

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM, as an init system stops it, and wait; SIGKILL if it does not exit in `timeout` seconds."""
        if self._process is None:
            return
        if self._process.poll() is None:
            self._process.send_signal(signal.SIGTERM)
            try:
                self._process.wait(timeout)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._close()

    def kill(self) -> None:
        """SIGKILL, as a crash or a power cut would: no goodbye to the clients."""
        if self._process is None:
            return
        if self._process.poll() is None:
            self._process.kill()
            self._process.wait()
        self._close()

    def restart(self, patience: float = 30.0) -> None:
        """Stop (if it runs) and start again on the same port."""
        self.stop()
        self.start(patience)

    def log_text(self) -> str:
        """The broker's log so far (and what it printed before its log was open)."""
        parts = [p.read_text(errors="replace") for p in (self._stderr_path, self.log_path) if p.exists()]
        return "".join(parts)

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])

    def __enter__(self) -> LocalMosquitto:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- set-up

    def _prepare(self) -> None:
        version = mosquitto_version(self.binary)
        if not version.startswith("2."):
            raise BrokerError(f"{self.binary} is mosquitto {version}; camhub needs 2.x ({INSTALL_HINT} on Debian 12)")
        passwd = find_program("mosquitto_passwd")
        if passwd is None:
            raise BrokerError(f"mosquitto_passwd is not installed beside {self.binary} ({INSTALL_HINT})")
        self.folder.mkdir(parents=True, exist_ok=True)
        self.password_path.unlink(missing_ok=True)
        made = subprocess.run(
            [str(passwd), "-b", "-c", str(self.password_path), self.username, self.password],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        if made.returncode != 0:
            raise BrokerError(f"mosquitto_passwd could not write {self.password_path}: {made.stderr.strip()}")
        self.password_path.chmod(0o600)
        self._write_config()

    def _write_config(self) -> None:
        lines = [
            f"listener {self.port} {self.host}",
            "allow_anonymous false",
            f"password_file {self.password_path}",
            # Retained messages live in memory only: gone after a restart (the hub republishes them).
            "persistence false",
            f"log_dest file {self.log_path}",
            *(f"log_type {kind}" for kind in ("error", "warning", "notice", "information")),
            "connection_messages true",
        ]
        if os.geteuid() == 0:
            # As root mosquitto would switch to the user `mosquitto`, which cannot read a folder of ours
            # (pytest's tmp folders are 0700); it stays the user that started it otherwise.
            lines.append(f"user {pwd.getpwuid(os.geteuid()).pw_name}")
        self.config_path.write_text("\n".join(lines) + "\n")

    def _launch(self, patience: float) -> None:
        log_start = self.log_path.stat().st_size if self.log_path.exists() else 0
        self._stderr = self._stderr_path.open("ab")
        self._process = subprocess.Popen(
            [str(self.binary), "-c", str(self.config_path)],
            stdin=subprocess.DEVNULL,
            stdout=self._stderr,
            stderr=self._stderr,
        )
        deadline = time.monotonic() + patience
        while True:
            if self._process.poll() is not None:
                code = self._process.returncode
                self._close()
                raise BrokerError(
                    f"mosquitto exited (code {code}) instead of listening on {self.host}:{self.port}; "
                    f"its log ({self.log_path}) ends:\n{self.log_tail()}"
                )
            if self._logged_running(log_start) and self._accepts():
                return
            if time.monotonic() > deadline:
                self.kill()
                raise BrokerError(
                    f"mosquitto did not accept connections on {self.host}:{self.port} within {patience:g} s; "
                    f"its log ({self.log_path}) ends:\n{self.log_tail()}"
                )
            time.sleep(0.02)  # the next look at the log and the port, not a wait for a result

    def _logged_running(self, since: int) -> bool:
        # Its own "running" line, so a stranger listening on the port is never taken for our broker.
        try:
            with self.log_path.open("rb") as log:
                log.seek(since)
                return b" running" in log.read()
        except FileNotFoundError:
            return False

    def _accepts(self) -> bool:
        try:
            with socket.create_connection((self.host, self.port), timeout=1):
                return True
        except OSError:
            return False

    def _close(self) -> None:
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None
