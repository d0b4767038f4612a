"""A throwaway certificate authority for TLS tests: server, client and rogue certificates."""

from __future__ import annotations

import datetime as dt
import ipaddress
from pathlib import Path

import attrs
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

Key = ec.EllipticCurvePrivateKey


@attrs.frozen
class Pki:
    """PEM files: the CA, the server's certificate for 127.0.0.1, a client's, a rogue's."""

    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    rogue_cert: Path  # a client certificate from another CA
    rogue_key: Path


def make_pki(folder: Path) -> Pki:
    """Generate the whole set under ``folder``."""
    ca_key, ca_cert = _issue("SQM test CA", None, ca=True)
    server_key, server_cert = _issue("127.0.0.1", (ca_key, ca_cert), server=True)
    client_key, client_cert = _issue("procurement", (ca_key, ca_cert))
    rogue_ca = _issue("Rogue CA", None, ca=True)
    rogue_key, rogue_cert = _issue("procurement", rogue_ca)
    return Pki(
        ca=_write(folder / "ca.pem", ca_cert),
        server_cert=_write(folder / "server.pem", server_cert),
        server_key=_write(folder / "server.key", server_key),
        client_cert=_write(folder / "client.pem", client_cert),
        client_key=_write(folder / "client.key", client_key),
        rogue_cert=_write(folder / "rogue.pem", rogue_cert),
        rogue_key=_write(folder / "rogue.key", rogue_key),
    )


def _issue(
    name: str,
    issuer: tuple[Key, x509.Certificate] | None,
    *,
    ca: bool = False,
    server: bool = False,
) -> tuple[Key, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    signer, issuer_name = (key, subject) if issuer is None else (issuer[0], issuer[1].subject)
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(hours=2))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if not ca:
        usage = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
        builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    if server:
        names = [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    return key, builder.sign(signer, hashes.SHA256())


def _write(path: Path, item: Key | x509.Certificate) -> Path:
    if isinstance(item, x509.Certificate):
        path.write_bytes(item.public_bytes(serialization.Encoding.PEM))
    else:
        path.write_bytes(
            item.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        path.chmod(0o600)
    return path
