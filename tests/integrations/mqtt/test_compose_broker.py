"""compose's broker: its config runs under Debian's mosquitto with authentication on, and the docs agree.

The config in mosquitto/ is the one compose mounts; the test runs it with
only its container paths moved into tmp and its listener moved to a free
loopback port (it listens on every interface in the container), then checks
that the password file made by README's command lets camhub in and keeps
strangers out. The example hub config points at that broker with that user.
"""

from __future__ import annotations

import asyncio
import os
import re
import shlex
import socket
import subprocess
import time
from pathlib import Path

import aiomqtt
import pytest
import yaml

from camhub.cli.mosquitto import find_program
from camhub.config import parse_config

from ...conftest import free_port
from ...mqtt_broker import require_mosquitto

ROOT = Path(__file__).resolve().parents[3]
CONF = ROOT / "mosquitto" / "mosquitto.conf"
PASSWD_COMMAND = re.compile(r"docker compose run --rm mosquitto (mosquitto_passwd -c \S+ camhub)")


def documented_passwd_command(text: str, where: str) -> list[str]:
    found = PASSWD_COMMAND.search(text)
    assert found, f"{where} shows no `docker compose run --rm mosquitto mosquitto_passwd -c ... camhub`"
    return shlex.split(found.group(1))


def accepts(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


def test_compose_config_and_docs_name_the_same_password_file() -> None:
    conf = dict(line.split(maxsplit=1) for line in CONF.read_text().splitlines() if line and line[0] != "#")
    assert conf["allow_anonymous"] == "false"
    for where in (ROOT / "README.md", ROOT / "compose.yaml", CONF):
        assert documented_passwd_command(where.read_text(), str(where))[2] == conf["password_file"], where
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())["services"]["mosquitto"]
    folder = str(Path(conf["password_file"]).parent)
    assert any(volume.split(":")[1] == folder for volume in compose["volumes"]), compose["volumes"]
    assert "./mosquitto/mosquitto.conf:/mosquitto/config/mosquitto.conf:ro" in compose["volumes"]

    example = parse_config(yaml.safe_load((ROOT / "config" / "camhub.example.yaml").read_text()), "example")
    assert (example.mqtt.host, example.mqtt.port, example.mqtt.username) == ("mosquitto", 1883, "camhub")
    assert example.mqtt.password and example.mqtt.active


async def test_compose_broker_config_lets_camhub_in_and_keeps_strangers_out(tmp_path: Path) -> None:
    require_mosquitto()
    port = free_port()
    # The container's /mosquitto becomes tmp; the listener (every interface there) becomes loopback only.
    text = CONF.read_text().replace("/mosquitto/", f"{tmp_path}/")
    text = re.sub(r"^listener 1883$", f"listener {port} 127.0.0.1", text, flags=re.MULTILINE)
    assert f"listener {port} 127.0.0.1" in text and "/mosquitto/" not in text
    if os.geteuid() == 0:
        # As root mosquitto becomes the user `mosquitto` before it reads the password file, and that user
        # cannot enter pytest's 0700 tmp folder (the image's entrypoint chowns /mosquitto for it).
        text += "user root\n"
    (tmp_path / "data").mkdir()
    (tmp_path / "auth").mkdir()
    (tmp_path / "mosquitto.conf").write_text(text)
    passwd = documented_passwd_command((ROOT / "README.md").read_text(), "README.md")
    passwd[2] = passwd[2].replace("/mosquitto/", f"{tmp_path}/")
    mosquitto_passwd = find_program("mosquitto_passwd")
    assert mosquitto_passwd is not None
    subprocess.run([str(mosquitto_passwd), "-b", *passwd[1:], "compose password"], check=True, timeout=30)

    log_path = tmp_path / "mosquitto.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [str(find_program("mosquitto")), "-c", str(tmp_path / "mosquitto.conf")], stdout=log, stderr=log
        )
    try:
        deadline = time.monotonic() + 30
        while not accepts(port):  # its log goes to stdout, which a file receives only when flushed
            assert process.poll() is None and time.monotonic() < deadline, log_path.read_text()
            time.sleep(0.02)  # the next look at the port
        login = {"username": "camhub", "password": "compose password", "timeout": 30}
        async with aiomqtt.Client("127.0.0.1", port, **login) as client:
            await client.subscribe("camhub/#", qos=1)
            await client.publish("camhub/status", b"online", qos=1)
            async with asyncio.timeout(30):
                message = await anext(aiter(client.messages))
        assert (message.topic.value, message.payload) == ("camhub/status", b"online")
        for stranger in ({**login, "password": "a guess"}, {"timeout": 30}):
            with pytest.raises(aiomqtt.MqttCodeError, match=r"(?i)not authori"):
                async with aiomqtt.Client("127.0.0.1", port, **stranger):
                    pass
    finally:
        process.terminate()
        process.wait(30)
