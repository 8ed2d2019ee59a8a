"""``kairos agent --docker-socket`` and ``--cri-socket``: flags, environment, defaults, and
the defaults under ``--host-root`` in host mode."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.main import _runtime_sockets
from scheduler.cli.main import build_parser


def _parse(*argv: str) -> tuple[Path, tuple[Path, ...]]:
    args = build_parser().parse_args(["agent", "--instance-id", "i-1", *argv])
    return _runtime_sockets(args)


def test_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KAIROS_DOCKER_SOCKET", raising=False)
    monkeypatch.delenv("KAIROS_CRI_SOCKET", raising=False)
    assert _parse() == (
        Path("/var/run/docker.sock"),
        (Path("/run/containerd/containerd.sock"), Path("/var/run/crio/crio.sock")),
    )


def test_flags_repeat_and_take_lists(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAIROS_CRI_SOCKET", "/env/cri.sock")
    docker, cri = _parse(
        "--docker-socket", "/d.sock", "--cri-socket", "/a.sock,/b.sock", "--cri-socket", "/c.sock"
    )
    assert docker == Path("/d.sock")
    # Given flags replace the environment's list, in the order given.
    assert cri == (Path("/a.sock"), Path("/b.sock"), Path("/c.sock"))


def test_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAIROS_DOCKER_SOCKET", "/env/docker.sock")
    monkeypatch.setenv("KAIROS_CRI_SOCKET", "/env/a.sock, /env/b.sock")
    assert _parse() == (Path("/env/docker.sock"), (Path("/env/a.sock"), Path("/env/b.sock")))


def test_host_mode_looks_for_the_nodes_sockets_under_the_host_root(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("KAIROS_DOCKER_SOCKET", raising=False)
    monkeypatch.delenv("KAIROS_CRI_SOCKET", raising=False)
    assert _parse("--host-root", "/host") == (
        Path("/host/var/run/docker.sock"),
        (Path("/host/run/containerd/containerd.sock"), Path("/host/var/run/crio/crio.sock")),
    )
    # A socket given is taken as it is.
    given = _parse("--host-root", "/host", "--docker-socket", "/d.sock", "--cri-socket", "/c")
    assert given == (Path("/d.sock"), (Path("/c"),))
