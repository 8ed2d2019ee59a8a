"""TLS on the server's ports: the certificate pair (and the agents' client CA) read from
files, checked, and read again whenever the files change.

gRPC asks ``CertificateFiles.fetch`` before each new connection's handshake. The files
are read each time and compared by their bytes, so a change is seen however it was made:
written in place, renamed over, or swapped through a symbolic link (a Kubernetes Secret
volume swaps its ``..data`` link; cert-manager renews into it). A pair that does not load
(half written, key and certificate not matching yet, a kind of key gRPC cannot serve)
leaves the last good one serving, with one warning per bad version of the files.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import grpc
from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes, PublicKeyTypes

from scheduler.server.config import ConfigError, ServerConfig

log = logging.getLogger(__name__)

MIN_RSA_BITS = 2048
"""The shortest RSA key served. gRPC would serve shorter ones (down to some 600 bits), but
they are no longer safe: NIST has disallowed them for signatures since 2014."""
MAX_RSA_BITS = 16384
"""The longest RSA key served, the longest BoringSSL (gRPC's TLS) takes: it does not load
a longer one (gRPC logs an error and keeps the old pair)."""
SERVED_CURVES = (ec.SECP256R1, ec.SECP384R1)
"""The curves of the EC keys served; no other key type than RSA and EC works with gRPC.
BoringSSL, gRPC's TLS, does not load a key on P-224 or secp256k1, nor an Ed448 key (gRPC
logs an error and keeps the old pair). It does load a key on P-521 or an Ed25519 key, but
gRPC's clients offer no signature algorithm for them: every handshake fails
(NO_COMMON_SIGNATURE_ALGORITHMS)."""
SERVED_KEYS = f"an RSA key of {MIN_RSA_BITS} to {MAX_RSA_BITS} bits, or an EC key on P-256 or P-384"
"""The keys served, as messages say it."""


class TlsFileError(ConfigError):
    """A certificate, key or CA file that cannot be used; the message names its flag."""


@dataclass(frozen=True, kw_only=True)
class TlsFiles:
    """The files of one TLS port; with ``client_ca``, clients must show a certificate."""

    cert: Path
    key: Path
    client_ca: Path | None = None


@dataclass(frozen=True)
class Endpoint:
    """An address the server listens on, the flag that gave it, and its credentials
    (None: plaintext)."""

    flag: str
    address: str
    credentials: grpc.ServerCredentials | None


def endpoints(config: ServerConfig) -> list[Endpoint]:
    """The ports of ``config``: ``--listen``, and ``--agent-listen`` if given (the same
    TLS, plus mutual TLS with ``--tls-client-ca``).

    Reads and checks every TLS file now: a bad one stops the start with ``TlsFileError``.
    """
    if config.tls_cert is None or config.tls_key is None:
        listening = [Endpoint("--listen", config.listen, None)]
        if config.agent_listen is not None:
            listening.append(Endpoint("--agent-listen", config.agent_listen, None))
        return listening
    pair = TlsFiles(cert=config.tls_cert, key=config.tls_key)
    listening = [Endpoint("--listen", config.listen, server_credentials(pair))]
    if config.agent_listen is not None:
        agents = TlsFiles(cert=config.tls_cert, key=config.tls_key, client_ca=config.tls_client_ca)
        agent_credentials = server_credentials(agents)
        listening.append(Endpoint("--agent-listen", config.agent_listen, agent_credentials))
    return listening


def server_credentials(files: TlsFiles) -> grpc.ServerCredentials:
    """Credentials that serve ``files`` and pick up their changes without a restart.

    With a client CA, gRPC requires and verifies a client certificate in the handshake.
    """
    reloading = CertificateFiles(files)
    return grpc.dynamic_ssl_server_credentials(
        reloading.initial,
        reloading.fetch,  # type: ignore[arg-type]  # None ("no change") is allowed; the stubs miss it
        require_client_authentication=files.client_ca is not None,
    )


class CertificateFiles:
    """The current configuration of one port's files, replaced when they change and load."""

    def __init__(self, files: TlsFiles) -> None:
        self._files = files
        # gRPC may call ``fetch`` from several of its threads at once.
        self._lock = threading.Lock()
        contents = _read(files)
        self.initial = _configuration(files, contents)
        self._serving = _fingerprint(contents)
        self._refused: str | None = None  # the version last warned about

    def fetch(self) -> grpc.ServerCertificateConfiguration | None:
        """The new configuration if the files changed and load; None keeps the current one."""
        with self._lock:
            try:
                contents = _read(self._files)
            except TlsFileError as error:
                self._refuse(str(error), error)
                return None
            version = _fingerprint(contents)
            if version == self._serving:
                self._refused = None  # back as they were: the next bad change warns again
                return None
            if version == self._refused:
                return None
            try:
                configuration = _configuration(self._files, contents)
            except TlsFileError as error:
                self._refuse(version, error)
                return None
            self._serving, self._refused = version, None
            log.info("TLS certificate reloaded from %s", self._files.cert)
            return configuration

    def _refuse(self, version: str, error: TlsFileError) -> None:
        if version != self._refused:
            log.warning(
                "TLS files changed but cannot be used, still serving the last good: %s", error
            )
            self._refused = version


Contents = tuple[bytes, bytes, bytes | None]
"""The bytes of the certificate chain, the key and the client CA (None without one)."""


def _read(files: TlsFiles) -> Contents:
    ca = _read_file(files.client_ca, "--tls-client-ca") if files.client_ca else None
    return _read_file(files.cert, "--tls-cert"), _read_file(files.key, "--tls-key"), ca


def _read_file(path: Path, flag: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as error:
        raise TlsFileError(f"{flag} {path}: cannot read it ({error.strerror})") from None


def _fingerprint(contents: Contents) -> str:
    digest = hashlib.sha256()
    for part in contents:
        digest.update(len(part or b"").to_bytes(8, "big"))
        digest.update(part or b"")
    return digest.hexdigest()


def _configuration(files: TlsFiles, contents: Contents) -> grpc.ServerCertificateConfiguration:
    """gRPC's configuration of checked contents; ``TlsFileError`` says what is wrong."""
    cert, key, ca = contents
    chain = _certificates(cert, f"--tls-cert {files.cert}")
    try:
        private_key = serialization.load_pem_private_key(key, password=None)
    except UnsupportedAlgorithm as error:  # a type or curve cryptography lacks (secp112r1)
        raise TlsFileError(
            f"--tls-key {files.key}: a kind of key that cannot be served ({error}); "
            f"the server takes {SERVED_KEYS}"
        ) from None
    except (ValueError, TypeError):
        raise TlsFileError(f"--tls-key {files.key}: not an unencrypted PEM private key") from None
    # Checked here, not left to gRPC: it refuses some kinds only once it holds the new
    # configuration (and keeps the old pair, while we would have said the new one serves),
    # and serves others that its clients then refuse at every handshake.
    problem = unserved(private_key)
    if problem is not None:
        raise TlsFileError(f"--tls-key {files.key}: {problem}; the server takes {SERVED_KEYS}")
    try:
        certified = chain[0].public_key()
    except (UnsupportedAlgorithm, ValueError) as error:  # the same, or a point off its curve
        raise TlsFileError(
            f"--tls-cert {files.cert}: the key it certifies cannot be served ({error})"
        ) from None
    if _public(private_key.public_key()) != _public(certified):
        raise TlsFileError(
            f"--tls-key {files.key} does not match the certificate of --tls-cert {files.cert}"
        )
    if ca is not None:
        _certificates(ca, f"--tls-client-ca {files.client_ca}")
    return grpc.ssl_server_certificate_configuration([(key, cert)], root_certificates=ca)


def unserved(key: PrivateKeyTypes) -> str | None:
    """Why ``key`` is not served (``SERVED_KEYS``), or None if it is."""
    if isinstance(key, rsa.RSAPrivateKey):
        if key.key_size < MIN_RSA_BITS:
            return f"an RSA key of {key.key_size} bits is too short"
        if key.key_size > MAX_RSA_BITS:
            return f"an RSA key of {key.key_size} bits is too long for gRPC"
        return None
    if isinstance(key, ec.EllipticCurvePrivateKey):
        if isinstance(key.curve, SERVED_CURVES):
            return None
        return f"EC keys on {key.curve.name} do not work with gRPC"
    return f"{type(key).__name__.removesuffix('PrivateKey')} keys do not work with gRPC"


def _certificates(pem: bytes, where: str) -> Sequence[x509.Certificate]:
    try:
        certificates = x509.load_pem_x509_certificates(pem)
    except ValueError:
        certificates = []
    if not certificates:
        raise TlsFileError(f"{where}: no PEM certificate in it")
    return certificates


def _public(key: PublicKeyTypes) -> bytes:
    """A public key's bytes, to compare a private key with a certificate."""
    return key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
