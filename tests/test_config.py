"""Config: YAML in, typed models out; every mistake named with file, key and value."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from camhub.config import HubConfig, load_config, parse_config
from camhub.errors import ConfigError
from camhub.registry import default_registry

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


def test_the_integration_is_found_from_the_url_unless_kind_names_it() -> None:
    config = parse_config(
        {
            "cameras": {
                "a": {"inputs": [{"url": "rtsp://h/x"}]},
                "b": {"inputs": [{"url": "http://h/video.mjpg"}]},
                "c": {"inputs": [{"url": "http://h/snapshot.jpg"}]},
                "d": {"inputs": [{"url": "/videos/loop.mp4"}]},
                "e": {"inputs": [{"url": "http://h/cam/main.h264"}]},
                "f": {"inputs": [{"url": "http://h/x", "kind": "snapshot"}]},
                "g": {"inputs": [{"url": "HTTPS://h/Snapshot.JPG?size=2"}]},
                "h": {"inputs": [{"url": "file:///videos/loop.mp4"}]},
            }
        }
    )
    registry = default_registry()
    kinds = {name: registry.source_integration(cam.inputs[0]).domain for name, cam in config.cameras.items()}
    assert kinds == {
        "a": "rtsp",
        "b": "mjpeg",
        "c": "snapshot",
        "d": "file",
        "e": "stream",
        "f": "snapshot",
        "g": "snapshot",
        "h": "file",
    }


def inputs(*given: dict[str, Any]) -> str:
    """The config error for one camera with these inputs."""
    with pytest.raises(ConfigError) as info:
        parse_config({"cameras": {"yard": {"inputs": list(given)}}}, "camhub.yaml")
    return str(info.value)


def test_an_unknown_scheme_or_kind_names_the_known_ones() -> None:
    message = inputs({"url": "onvif://10.0.0.5/profile1"})
    assert message == (
        "camhub.yaml: cameras.yard.inputs[0].url has the scheme 'onvif', which no source integration reads; "
        "known schemes: file, http, https, rtsp, rtsps"
    )
    message = inputs({"url": "rtsp://h/x", "kind": "onvif"})
    assert message == (
        "camhub.yaml: cameras.yard.inputs[0].kind is not a loaded source integration: 'onvif'; "
        "known: file, mjpeg, rtsp, snapshot, stream"
    )


def test_a_url_two_integrations_claim_asks_for_kind() -> None:
    message = inputs({"url": "http://h/snapshot.ts"})
    assert "cameras.yard.inputs[0].url is claimed by several source integrations (snapshot, stream)" in message
    assert "kind:" in message
    assert parse_config({"cameras": {"y": {"inputs": [{"url": "http://h/snapshot.ts", "kind": "stream"}]}}})


def test_options_are_checked_by_the_integration_with_their_key_path() -> None:
    message = inputs({"url": "http://h/a.jpg", "options": {"poll_interval": -1}})
    assert "camhub.yaml: cameras.yard.inputs[0].options.poll_interval Input should be greater than 0 (got -1)" in (
        message
    )
    message = inputs({"url": "rtsp://h/x", "options": {"poll_interval": 2}})
    assert message == (
        "camhub.yaml: cameras.yard.inputs[0].options.poll_interval is not an option of the rtsp integration; "
        "its options: none; poll_interval is an option of snapshot (choose one with kind:)"
    )
    assert "its options: poll_interval" in inputs({"url": "http://h/a.jpg", "options": {"pol_interval": 2}})
    message = inputs({"url": "http://h/a.jpg", "options": {"poll_interval": 2, "api_key": "k-123456"}})
    assert "options.api_key is not an option" in message and "k-123456" not in message
    config = parse_config({"cameras": {"y": {"inputs": [{"url": "http://h/a.jpg", "options": {"poll_interval": 2}}]}}})
    assert config.cameras["y"].inputs[0].options == {"poll_interval": 2}


def test_options_once_at_the_top_level_of_an_input_are_still_read() -> None:
    config = parse_config(
        {
            "cameras": {
                "y": {
                    "inputs": [
                        {"url": "http://h/a.jpg", "poll_interval": 0.5, "roles": ["detect"]},
                        {"url": "b.h264", "format": "h264", "roles": ["record"]},
                    ]
                }
            }
        }
    )
    snapshot, file = config.cameras["y"].inputs
    assert snapshot.options == {"poll_interval": 0.5} and file.options == {"format": "h264"}
    message = inputs({"url": "http://h/a.jpg", "poll_interval": 0.5, "options": {"poll_interval": 2}})
    assert "poll_interval is given twice" in message


def test_secret_options_are_scrubbed_like_passwords() -> None:
    registry = default_registry()
    found = registry.sources["snapshot"]
    assert "password" not in found.options.model_fields  # the test below needs an option named like a secret
    config = HubConfig.model_validate(
        {"cameras": {"y": {"inputs": [{"url": "x.mp4", "options": {"token": "t-9876"}}]}}}
    )
    assert "t-9876" in config.secrets()
    assert "t-9876" not in repr(config)


def test_mqtt_keys_are_checked_and_named_and_the_password_never_shown(tmp_path: Path) -> None:
    assert not parse_config({}).mqtt.active  # no broker: MQTT is off
    assert parse_config({"mqtt": {"host": "broker.lan"}}).mqtt.active
    assert not parse_config({"mqtt": {"host": "broker.lan", "enabled": False}}).mqtt.active
    cases = [
        ({"enabled": True}, "mqtt enabled is true but host is not given"),
        ({"host": "b", "password": "s3cret-pw"}, "a password is given without a username"),
        ({"host": "b", "topic_prefix": "home/#"}, "mqtt.topic_prefix is not a topic prefix"),
        ({"host": "b", "discovery_prefix": "a//b"}, "mqtt.discovery_prefix is not a topic prefix"),
        ({"host": "b", "tls": {"cert_file": str(tmp_path)}}, "give cert_file and key_file together"),
        ({"host": "b", "tls": {"ca_file": str(tmp_path / "no.pem")}}, "ca_file: "),
        ({"host": "b", "client_id": "has space"}, "mqtt.client_id"),
        ({"host": "b", "username": "u", "password": 12345678}, "mqtt.password"),
    ]
    for mqtt, expected in cases:
        with pytest.raises(ConfigError) as info:
            parse_config({"mqtt": mqtt})
        assert expected in str(info.value), (mqtt, str(info.value))
        assert "s3cret-pw" not in str(info.value) and "12345678" not in str(info.value)
    camera = {"inputs": [{"url": "rtsp://127.0.0.1/x"}], "mqtt": {"snapshots": False}}
    assert parse_config({"cameras": {"a": camera}}).cameras["a"].mqtt.snapshots is False
