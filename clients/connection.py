"""Where and how a command-line client connects: server, bearer token, TLS, deadline.

Settings enter once, as a frozen :class:`Connection` built by :func:`connection_from`;
a flag wins over its environment variable (``SQM_SERVER``, ``SQM_TOKEN``), which wins
over the default. TLS is on when a server CA is given; a client certificate and key
together add mutual TLS.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from pathlib import Path

import attrs
import grpc

from sqm.client.sqm_client import SqmClient

DEFAULT_SERVER = "127.0.0.1:50051"
DEFAULT_TIMEOUT_SECONDS = 30.0
SERVER_VARIABLE = "SQM_SERVER"
TOKEN_VARIABLE = "SQM_TOKEN"  # noqa: S105 - the name of a variable, not a token
CLI_ATTEMPTS = 3  # a person waits: a few quick retries, then say the server is unreachable


class TlsFilesInvalid(ValueError):
    """A TLS file is missing, unreadable or not PEM, or a certificate lacks its key."""


@attrs.frozen
class Connection:
    """Everything needed to open a client: address, token, TLS files and the call deadline."""

    server: str = DEFAULT_SERVER
    token: str | None = attrs.field(default=None, repr=False)
    tls_ca: Path | None = None
    tls_cert: Path | None = None
    tls_key: Path | None = None
    timeout: float = DEFAULT_TIMEOUT_SECONDS

    @property
    def uses_tls(self) -> bool:
        """True when the channel is to be secure."""
        return self.tls_ca is not None

    def credentials(self) -> grpc.ChannelCredentials | None:
        """TLS credentials read from the files, or None for a plaintext channel."""
        if not self.uses_tls:
            if self.tls_cert is not None or self.tls_key is not None:
                raise TlsFilesInvalid("a client certificate needs --tls-ca (TLS) as well")
            return None
        return channel_credentials(self.tls_ca, self.tls_cert, self.tls_key)

    def client(self) -> SqmClient:
        """An :class:`SqmClient` for this connection; use it as a context manager."""
        return SqmClient(
            self.server,
            timeout=self.timeout,
            attempts=CLI_ATTEMPTS,
            token=self.token,
            credentials=self.credentials(),
        )


def connection_from(
    *,
    server: str | None = None,
    token: str | None = None,
    tls_ca: str | None = None,
    tls_cert: str | None = None,
    tls_key: str | None = None,
    timeout: float | None = None,
    environ: Mapping[str, str],
) -> Connection:
    """The connection the flags ask for, with ``environ`` filling in server and token."""
    if timeout is not None and timeout <= 0:
        raise ValueError(f"--timeout must be positive, got {timeout:g}")
    return Connection(
        server=server or environ.get(SERVER_VARIABLE) or DEFAULT_SERVER,
        token=token or environ.get(TOKEN_VARIABLE) or None,
        tls_ca=_path(tls_ca),
        tls_cert=_path(tls_cert),
        tls_key=_path(tls_key),
        timeout=DEFAULT_TIMEOUT_SECONDS if timeout is None else timeout,
    )


def read_pem(
    path: Path, what: str, label: bytes, error: type[ValueError] = TlsFilesInvalid
) -> bytes:
    """The PEM file at ``path`` holding a ``label`` block (``b"CERTIFICATE"``, say).

    Raises ``error`` naming the file and ``what`` it should hold when it cannot be read or is
    not PEM, so a bad file is reported at start rather than as a handshake failure later.
    The server reads its files through this too, with its own error type.
    """
    try:
        data = Path(path).read_bytes()
    except OSError as problem:
        raise error(f"{path}: cannot read the {what}: {problem.strerror}") from None
    if b"-----BEGIN " not in data or label not in data:
        kind = label.decode()
        raise error(f"{path}: expected the {what} as PEM (a '-----BEGIN ...{kind}-----' block)")
    return data


def channel_credentials(
    ca_file: Path | None = None,
    cert_file: Path | None = None,
    key_file: Path | None = None,
    *,
    error: type[ValueError] = TlsFilesInvalid,
) -> grpc.ChannelCredentials:
    """Credentials for ``grpc.secure_channel`` (or ``grpc.aio.secure_channel``) from PEM files.

    ``ca_file`` signed the server's certificate (None: the system's roots); ``cert_file``
    and ``key_file`` are this client's certificate for mutual TLS. Problems are ``error``
    (the server's own client channels use this too, with its error type).
    """
    if (cert_file is None) != (key_file is None):
        raise error("a client certificate needs its private key, and the other way round")
    pem = functools.partial(read_pem, error=error)
    root = None if ca_file is None else pem(ca_file, "CA certificate", b"CERTIFICATE")
    chain = None if cert_file is None else pem(cert_file, "client certificate", b"CERTIFICATE")
    key = None if key_file is None else pem(key_file, "client private key", b"PRIVATE KEY")
    return grpc.ssl_channel_credentials(
        root_certificates=root, private_key=key, certificate_chain=chain
    )


def _path(value: str | None) -> Path | None:
    return None if not value else Path(value)
