"""Certificates for TLS tests, made on the spot with ``cryptography``: a CA, server and
client certificates it signs, written as PEM files, and the serial a server presents."""

from __future__ import annotations

import base64
import datetime
import ipaddress
import os
import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificateIssuerPrivateKeyTypes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

VALID_FOR = datetime.timedelta(days=1)

UNSERVED_KEYS: dict[str, Callable[[], CertificateIssuerPrivateKeyTypes]] = {
    # BoringSSL (gRPC's TLS) does not load it: gRPC logs an error and keeps the old pair.
    "Ed448": ed448.Ed448PrivateKey.generate,
    # BoringSSL loads them, but gRPC's clients offer no signature algorithm for them.
    "Ed25519": ed25519.Ed25519PrivateKey.generate,
    "EC secp521r1": lambda: ec.generate_private_key(ec.SECP521R1()),
    # Served by gRPC, but too short to be safe.
    "RSA 1024": lambda: rsa.generate_private_key(public_exponent=65537, key_size=1024),
}
"""Keys of the kinds ``kairos server`` refuses to serve, by name, each a new one per call."""

# DER encodings (tag, length, value) of the object identifiers a certificate on an
# unsupported curve is put together from.
SECP112R1 = bytes.fromhex("06052b81040006")  # 1.3.132.0.6
EC_PUBLIC_KEY = bytes.fromhex("06072a8648ce3d0201")  # 1.2.840.10045.2.1
ECDSA_WITH_SHA256 = bytes.fromhex("06082a8648ce3d040302")  # 1.2.840.10045.4.3.2

# secp112r1 (SEC 2): y² = x³ + ax + b modulo p, its base point and the point's order.
_P = 0xDB7C2ABF62E35E668076BEAD208B
_A = 0xDB7C2ABF62E35E668076BEAD2088
_G = (0x09487239995A5EE76B55F9C2F098, 0xA89CE5AF8724C0A23E0E0FF77500)
_N = 0xDB7C2ABF62E35E7628DFAC6561C5
_BYTES = 14

Point = tuple[int, int] | None
"""A point of secp112r1 in affine coordinates; None is the point at infinity."""


@dataclass(frozen=True)
class Issued:
    """A certificate and its private key, as PEM."""

    cert: bytes
    key: bytes

    @property
    def serial(self) -> int:
        return x509.load_pem_x509_certificate(self.cert).serial_number

    def write(self, directory: Path, name: str) -> tuple[Path, Path]:
        """Write ``NAME.crt`` and ``NAME.key`` (0600) into ``directory``; returns both paths."""
        directory.mkdir(parents=True, exist_ok=True)
        cert, key = directory / f"{name}.crt", directory / f"{name}.key"
        cert.write_bytes(self.cert)
        key.touch(mode=0o600)
        key.write_bytes(self.key)
        return cert, key


class Authority:
    """A self-signed CA that issues server and client certificates."""

    def __init__(self, name: str = "Kairos test CA") -> None:
        self._key = ec.generate_private_key(ec.SECP256R1())
        self._name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        now = datetime.datetime.now(datetime.UTC)
        self.cert = (
            x509.CertificateBuilder()
            .subject_name(self._name)
            .issuer_name(self._name)
            .public_key(self._key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + VALID_FOR)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .sign(self._key, hashes.SHA256())
        )

    @property
    def pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    def write(self, path: Path) -> Path:
        """Write the CA certificate (what clients and servers trust) to ``path``."""
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(self.pem)
        return path

    def server(self, *names: str, key: CertificateIssuerPrivateKeyTypes | None = None) -> Issued:
        """A server certificate for DNS names and IP addresses (default localhost, 127.0.0.1),
        for ``key`` (default a new one on P-256)."""
        names = names or ("localhost", "127.0.0.1")
        alternatives: list[x509.GeneralName] = []
        for name in names:
            try:
                alternatives.append(x509.IPAddress(ipaddress.ip_address(name)))
            except ValueError:
                alternatives.append(x509.DNSName(name))
        return self._issue(names[0], ExtendedKeyUsageOID.SERVER_AUTH, alternatives, key)

    def server_on_unsupported_curve(self) -> Issued:
        """A server certificate signed by this CA, and a key, both on secp112r1: a curve
        ``cryptography`` refuses to load (``UnsupportedAlgorithm``), so it cannot make
        them either; they are put together in DER here.

        A real pair (OpenSSL loads and verifies them): the certificate is one issued for
        a P-256 key, its key swapped and signed again.
        """
        secret = 1 + int.from_bytes(os.urandom(_BYTES)) % (_N - 1)
        public = _times(secret, _G)
        assert public is not None
        encoded = b"\x04" + b"".join(n.to_bytes(_BYTES) for n in public)  # uncompressed
        stand_in = x509.load_pem_x509_certificate(self.server().cert)
        stand_in_key = stand_in.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        # A bit string starts with its count of unused bits: none.
        curve_key = _der(0x30, _der(0x30, EC_PUBLIC_KEY + SECP112R1) + _der(0x03, b"\0" + encoded))
        tbs = _der(0x30, _content(stand_in.tbs_certificate_bytes).replace(stand_in_key, curve_key))
        signature = self._key.sign(tbs, ec.ECDSA(hashes.SHA256()))
        cert = _der(0x30, tbs + _der(0x30, ECDSA_WITH_SHA256) + _der(0x03, b"\0" + signature))
        # SEC 1 ECPrivateKey: version 1, the secret, the curve, the public point.
        key = _der(
            0x30,
            _der(0x02, b"\x01")
            + _der(0x04, secret.to_bytes(_BYTES))
            + _der(0xA0, SECP112R1)
            + _der(0xA1, _der(0x03, b"\0" + encoded)),
        )
        return Issued(cert=_pem("CERTIFICATE", cert), key=_pem("EC PRIVATE KEY", key))

    def client(self, common_name: str) -> Issued:
        """A client certificate (an agent's, for mutual TLS)."""
        return self._issue(common_name, ExtendedKeyUsageOID.CLIENT_AUTH, [])

    def _issue(
        self,
        common_name: str,
        usage: x509.ObjectIdentifier,
        alternatives: list[x509.GeneralName],
        key: CertificateIssuerPrivateKeyTypes | None = None,
    ) -> Issued:
        if key is None:
            key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.UTC)
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
            .issuer_name(self._name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + VALID_FOR)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        )
        if alternatives:
            builder = builder.add_extension(
                x509.SubjectAlternativeName(alternatives), critical=False
            )
        cert = builder.sign(self._key, hashes.SHA256())
        return Issued(
            cert=cert.public_bytes(serialization.Encoding.PEM),
            key=key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ),
        )


def _der(tag: int, content: bytes) -> bytes:
    """One DER element: its tag, its length and ``content``."""
    size = len(content)
    if size < 0x80:
        return bytes([tag, size]) + content
    length = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(length)]) + length + content


def _content(element: bytes) -> bytes:
    """The content of one DER element, without its tag and length."""
    length = element[1]
    return element[2 + (length & 0x7F if length & 0x80 else 0) :]


def _times(k: int, point: Point) -> Point:
    """``k`` times ``point`` on secp112r1, by doubling and adding."""
    total: Point = None
    while k:
        if k & 1:
            total = _add(total, point)
        point = _add(point, point)
        k >>= 1
    return total


def _add(one: Point, other: Point) -> Point:
    if one is None or other is None:
        return other if one is None else one
    (x1, y1), (x2, y2) = one, other
    if x1 == x2 and (y1 + y2) % _P == 0:
        return None
    if one == other:
        slope = (3 * x1 * x1 + _A) * pow(2 * y1, -1, _P) % _P
    else:
        slope = (y2 - y1) * pow(x2 - x1, -1, _P) % _P
    x3 = (slope * slope - x1 - x2) % _P
    return x3, (slope * (x1 - x3) - y1) % _P


def _pem(label: str, der: bytes) -> bytes:
    body = base64.encodebytes(der).decode("ascii")
    return f"-----BEGIN {label}-----\n{body}-----END {label}-----\n".encode("ascii")


def presented_serial(address: str, ca: Path, server_name: str = "localhost") -> int:
    """The serial of the certificate a TLS server at ``address`` presents in a new handshake.

    The handshake verifies the chain against ``ca``; ALPN offers h2, as gRPC clients do.
    """
    host, _, port = address.rpartition(":")
    context = ssl.create_default_context(cafile=str(ca))
    context.set_alpn_protocols(["h2"])
    with (
        socket.create_connection((host, int(port)), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname=server_name) as tls,
    ):
        der = tls.getpeercert(binary_form=True)
    assert der is not None
    return x509.load_der_x509_certificate(der).serial_number
