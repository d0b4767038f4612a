"""TLS and mutual TLS from PEM files, for the server and for client channels.

The server presents ``cert`` and ``key``; with a client CA it also requires every client to
present a certificate that CA signed (mutual TLS). Files are read once, at start, and each
problem names the file and what was expected, instead of grpc's handshake errors later.
"""

from __future__ import annotations

import functools
from pathlib import Path

import grpc

from sqm.client.connection import channel_credentials as client_channel_credentials
from sqm.client.connection import read_pem


class TlsConfigError(ValueError):
    """A TLS file is missing, unreadable or not what it should be."""


_pem = functools.partial(read_pem, error=TlsConfigError)
"""The PEM file (clients' reader: one for both), its problems as :class:`TlsConfigError`."""


def server_credentials(
    cert_file: Path, key_file: Path, client_ca_file: Path | None = None
) -> grpc.ServerCredentials:
    """Credentials for ``server.add_secure_port``; a client CA turns on mutual TLS."""
    chain = _pem(cert_file, "server certificate", b"CERTIFICATE")
    key = _pem(key_file, "server private key", b"PRIVATE KEY")
    client_ca = (
        None
        if client_ca_file is None
        else _pem(client_ca_file, "client CA certificate", b"CERTIFICATE")
    )
    return grpc.ssl_server_credentials(
        [(key, chain)], root_certificates=client_ca, require_client_auth=client_ca is not None
    )


def optional_server_credentials(
    cert_file: Path | None, key_file: Path | None, client_ca_file: Path | None = None
) -> grpc.ServerCredentials | None:
    """Server credentials from settings, or None for plaintext; half a configuration is refused."""
    if cert_file is None and key_file is None:
        if client_ca_file is not None:
            raise TlsConfigError("a client CA (mutual TLS) needs a server certificate and key")
        return None
    if cert_file is None or key_file is None:
        raise TlsConfigError("TLS needs both a certificate and its private key")
    return server_credentials(cert_file, key_file, client_ca_file)


channel_credentials = functools.partial(client_channel_credentials, error=TlsConfigError)
"""Credentials for a client channel (the clients' builder), problems as :class:`TlsConfigError`."""
