"""The server's TLS files: checked at start, read again when they change, a bad change ignored."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificateIssuerPrivateKeyTypes

from scheduler.server.tls import CertificateFiles, TlsFileError, TlsFiles, unserved
from tests.tls_certs import UNSERVED_KEYS, Authority, Issued

WARNING = "cannot be used"


@pytest.fixture
def ca() -> Authority:
    return Authority()


def files(directory: Path, pair: Issued) -> TlsFiles:
    cert, key = pair.write(directory, "server")
    return TlsFiles(cert=cert, key=key)


def warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if WARNING in r.getMessage()]


def test_unchanged_files_keep_the_configuration(tmp_path: Path, ca: Authority) -> None:
    reloading = CertificateFiles(files(tmp_path, ca.server()))
    assert [reloading.fetch() for _ in range(3)] == [None, None, None]


def test_a_new_pair_is_served_once_both_files_match(
    tmp_path: Path, ca: Authority, caplog: pytest.LogCaptureFixture
) -> None:
    tls = files(tmp_path, ca.server())
    reloading = CertificateFiles(tls)
    fresh = ca.server()
    tls.cert.write_bytes(fresh.cert)  # the key follows later: half a rotation
    with caplog.at_level(logging.WARNING):
        assert [reloading.fetch() for _ in range(3)] == [None, None, None]
    assert len(warnings(caplog)) == 1
    assert "does not match the certificate" in warnings(caplog)[0]
    tls.key.write_bytes(fresh.key)
    assert reloading.fetch() is not None
    assert reloading.fetch() is None


def test_a_vanished_file_warns_once_per_disappearance(
    tmp_path: Path, ca: Authority, caplog: pytest.LogCaptureFixture
) -> None:
    pair = ca.server()
    tls = files(tmp_path, pair)
    reloading = CertificateFiles(tls)
    with caplog.at_level(logging.WARNING):
        for _ in range(2):
            tls.key.unlink()
            assert [reloading.fetch(), reloading.fetch()] == [None, None]
            tls.key.write_bytes(pair.key)  # back as it was: nothing to reload
            assert reloading.fetch() is None
    assert len(warnings(caplog)) == 2
    assert all("--tls-key" in message for message in warnings(caplog))


def test_a_client_ca_change_is_a_change(tmp_path: Path, ca: Authority) -> None:
    tls = files(tmp_path, ca.server())
    with_ca = TlsFiles(cert=tls.cert, key=tls.key, client_ca=ca.write(tmp_path / "ca.crt"))
    reloading = CertificateFiles(with_ca)
    assert reloading.fetch() is None
    Authority().write(tmp_path / "ca.crt")
    assert reloading.fetch() is not None


def test_the_first_load_names_the_flag_of_a_bad_file(tmp_path: Path, ca: Authority) -> None:
    tls = files(tmp_path, ca.server())
    with pytest.raises(TlsFileError, match=r"--tls-client-ca .*: cannot read it"):
        CertificateFiles(TlsFiles(cert=tls.cert, key=tls.key, client_ca=tmp_path / "nope"))
    with pytest.raises(TlsFileError, match=r"--tls-key .* does not match"):
        CertificateFiles(TlsFiles(cert=tls.cert, key=files(tmp_path / "b", ca.server()).key))


def test_a_key_cryptography_cannot_load_is_refused_naming_the_flag(
    tmp_path: Path, ca: Authority
) -> None:
    curve = files(tmp_path / "curve", ca.server_on_unsupported_curve())
    usual = files(tmp_path / "usual", ca.server())
    with pytest.raises(TlsFileError, match=r"--tls-key .*: a kind of key that cannot be served"):
        CertificateFiles(curve)
    with pytest.raises(TlsFileError, match=r"--tls-cert .*: the key it certifies cannot be"):
        CertificateFiles(TlsFiles(cert=curve.cert, key=usual.key))


def test_a_replacement_cryptography_cannot_load_warns_once(
    tmp_path: Path, ca: Authority, caplog: pytest.LogCaptureFixture
) -> None:
    tls = files(tmp_path, ca.server())
    reloading = CertificateFiles(tls)
    curve = ca.server_on_unsupported_curve()
    tls.key.write_bytes(curve.key)
    tls.cert.write_bytes(curve.cert)
    with caplog.at_level(logging.WARNING):
        assert [reloading.fetch() for _ in range(3)] == [None, None, None]
    assert len(warnings(caplog)) == 1
    assert "--tls-key" in warnings(caplog)[0]


SERVED: dict[str, Callable[[], CertificateIssuerPrivateKeyTypes]] = {
    "RSA 2048": lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048),
    "EC P-256": lambda: ec.generate_private_key(ec.SECP256R1()),
    "EC P-384": lambda: ec.generate_private_key(ec.SECP384R1()),
}


@pytest.mark.parametrize("kind", UNSERVED_KEYS)
def test_a_kind_of_key_grpc_cannot_serve_is_refused_at_start(
    tmp_path: Path, ca: Authority, kind: str
) -> None:
    pair = ca.server(key=UNSERVED_KEYS[kind]())
    with pytest.raises(TlsFileError) as refused:
        CertificateFiles(files(tmp_path, pair))
    assert str(refused.value).startswith(f"--tls-key {tmp_path / 'server.key'}: ")
    assert "the server takes an RSA key of 2048 to 16384 bits, or an EC key on P-256" in str(
        refused.value
    )


@pytest.mark.parametrize("kind", UNSERVED_KEYS)
def test_a_replacement_of_a_kind_grpc_cannot_serve_warns_once(
    tmp_path: Path, ca: Authority, caplog: pytest.LogCaptureFixture, kind: str
) -> None:
    tls = files(tmp_path, ca.server())
    reloading = CertificateFiles(tls)
    unserved = ca.server(key=UNSERVED_KEYS[kind]())
    tls.key.write_bytes(unserved.key)
    tls.cert.write_bytes(unserved.cert)
    with caplog.at_level(logging.INFO):
        assert [reloading.fetch() for _ in range(3)] == [None, None, None]
    assert len(warnings(caplog)) == 1
    assert "--tls-key" in warnings(caplog)[0]
    assert "reloaded" not in caplog.text


@pytest.mark.parametrize("kind", SERVED)
def test_the_kinds_of_key_served(tmp_path: Path, ca: Authority, kind: str) -> None:
    tls = files(tmp_path, ca.server(key=SERVED[kind]()))
    reloading = CertificateFiles(tls)
    replacement = ca.server(key=SERVED[kind]())
    tls.key.write_bytes(replacement.key)
    tls.cert.write_bytes(replacement.cert)
    assert reloading.fetch() is not None


def rsa_key_of_mersenne_primes(p_exponent: int, q_exponent: int) -> rsa.RSAPrivateKey:
    """An RSA key of about ``p_exponent + q_exponent`` bits at once: its primes are known
    (2^k - 1), not searched for, as a key this long would take minutes to generate."""
    p, q, e = 2**p_exponent - 1, 2**q_exponent - 1, 65537
    d = pow(e, -1, (p - 1) * (q - 1))
    public = rsa.RSAPublicNumbers(e, p * q)
    numbers = rsa.RSAPrivateNumbers(p, q, d, d % (p - 1), d % (q - 1), pow(q, -1, p), public)
    # Checking that p and q are primes would take minutes too; they are.
    return numbers.private_key(unsafe_skip_rsa_key_validation=True)


def test_an_rsa_key_longer_than_grpc_loads_is_not_served() -> None:
    # Loading the key from a file checks its primes, which takes minutes at this size:
    # the rule is tested on the key itself.
    long_served = rsa_key_of_mersenne_primes(4423, 9689)
    too_long = rsa_key_of_mersenne_primes(9689, 9941)
    assert (long_served.key_size, too_long.key_size) == (14112, 19630)
    assert unserved(long_served) is None
    assert unserved(too_long) == "an RSA key of 19630 bits is too long for gRPC"
