"""Host mode on Kubernetes: components/host-access, rendered into both overlays and checked.

The component must render, pass the strict schemas, keep the agent wired as in the
overlay, and grant exactly what docs/security.md documents; without it the agent
DaemonSet stays as unprivileged as before. Each host-mode rule is broken once to
show it can fail.
"""

from __future__ import annotations

import copy
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import kubernetes_validate  # type: ignore[import-untyped]
import pytest

from scheduler.cli.main import build_parser
from tests.k8s import rules
from tests.k8s.render import (
    K8S,
    OVERLAYS,
    REPO,
    Obj,
    containers,
    env_value,
    flag,
    of_kind,
    pod_spec,
    render,
)
from tests.k8s.test_manifests import K8S_VERSION, needs_kubectl

COMPONENT = "  # - ../../components/host-access\n"
"""The line of each overlay that opts in, commented out (k8s/README.md)."""


@pytest.fixture(scope="module")
def rendered() -> dict[str, list[Obj]]:
    """Each overlay as it renders, by name (as in test_manifests.py)."""
    return {overlay: render(K8S / "overlays" / overlay) for overlay in OVERLAYS}


@pytest.fixture(scope="module")
def host_mode(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[Obj]]:
    """Both overlays with components/host-access uncommented, as an operator opts in."""
    tree = tmp_path_factory.mktemp("k8s") / "k8s"
    shutil.copytree(K8S, tree)
    objs = {}
    for overlay in OVERLAYS:
        kustomization = tree / "overlays" / overlay / "kustomization.yaml"
        text = kustomization.read_text()
        assert COMPONENT in text, overlay
        kustomization.write_text(text.replace(COMPONENT, "  - ../../components/host-access\n"))
        objs[overlay] = render(tree / "overlays" / overlay)
    return objs


def _agent(objs: list[Obj]) -> tuple[Obj, Obj]:
    (daemonset,) = of_kind(objs, "DaemonSet")
    (agent,) = containers(daemonset)
    return daemonset, agent


@needs_kubectl
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_host_access_renders_and_changes_only_the_agent_daemonset(
    rendered: dict[str, list[Obj]], host_mode: dict[str, list[Obj]], overlay: str
) -> None:
    before = {(o["kind"], o["metadata"]["name"]): o for o in rendered[overlay]}
    after = {(o["kind"], o["metadata"]["name"]): o for o in host_mode[overlay]}
    assert before.keys() == after.keys()
    changed = [key for key in before if before[key] != after[key]]
    assert changed == [("DaemonSet", "kairos-agent")]
    daemonset, _ = _agent(host_mode[overlay])
    kubernetes_validate.validate(daemonset, K8S_VERSION, strict=True)
    assert rules.host_access_problems(daemonset) == []
    assert rules.agent_problems(host_mode[overlay]) == []
    assert rules.agent_tls_problems(host_mode[overlay]) == []


@needs_kubectl
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_host_mode_agent_gets_its_host_root_from_the_real_flag(
    host_mode: dict[str, list[Obj]], overlay: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, agent = _agent(host_mode[overlay])
    monkeypatch.setenv("KAIROS_HOST_ROOT", (env_value(agent, "KAIROS_HOST_ROOT") or {})["value"])
    args = build_parser().parse_args(agent["args"])
    assert args.host_root == Path("/host")


@needs_kubectl
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_without_the_component_the_agent_stays_in_its_container(
    rendered: dict[str, list[Obj]], overlay: str
) -> None:
    daemonset, agent = _agent(rendered[overlay])
    assert rules.security_problems(daemonset, allow_root=True) == []
    assert env_value(agent, "KAIROS_HOST_ROOT") is None
    assert flag(agent["args"], "--host-root") is None
    assert not (agent["securityContext"]["capabilities"]).get("add")
    host_paths = [v["hostPath"]["path"] for v in pod_spec(daemonset)["volumes"] if "hostPath" in v]
    assert host_paths == ["/var/lib/kairos-agent"]
    # Every host-mode rule fails on the default: it grants none of it.
    problems = rules.host_access_problems(daemonset)
    assert any("hostPID is not true" in p for p in problems), problems
    assert any("KAIROS_HOST_ROOT None" in p for p in problems), problems


def _documented_grants() -> tuple[set[str], set[str]]:
    """The capabilities and pod settings docs/security.md says host mode grants."""
    text = (REPO / "docs" / "security.md").read_text()
    section = text[text.index("## Host mode") :]
    section = section[: section.index("\n## ", 1)] if "\n## " in section[1:] else section
    rows = re.findall(r"^\| (?:Capability )?`([^`]+)` \|", section, flags=re.MULTILINE)
    capabilities = {r for r in rows if re.fullmatch(r"[A-Z_]+", r)}
    return capabilities, set(rows) - capabilities


@needs_kubectl
def test_host_access_grants_exactly_what_docs_security_lists(
    host_mode: dict[str, list[Obj]],
) -> None:
    capabilities, settings = _documented_grants()
    assert capabilities == set(rules.HOST_CAPABILITIES)
    daemonset, agent = _agent(host_mode["prod"])
    assert set(agent["securityContext"]["capabilities"]["add"]) == capabilities
    assert settings == {
        "hostPID: true",
        "hostPath / at /host",
        "appArmorProfile: Unconfined",
        "seLinuxOptions.type: spc_t",
    }
    sc = agent["securityContext"]
    assert pod_spec(daemonset)["hostPID"] is True
    assert (sc["appArmorProfile"]["type"], sc["seLinuxOptions"]["type"]) == ("Unconfined", "spc_t")


# ------------------------------------------------------------------ every rule can fail


def _granted(objs: dict[str, list[Obj]]) -> tuple[Obj, Obj]:
    return _agent(objs["prod"])


def _privileged(objs: dict[str, list[Obj]]) -> list[str]:
    daemonset, agent = _granted(objs)
    agent["securityContext"]["privileged"] = True
    return rules.host_access_problems(daemonset)


def _another_capability(objs: dict[str, list[Obj]]) -> list[str]:
    daemonset, agent = _granted(objs)
    agent["securityContext"]["capabilities"]["add"].append("NET_ADMIN")
    return rules.host_access_problems(daemonset)


def _capabilities_kept(objs: dict[str, list[Obj]]) -> list[str]:
    daemonset, agent = _granted(objs)
    del agent["securityContext"]["capabilities"]["drop"]
    return rules.host_access_problems(daemonset)


def _host_network(objs: dict[str, list[Obj]]) -> list[str]:
    daemonset, _ = _granted(objs)
    pod_spec(daemonset)["hostNetwork"] = True
    return rules.host_access_problems(daemonset)


def _no_host_pid(objs: dict[str, list[Obj]]) -> list[str]:
    daemonset, _ = _granted(objs)
    del pod_spec(daemonset)["hostPID"]
    return rules.host_access_problems(daemonset)


def _root_of_a_directory(objs: dict[str, list[Obj]]) -> list[str]:
    daemonset, _ = _granted(objs)
    (volume,) = [v for v in pod_spec(daemonset)["volumes"] if v["name"] == "host-root"]
    volume["hostPath"]["path"] = "/var"
    return rules.host_access_problems(daemonset)


def _host_root_elsewhere(objs: dict[str, list[Obj]]) -> list[str]:
    daemonset, agent = _granted(objs)
    (env_value(agent, "KAIROS_HOST_ROOT") or {})["value"] = "/node"
    return rules.host_access_problems(daemonset)


def _host_root_read_only(objs: dict[str, list[Obj]]) -> list[str]:
    daemonset, agent = _granted(objs)
    (mount,) = [m for m in agent["volumeMounts"] if m["name"] == "host-root"]
    mount["readOnly"] = True
    return rules.host_access_problems(daemonset)


def _state_on_the_node_root(objs: dict[str, list[Obj]]) -> list[str]:
    daemonset, agent = _granted(objs)
    args = agent["args"]
    args[args.index("--state-dir") + 1] = "/host/var/lib/kairos-agent"
    return rules.host_access_problems(daemonset)


def _confined(objs: dict[str, list[Obj]]) -> list[str]:
    daemonset, agent = _granted(objs)
    del agent["securityContext"]["appArmorProfile"]
    return rules.host_access_problems(daemonset)


def _seccomp_off(objs: dict[str, list[Obj]]) -> list[str]:
    daemonset, agent = _granted(objs)
    agent["securityContext"]["seccompProfile"] = {"type": "Unconfined"}
    return rules.host_access_problems(daemonset)


HOST_MUTATIONS: list[tuple[Callable[[dict[str, list[Obj]]], list[str]], str]] = [
    (_privileged, "kairos-agent: privileged"),
    (_another_capability, "not exactly ['SETGID', 'SETUID', 'SYS_ADMIN', 'SYS_CHROOT'"),
    (_capabilities_kept, "to drop None"),
    (_host_network, "hostNetwork is set"),
    (_no_host_pid, "hostPID is not true"),
    (_root_of_a_directory, "the host root /host is not the node's /"),
    (_host_root_elsewhere, "KAIROS_HOST_ROOT '/node' is not the path of one volume mount"),
    (_host_root_read_only, "is not mounted read-write with HostToContainer"),
    (_state_on_the_node_root, "--state-dir /host/var/lib/kairos-agent is under the host root"),
    (_confined, "AppArmor confines the agent"),
    (_seccomp_off, "seccompProfile is not RuntimeDefault"),
]


@needs_kubectl
@pytest.mark.parametrize(
    ("mutation", "expected"),
    HOST_MUTATIONS,
    ids=[m.__name__.strip("_") for m, _ in HOST_MUTATIONS],
)
def test_each_host_access_rule_can_fail(
    host_mode: dict[str, list[Obj]],
    mutation: Callable[[dict[str, list[Obj]]], list[str]],
    expected: str,
) -> None:
    problems = mutation(copy.deepcopy(host_mode))
    assert any(expected in p for p in problems), problems
