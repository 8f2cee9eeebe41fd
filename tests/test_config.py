"""Config: YAML in, typed models out; every mistake named with file, key and value."""

from __future__ import annotations

from pathlib import Path

import pytest

from camhub.config import load_config, parse_config
from camhub.errors import ConfigError

GOOD = """
data_dir: data
web: {host: 127.0.0.1, port: 8080}
cameras:
  porch:
    inputs:
      - url: rtsp://admin:hunter22@10.0.0.5/main
        roles: [record]
      - url: rtsp://admin:hunter22@10.0.0.5/sub
        roles: [detect]
    motion: {analysis_fps: 4}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "camhub.yaml"
    path.write_text(text)
    return path


def error_of(tmp_path: Path, text: str) -> str:
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, text))
    return str(info.value)


def test_good_config_becomes_typed_models(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, GOOD))
    porch = config.cameras["porch"]
    assert config.web.port == 8080
    assert config.data_dir == (tmp_path / "data").resolve()
    assert porch.input_for("record").url.endswith("/main")
    assert porch.input_for("detect").url.endswith("/sub")
    assert porch.motion.analysis_fps == 4
    assert config.mqtt.topic_prefix == "camhub"
    assert "hunter22" in config.secrets()


def test_unknown_key_is_named_with_its_path(tmp_path: Path) -> None:
    message = error_of(tmp_path, GOOD.replace("motion: {analysis_fps: 4}", "motoin: {analysis_fps: 4}"))
    assert str(tmp_path / "camhub.yaml") in message
    assert "cameras.porch.motoin" in message
    assert "not a known key" in message


def test_wrong_type_names_key_value_and_expectation(tmp_path: Path) -> None:
    message = error_of(tmp_path, GOOD.replace("port: 8080", "port: eighty"))
    assert "web.port" in message
    assert "'eighty'" in message
    assert "integer" in message


def test_missing_camera_url(tmp_path: Path) -> None:
    text = "cameras:\n  yard:\n    inputs:\n      - roles: [record, detect]\n"
    message = error_of(tmp_path, text)
    assert "cameras.yard.inputs[0].url is required but missing" in message


def test_empty_camera_url(tmp_path: Path) -> None:
    message = error_of(tmp_path, "cameras:\n  yard:\n    inputs:\n      - url: '  '\n")
    assert "cameras.yard.inputs[0].url" in message
    assert "empty" in message


def test_password_never_in_error(tmp_path: Path) -> None:
    text = GOOD.replace("roles: [record]", "roles: [record, recrod]")
    message = error_of(tmp_path, text)
    assert "cameras.porch.inputs[0].roles[1]" in message
    assert "hunter22" not in message
    bad_url = "cameras:\n  yard:\n    inputs:\n      - url: rtsp://u:s3cretpw@h/x\n        roles: 5\n"
    assert "s3cretpw" not in error_of(tmp_path, bad_url)


def test_no_detect_input_and_duplicate_roles(tmp_path: Path) -> None:
    only_record = "cameras:\n  yard:\n    inputs:\n      - url: rtsp://h/x\n        roles: [record]\n"
    assert "no input has the role 'detect'" in error_of(tmp_path, only_record)
    twice = GOOD.replace("roles: [record]", "roles: [detect]")
    assert "role 'detect' is given to 2 inputs" in error_of(tmp_path, twice)


def test_bad_camera_name_and_bad_yaml_and_missing_file(tmp_path: Path) -> None:
    assert "not a valid camera name" in error_of(tmp_path, "cameras:\n  Front Door:\n    inputs: [{url: x.mp4}]\n")
    assert "not valid YAML at line 3" in error_of(tmp_path, "web:\n  port: 1\n bad: [\n")
    with pytest.raises(ConfigError, match="no such config file"):
        load_config(tmp_path / "absent.yaml")
    with pytest.raises(ConfigError, match="top level must be a mapping"):
        parse_config(["a"], "x.yaml")


def test_kind_is_guessed_from_url() -> None:
    config = parse_config(
        {
            "cameras": {
                "a": {"inputs": [{"url": "rtsp://h/x"}]},
                "b": {"inputs": [{"url": "http://h/video.mjpg"}]},
                "c": {"inputs": [{"url": "http://h/snapshot.jpg"}]},
                "d": {"inputs": [{"url": "/videos/loop.mp4"}]},
                "e": {"inputs": [{"url": "http://h/cam/main.h264"}]},
                "f": {"inputs": [{"url": "http://h/x", "kind": "snapshot"}]},
            }
        }
    )
    kinds = {name: cam.inputs[0].guessed_kind() for name, cam in config.cameras.items()}
    assert kinds == {"a": "rtsp", "b": "mjpeg", "c": "snapshot", "d": "file", "e": "stream", "f": "snapshot"}
