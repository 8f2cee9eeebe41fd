"""mqtt.tls: the hub speaks TLS to a real Mosquitto and checks the broker's certificate against its CA file."""

from __future__ import annotations

import datetime
import ipaddress
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from camhub.sim.http_server import SimHttpServer

from ...mqtt_broker import Broker, broker_in
from .test_mqtt_hub import hub_config, output, running, until


def _name(text: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, text)])


def make_ca(folder: Path, name: str) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(name))
        .issuer_name(_name(name))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    path = folder / f"{name}.pem"
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return key, cert, path


def make_server_cert(folder: Path, ca_key: ec.EllipticCurvePrivateKey, ca: x509.Certificate) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("127.0.0.1"))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .sign(ca_key, hashes.SHA256())
    )
    cert_path, key_path = folder / "server.pem", folder / "server.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


class TlsBroker(Broker):
    """The test broker with its one listener speaking TLS, with the given certificate."""

    tls: tuple[Path, Path, Path]  # CA, certificate, key

    def _write_config(self) -> None:
        super()._write_config()
        ca, cert, key = self.tls
        with self.config_path.open("a") as config:
            config.write(f"cafile {ca}\ncertfile {cert}\nkeyfile {key}\n")


# paho-mqtt (under aiomqtt) leaves the socket of a failed TLS handshake to the garbage collector (its
# _ssl_wrap_socket does not close it when do_handshake raises); CPython closes it at once, with this warning.
@pytest.mark.filterwarnings("ignore:unclosed <ssl.SSLSocket:ResourceWarning")
async def test_the_hub_speaks_tls_and_checks_the_broker_s_certificate(tmp_path: Path, http_sim: SimHttpServer) -> None:
    ca_key, ca, ca_path = make_ca(tmp_path, "home-ca")
    _, _, stranger_path = make_ca(tmp_path, "someone-else")
    cert, key = make_server_cert(tmp_path, ca_key, ca)
    plain = broker_in(tmp_path / "mosquitto")  # skips (or fails in CI) without mosquitto
    broker = TlsBroker(plain.folder, password=plain.password)
    broker.tls = (ca_path, cert, key)
    broker.start()
    try:
        trusted = hub_config(tmp_path / "data", broker, http_sim, tls={"ca_file": str(ca_path)})
        async with running(trusted) as hub:
            mqtt = output(hub)
            await until(lambda: mqtt.connected, f"a TLS connection; last error: {mqtt.last_error}")
            assert mqtt.health()["connects"] == 1
        assert f"as {mqtt.client_id}" in broker.log_text()
        # A broker whose certificate another CA signed is refused, and the hub says why.
        untrusted = hub_config(tmp_path / "data2", broker, http_sim, tls={"ca_file": str(stranger_path)})
        async with running(untrusted) as hub:
            mqtt = output(hub)
            await until(lambda: mqtt.last_error is not None, "the refused certificate")
            assert "certificate" in str(mqtt.last_error).lower(), mqtt.last_error
            assert not mqtt.connected and mqtt.connects == 0
    finally:
        broker.cleanup()
