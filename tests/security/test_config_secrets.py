"""Config errors never echo a secret: not a numeric password, not the value of a misspelt key.

Attack (issue 9, item 9): `password: 31415926535` is read by YAML as an
integer, and `pasword: ...` is an unknown key; both errors printed the value.
The error must still name the file, the key path and what is expected.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from camhub.config import load_config
from camhub.errors import ConfigError

NUMERIC = "31415926535"
MISSPELT = "hunter2-from-the-typo"
INPUT_NUMERIC = "27182818284"
TOKEN = "tok-4f2a9c"

CONFIG = f"""
mqtt:
  host: 127.0.0.1
  password: {NUMERIC}
cameras:
  yard:
    inputs:
      - url: rtsp://127.0.0.1:9/x
        pasword: {MISSPELT}
      - url: rtsp://127.0.0.1:9/y
        roles: [record]
        password: {INPUT_NUMERIC}
web:
  API_Token: {TOKEN}
"""

SECRETS = (NUMERIC, MISSPELT, INPUT_NUMERIC, TOKEN)


def _write(tmp_path: Path) -> Path:
    path = tmp_path / "camhub.yaml"
    path.write_text(CONFIG)
    return path


def _says_what_is_wrong(message: str, path: Path) -> None:
    assert str(path) in message
    assert "mqtt.password" in message and "valid string" in message
    assert "cameras.yard.inputs[1].password" in message
    # An unknown key is named by its path, with the keys that are valid there.
    assert "cameras.yard.inputs[0].pasword is not a known key" in message
    assert "valid keys here: url, roles" in message and "password" in message
    assert "web.API_Token is not a known key" in message


def test_load_config_shows_no_secret_value(tmp_path: Path) -> None:
    path = _write(tmp_path)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    for secret in SECRETS:
        assert secret not in message
    _says_what_is_wrong(message, path)


def test_camhub_run_prints_no_secret_value(tmp_path: Path) -> None:
    path = _write(tmp_path)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    done = subprocess.run(
        [sys.executable, "-m", "camhub.cli.main", "run", "-c", str(path)],
        check=False,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2, done.stderr
    output = done.stdout + done.stderr
    for secret in SECRETS:
        assert secret not in output
    assert "Traceback" not in output
    _says_what_is_wrong(done.stderr, path)


def test_other_values_are_still_shown(tmp_path: Path) -> None:
    path = tmp_path / "camhub.yaml"
    path.write_text("web: {port: eighty}\n")
    with pytest.raises(ConfigError, match=r"web\.port .*integer.*\(got 'eighty'\)"):
        load_config(path)
