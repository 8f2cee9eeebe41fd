"""Adopted cameras and ignored devices, kept across restarts; credentials kept apart.

`<data_dir>/cameras.db` (migrations "camhub.cameras") holds what the owner
decided: each adopted camera's name, the device it came from and its record
and detect URLs (never with credentials), and the devices the owner chose to
ignore. User names and passwords live in `<data_dir>/camera-credentials.json`,
mode 0600 (readable by the hub's user only), written whole or not at all;
no route returns them and no log line shows them.

Order of writes, so that nothing is lost or orphaned on a crash: adopting
writes the credentials first, then the row (a crash between leaves an entry
no row uses, dropped at the next write); removing deletes the row first,
then the credentials.
"""

from __future__ import annotations

import asyncio
import json
import logging
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlite_utils
from sqlite_utils.migrations import Migrations

from camhub.clock import Clock
from camhub.config import CameraConfig, InputConfig
from camhub.durable import write_durably
from camhub.errors import HubError
from camhub.store.db import Database, rows

log = logging.getLogger(__name__)

migrations = Migrations("camhub.cameras")
CREDENTIALS_FILE = "camera-credentials.json"

ADOPTED = """
CREATE TABLE adopted (
  name TEXT PRIMARY KEY,                  -- the camera's name, as config and the API use it
  identity TEXT NOT NULL,                 -- the discovered device's identity (mac:, serial: or addr:)
  device TEXT NOT NULL,                   -- the device's id at adoption (/api/discovered)
  record_url TEXT NOT NULL,               -- stream recorded, without credentials
  detect_url TEXT NOT NULL,               -- stream motion is detected on, without credentials (may equal record_url)
  created_s INTEGER NOT NULL,             -- Unix seconds, UTC
  changed_s INTEGER NOT NULL              -- Unix seconds, UTC: last change of its streams
)
"""

IGNORED = """
CREATE TABLE ignored (
  identity TEXT PRIMARY KEY,              -- the discovered device's identity
  ignored_s INTEGER NOT NULL              -- Unix seconds, UTC
)
"""


@migrations(name="0001_adopted_and_ignored")
def _first(db: sqlite_utils.Database) -> None:
    db.execute(ADOPTED)
    db.execute(IGNORED)


class CredentialsError(HubError):
    key = "credentials_unreadable"


@dataclass(frozen=True)
class AdoptedCamera:
    name: str
    identity: str
    device: str
    record_url: str
    detect_url: str
    username: str | None = None
    password: str | None = field(default=None, repr=False)

    def config(self) -> CameraConfig:
        """The camera as the YAML would give it: one input per distinct URL."""
        creds: dict[str, Any] = {"username": self.username, "password": self.password}
        if self.record_url == self.detect_url:
            inputs = [InputConfig(url=self.record_url, roles=("record", "detect"), **creds)]
        else:
            inputs = [
                InputConfig(url=self.record_url, roles=("record",), **creds),
                InputConfig(url=self.detect_url, roles=("detect",), **creds),
            ]
        return CameraConfig(inputs=tuple(inputs))


class AdoptedStore:
    """cameras.db and the credentials file; every write is awaited before the hub acts on it."""

    def __init__(self, data_dir: Path, db: Database, clock: Clock) -> None:
        self.data_dir = data_dir
        self.db = db
        self.clock = clock
        self.credentials_path = data_dir / CREDENTIALS_FILE
        self._lock = asyncio.Lock()  # one credentials rewrite at a time

    @classmethod
    async def open(cls, data_dir: Path, clock: Clock) -> AdoptedStore:
        db = await asyncio.to_thread(Database, data_dir / "cameras.db", migrations, clock)
        return cls(data_dir, db, clock)

    async def close(self) -> None:
        await asyncio.to_thread(self.db.close)

    async def cameras(self) -> list[AdoptedCamera]:
        found = await self.db.read(lambda db: rows(db, "SELECT * FROM adopted ORDER BY name"))
        creds = await asyncio.to_thread(self._read_credentials)
        return [
            AdoptedCamera(
                name=r["name"],
                identity=r["identity"],
                device=r["device"],
                record_url=r["record_url"],
                detect_url=r["detect_url"],
                username=creds.get(r["name"], {}).get("username"),
                password=creds.get(r["name"], {}).get("password"),
            )
            for r in found
        ]

    async def ignored(self) -> set[str]:
        found = await self.db.read(lambda db: rows(db, "SELECT identity FROM ignored"))
        return {r["identity"] for r in found}

    async def add(self, camera: AdoptedCamera) -> None:
        async with self._lock:
            await asyncio.to_thread(self._set_credentials, camera.name, camera.username, camera.password)

            def insert(db: sqlite_utils.Database) -> None:
                now = int(self.clock())
                db.execute(
                    "INSERT INTO adopted (name, identity, device, record_url, detect_url, created_s, changed_s) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [camera.name, camera.identity, camera.device, camera.record_url, camera.detect_url, now, now],
                )
                db.execute("DELETE FROM ignored WHERE identity = ?", [camera.identity])

            await self.db.write(insert)

    async def change_urls(self, name: str, record_url: str, detect_url: str) -> None:
        now = int(self.clock())
        await self.db.write(
            lambda db: db.execute(
                "UPDATE adopted SET record_url = ?, detect_url = ?, changed_s = ? WHERE name = ?",
                [record_url, detect_url, now, name],
            )
        )

    async def remove(self, name: str) -> None:
        async with self._lock:
            await self.db.write(lambda db: db.execute("DELETE FROM adopted WHERE name = ?", [name]))
            await asyncio.to_thread(self._set_credentials, name, None, None)

    async def ignore(self, identity: str, ignored: bool) -> None:
        now = int(self.clock())
        if ignored:
            sql, args = "INSERT OR REPLACE INTO ignored (identity, ignored_s) VALUES (?, ?)", [identity, now]
        else:
            sql, args = "DELETE FROM ignored WHERE identity = ?", [identity]
        await self.db.write(lambda db: db.execute(sql, args))

    # The credentials file: {camera: {"username": ..., "password": ...}}, mode 0600.

    def _read_credentials(self) -> dict[str, dict[str, str | None]]:
        path = self.credentials_path
        try:
            info = path.stat()
        except FileNotFoundError:
            return {}
        if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            path.chmod(0o600)
            log.warning("%s was readable by others; it is now readable by the hub's user only", path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise CredentialsError(
                f"{path}: cannot read the adopted cameras' credentials ({type(exc).__name__}); restore it from a "
                "backup, or remove it and give each adopted camera its credentials again"
            ) from None
        if not isinstance(data, dict):
            raise CredentialsError(f"{path}: expected a JSON object of camera names to credentials")
        return {k: v for k, v in data.items() if isinstance(v, dict)}

    def _set_credentials(self, name: str, username: str | None, password: str | None) -> None:
        creds = self._read_credentials()
        if username is None and password is None:
            if creds.pop(name, None) is None:
                return
        else:
            creds[name] = {"username": username, "password": password}
        write_durably(self.credentials_path, json.dumps(creds, sort_keys=True).encode(), mode=0o600)
