"""The server's TLS files: checked at start, read again when they change, a bad change ignored."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from scheduler.server.tls import CertificateFiles, TlsFileError, TlsFiles
from tests.tls_certs import Authority, Issued

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
