# Over 400 lines on purpose: every house rule of the manifests in one place, read as one list.
"""The house rules for the manifests and the Dockerfile that no schema expresses.

Each ``*_problems`` function returns what is wrong, one sentence per problem,
and an empty list when all is well: the tests assert ``== []`` on the rendered
overlays, and feed deliberately broken copies to the same functions to prove
that each rule can fail.
"""

from __future__ import annotations

import ipaddress
import re
import shlex

from scheduler.server.config import is_loopback
from scheduler.server.health import LIVENESS
from tests.k8s.render import (
    Obj,
    container_port,
    containers,
    env_value,
    flag,
    is_server,
    mounted_secret,
    of_kind,
    pod_labels,
    pod_spec,
    roles,
    selects,
    server_deployments,
    workloads,
)

SERVER_GRACE_DEFAULT = 10.0
"""``kairos server --grace`` default; a test checks it against the real parser."""
PROBE_SERVICES = {"startupProbe": "", "readinessProbe": "", "livenessProbe": LIVENESS}
"""The health service each probe checks: the overall one ("") follows the database
(start, outage, SIGTERM); a liveness probe on it would restart every replica during
a database outage, so liveness checks the one that stays SERVING."""
DATABASE_SECRET_KEY = "uri"
"""Key of the CloudNativePG app Secret that holds the libpq connection URI."""

# ---------------------------------------------------------------- schema-less kinds


def custom_resource_problems(obj: Obj) -> list[str]:
    """Required fields of the custom resources, checked by hand (no schema offline)."""
    kind, api = obj.get("kind"), obj.get("apiVersion")
    name = obj.get("metadata", {}).get("name")
    spec = obj.get("spec") or {}
    problems: list[str] = []
    if not name:
        problems.append(f"{kind} has no metadata.name")
    if kind == "Cluster":
        if api != "postgresql.cnpg.io/v1":
            problems.append(f"Cluster {name}: apiVersion {api}, expected postgresql.cnpg.io/v1")
        instances = spec.get("instances")
        if not isinstance(instances, int) or instances < 1:
            problems.append(f"Cluster {name}: spec.instances must be a positive integer")
        if not (spec.get("storage") or {}).get("size"):
            problems.append(f"Cluster {name}: spec.storage.size is required")
        initdb = (spec.get("bootstrap") or {}).get("initdb") or {}
        if not initdb.get("database") or not initdb.get("owner"):
            problems.append(f"Cluster {name}: spec.bootstrap.initdb needs database and owner")
        image = spec.get("imageName")
        if image is not None and image_problem(image):
            problems.append(f"Cluster {name}: imageName {image_problem(image)}")
    elif kind == "ServiceMonitor":
        if api != "monitoring.coreos.com/v1":
            problems.append(
                f"ServiceMonitor {name}: apiVersion {api}, expected monitoring.coreos.com/v1"
            )
        if not (spec.get("selector") or {}).get("matchLabels"):
            problems.append(f"ServiceMonitor {name}: spec.selector.matchLabels is required")
        endpoints = spec.get("endpoints") or []
        if not endpoints or not all(e.get("port") for e in endpoints):
            problems.append(f"ServiceMonitor {name}: every spec.endpoints entry needs a port")
    elif kind == "Certificate":
        if api != "cert-manager.io/v1":
            problems.append(f"Certificate {name}: apiVersion {api}, expected cert-manager.io/v1")
        if not spec.get("secretName"):
            problems.append(f"Certificate {name}: spec.secretName is required")
        if not (spec.get("issuerRef") or {}).get("name"):
            problems.append(f"Certificate {name}: spec.issuerRef.name is required")
        if not spec.get("dnsNames"):
            problems.append(f"Certificate {name}: spec.dnsNames is empty")
    else:
        problems.append(f"{api} {kind} {name}: a custom resource these tests do not know")
    return problems


# ---------------------------------------------------------------- images


def image_problem(image: str) -> str | None:
    """Why ``image`` is not pinned, or None when it has an explicit tag or digest."""
    if "@sha256:" in image:
        return None
    last = image.rsplit("/", 1)[-1]
    if ":" not in last:
        return f"{image!r} has no tag"
    tag = last.split(":", 1)[1]
    if tag in ("", "latest") or not re.fullmatch(r"[\w][\w.-]{0,127}", tag):
        return f"{image!r} is not pinned to a release tag"
    return None


def image_problems(objs: list[Obj]) -> list[str]:
    return [
        f"{w['kind']} {w['metadata']['name']} container {c['name']}: {problem}"
        for w in workloads(objs)
        for c in containers(w)
        if (problem := image_problem(c.get("image", ""))) is not None
    ]


# ---------------------------------------------------------------- pods


def probe_problems(deployment: Obj) -> list[str]:
    """Every server container has gRPC readiness, liveness and startup probes on its
    plaintext health-only port (--health-listen, container port ``health``)."""
    problems = []
    name = deployment["metadata"]["name"]
    for container in containers(deployment):
        if not is_server(container):
            continue
        listen = env_value(container, "KAIROS_LISTEN")
        listen_value = flag(container["args"], "--listen") or (listen or {}).get("value", "")
        listen_port = listen_value.rpartition(":")[2]
        grpc_port = container_port(container, "grpc")
        if grpc_port is None:
            problems.append(f"{name}: no container port named grpc")
        elif str(grpc_port) != listen_port:
            problems.append(
                f"{name}: port grpc is {grpc_port}, the server listens on {listen_port!r}"
            )
        health = flag(container["args"], "--health-listen") or (
            env_value(container, "KAIROS_HEALTH_LISTEN") or {}
        ).get("value")
        health_port = container_port(container, "health")
        if health is None:
            problems.append(f"{name}: no --health-listen, the plaintext port the probes check")
        elif health_port is None or str(health_port) != health.rpartition(":")[2]:
            problems.append(
                f"{name}: no container port named health for --health-listen {health!r}"
            )
        for probe_name in ("readinessProbe", "livenessProbe", "startupProbe"):
            probe = container.get(probe_name)
            if probe is None:
                problems.append(f"{name}: no {probe_name}")
                continue
            other = {"httpGet", "tcpSocket", "exec"} & probe.keys()
            if "grpc" not in probe or other:
                problems.append(f"{name}: {probe_name} is not a native gRPC probe")
                continue
            # The kubelet's gRPC probes speak no TLS: they check the plaintext health port.
            if probe["grpc"].get("port") != health_port:
                problems.append(
                    f"{name}: {probe_name} probes port {probe['grpc'].get('port')}, "
                    f"not the health port {health_port}"
                )
            wanted = PROBE_SERVICES[probe_name]
            if probe["grpc"].get("service", "") != wanted:
                problems.append(f"{name}: {probe_name} must check the health service {wanted!r}")
    return problems


def security_problems(workload: Obj, *, allow_root: bool = False) -> list[str]:
    """The restricted Pod Security profile, per container (pod-level values inherited)."""
    name = workload["metadata"]["name"]
    spec = pod_spec(workload)
    pod_sc = spec.get("securityContext") or {}
    problems = [
        f"{name}: {host} is set" for host in ("hostPID", "hostIPC", "hostNetwork") if spec.get(host)
    ]
    for container in containers(workload):
        sc = container.get("securityContext") or {}
        where = f"{name} container {container['name']}"

        def effective(key: str, sc: Obj = sc) -> object:
            return sc.get(key, pod_sc.get(key))

        seccomp = effective("seccompProfile") or {}
        if not isinstance(seccomp, dict) or seccomp.get("type") != "RuntimeDefault":
            problems.append(f"{where}: seccompProfile is not RuntimeDefault")
        if sc.get("allowPrivilegeEscalation") is not False:
            problems.append(f"{where}: allowPrivilegeEscalation is not false")
        if sc.get("privileged"):
            problems.append(f"{where}: privileged")
        if sc.get("readOnlyRootFilesystem") is not True:
            problems.append(f"{where}: readOnlyRootFilesystem is not true")
        capabilities = sc.get("capabilities") or {}
        if "ALL" not in capabilities.get("drop", []) or capabilities.get("add"):
            problems.append(f"{where}: capabilities are not drop [ALL] with nothing added")
        if not allow_root:
            if effective("runAsNonRoot") is not True:
                problems.append(f"{where}: runAsNonRoot is not true")
            uid = effective("runAsUser")
            if not isinstance(uid, int) or uid == 0:
                problems.append(f"{where}: runAsUser is not a numeric non-root uid")
    return problems


def resource_problems(workload: Obj) -> list[str]:
    """Requests and limits of CPU and memory on every container."""
    problems = []
    for container in containers(workload):
        resources = container.get("resources") or {}
        for section in ("requests", "limits"):
            for resource in ("cpu", "memory"):
                if not (resources.get(section) or {}).get(resource):
                    problems.append(
                        f"{workload['metadata']['name']} container {container['name']}: "
                        f"no {section}.{resource}"
                    )
    return problems


def _seconds(value: str | None, default: float) -> float:
    return default if value is None else float(value)


def shutdown_budget(container: Obj) -> float:
    """Seconds a server container may take to stop: preStop sleep + --drain + --grace."""
    args = container.get("args", [])
    grace = _seconds(flag(args, "--grace"), SERVER_GRACE_DEFAULT)
    drain = _seconds(flag(args, "--drain"), 0.0)  # a drain delay, should the server get one
    pre_stop = (container.get("lifecycle") or {}).get("preStop") or {}
    sleep = float((pre_stop.get("sleep") or {}).get("seconds", 0))
    command = (pre_stop.get("exec") or {}).get("command") or []
    if command[:1] == ["sleep"] and len(command) == 2:
        sleep = float(command[1])
    return sleep + drain + grace


def grace_problems(deployment: Obj) -> list[str]:
    """terminationGracePeriodSeconds leaves room beyond the server's own stop budget."""
    period = pod_spec(deployment).get("terminationGracePeriodSeconds", 30)
    problems = []
    for container in containers(deployment):
        if not is_server(container):
            continue
        budget = shutdown_budget(container)
        # At least 10 s beyond: closing agent streams, the listener and the pool.
        if period < budget + 10:
            problems.append(
                f"{deployment['metadata']['name']}: terminationGracePeriodSeconds {period} is "
                f"not at least 10 s above preStop + drain + grace = {budget:g} s"
            )
    return problems


def spread_problems(deployment: Obj) -> list[str]:
    """Replicas spread over nodes: a hostname constraint that selects the Deployment's pods."""
    constraints = pod_spec(deployment).get("topologySpreadConstraints", [])
    by_host = [
        c
        for c in constraints
        if c.get("topologyKey") == "kubernetes.io/hostname"
        and selects((c.get("labelSelector") or {}).get("matchLabels", {}), pod_labels(deployment))
    ]
    if not by_host:
        return [f"{deployment['metadata']['name']}: no topology spread over nodes for its pods"]
    return []


# ---------------------------------------------------------------- TLS


TLS_MODE_MAX = 0o440
"""The widest mode of the servers' certificate and key files: the key is a secret."""


def server_tls_problems(objs: list[Obj], *, dev: bool) -> list[str]:
    """Every server listening beyond loopback serves TLS from a Secret volume mounted
    read-only with files no wider than 0440, its certificate and key from one Secret;
    only the dev overlay may serve plaintext (``--insecure``)."""
    problems = []
    for deployment in server_deployments(objs):
        name = deployment["metadata"]["name"]
        for container in containers(deployment):
            if not is_server(container):
                continue
            args = container["args"]
            listen = flag(args, "--listen") or (env_value(container, "KAIROS_LISTEN") or {}).get(
                "value", "127.0.0.1:50051"
            )
            if is_loopback(listen.rpartition(":")[0]):
                continue
            if "--insecure" in args:
                if not dev:
                    problems.append(f"{name}: --insecure (plaintext) outside the dev overlay")
                continue
            secrets = set()
            for option in ("--tls-cert", "--tls-key"):
                path = flag(args, option) or ""
                mounted = mounted_secret(deployment, container, path)
                if mounted is None:
                    problems.append(f"{name}: {option} {path!r} is not a file of a Secret volume")
                    continue
                volume = mounted[0]
                secrets.add(volume["secret"]["secretName"])
                mode = volume["secret"].get("defaultMode", 0o644)
                modes = [
                    mode,
                    *(i["mode"] for i in volume["secret"].get("items", []) if "mode" in i),
                ]
                if any(m & ~TLS_MODE_MAX for m in modes):
                    problems.append(
                        f"{name}: {option}'s Secret volume is wider than "
                        f"{TLS_MODE_MAX:04o} ({mode:04o})"
                    )
                mounts = [m for m in container["volumeMounts"] if m["name"] == volume["name"]]
                if not all(m.get("readOnly") for m in mounts):
                    problems.append(f"{name}: {option}'s Secret volume is not mounted read-only")
            if len(secrets) > 1:
                problems.append(f"{name}: --tls-cert and --tls-key come from different Secrets")
    return problems


def _tls_secrets(objs: list[Obj]) -> set[str]:
    """The Secrets the servers' --tls-cert files come from."""
    names = set()
    for deployment in server_deployments(objs):
        for container in containers(deployment):
            path = flag(container.get("args", []), "--tls-cert")
            found = mounted_secret(deployment, container, path) if path else None
            if is_server(container) and found is not None:
                names.add(found[0]["secret"]["secretName"])
    return names


def certificate_problems(objs: list[Obj]) -> list[str]:
    """A cert-manager Certificate issues the Secret the servers mount, for every name
    the Services are dialled by: bare and with the namespace."""
    problems = []
    mounted = _tls_secrets(objs)
    for certificate in of_kind(objs, "Certificate"):
        name = certificate["metadata"]["name"]
        namespace = certificate["metadata"].get("namespace", "default")
        spec = certificate["spec"]
        if spec.get("secretName") not in mounted:
            problems.append(
                f"Certificate {name}: Secret {spec.get('secretName')!r} is not the one the "
                f"servers mount ({sorted(mounted)})"
            )
        names = set(spec.get("dnsNames", []))
        for service in ("kairos-api", "kairos-agents"):
            for dns in (
                service,
                f"{service}.{namespace}",
                f"{service}.{namespace}.svc",
                f"{service}.{namespace}.svc.cluster.local",
            ):
                if dns not in names:
                    problems.append(f"Certificate {name} does not name {dns}")
    return problems


# ---------------------------------------------------------------- database and migration


APPLY_ORDER = ("database", "migrate", "roles")
"""Values of the ``kairos.dev/apply-order`` annotation, first to last."""


def _wave(obj: Obj) -> tuple[int, int]:
    """Where ``obj`` comes in the apply order: (kairos.dev/apply-order, Argo CD sync wave).

    Both annotations must agree, so comparing the pairs compares either."""
    annotations = obj["metadata"].get("annotations") or {}
    order = annotations.get("kairos.dev/apply-order")
    rank = APPLY_ORDER.index(order) if order in APPLY_ORDER else -1
    return rank, int(annotations.get("argocd.argoproj.io/sync-wave", "0"))


def _before(first: Obj, then: Obj) -> bool:
    (rank_a, wave_a), (rank_b, wave_b) = _wave(first), _wave(then)
    return 0 <= rank_a < rank_b and wave_a < wave_b


def database_url_source(container: Obj) -> tuple[str, str] | None:
    """(secret, key) that KAIROS_DATABASE_URL comes from, None when not from a Secret."""
    entry = env_value(container, "KAIROS_DATABASE_URL") or {}
    ref = (entry.get("valueFrom") or {}).get("secretKeyRef")
    return None if ref is None else (ref["name"], ref["key"])


def migration_problems(objs: list[Obj]) -> list[str]:
    """One migration Job running `kairos migrate`, ordered after the database and
    before the roles, and roles that use the same database and never migrate."""
    problems: list[str] = []
    clusters = of_kind(objs, "Cluster")
    if len(clusters) != 1:
        return [f"expected one CloudNativePG Cluster, found {len(clusters)}"]
    cluster = clusters[0]
    expected = (f"{cluster['metadata']['name']}-app", DATABASE_SECRET_KEY)
    jobs = [
        j
        for j in of_kind(objs, "Job")
        if any(c.get("args", [])[:1] == ["migrate"] for c in containers(j))
    ]
    if len(jobs) != 1:
        return [*problems, f"expected one Job running `kairos migrate`, found {len(jobs)}"]
    job = jobs[0]
    (migrate,) = [c for c in containers(job) if c.get("args", [])[:1] == ["migrate"]]
    if migrate.get("command") is not None:
        problems.append("the migration Job overrides the image's `kairos` entry point")
    if database_url_source(migrate) != expected:
        problems.append(f"the migration Job does not read KAIROS_DATABASE_URL from {expected}")
    if not _before(cluster, job):
        problems.append("the migration Job is not ordered after the database Cluster")
    deployments = server_deployments(objs)
    if not deployments:
        problems.append("no server Deployment")
    for deployment in deployments:
        name = deployment["metadata"]["name"]
        if not _before(job, deployment):
            problems.append(f"{name} is not ordered after the migration Job")
        for container in containers(deployment):
            args = container.get("args", [])
            if args[:1] == ["migrate"] or "migrate" in shlex.join(container.get("command", [])):
                problems.append(f"{name}: container {container['name']} migrates by itself")
            if is_server(container):
                if database_url_source(container) != expected:
                    problems.append(f"{name}: KAIROS_DATABASE_URL does not come from {expected}")
                if flag(args, "--database-url") is not None or flag(args, "--data-dir"):
                    problems.append(f"{name}: the database URL must come from the Secret only")
    return problems


DATABASE_TLS_MODE = "verify-full"
"""libpq's ``sslmode`` for a production database: TLS, and the server's certificate
checked against the cluster's CA and the host name."""


def database_tls_problems(objs: list[Obj]) -> list[str]:
    """Every container that connects to the database does so over TLS with the
    server's certificate verified (PGSSLMODE verify-full), against the CA certificate
    alone of the CloudNativePG cluster (PGSSLROOTCERT, a file of the Secret
    CLUSTER-ca mounted with its key ca.crt only: the Secret also holds the CA's key)."""
    clusters = of_kind(objs, "Cluster")
    if len(clusters) != 1:
        return [f"expected one CloudNativePG Cluster, found {len(clusters)}"]
    ca_secret = f"{clusters[0]['metadata']['name']}-ca"
    problems: list[str] = []
    for workload in workloads(objs):
        volumes = {v["name"]: v for v in pod_spec(workload).get("volumes", [])}
        for container in containers(workload):
            if database_url_source(container) is None:
                continue
            where = f"{workload['metadata']['name']}/{container['name']}"
            mode = (env_value(container, "PGSSLMODE") or {}).get("value")
            if mode != DATABASE_TLS_MODE:
                problems.append(f"{where}: PGSSLMODE is {mode!r}, not {DATABASE_TLS_MODE!r}")
            root = (env_value(container, "PGSSLROOTCERT") or {}).get("value") or ""
            if not any(
                root == f"{mount['mountPath'].rstrip('/')}/ca.crt"
                and _only_ca_certificate(volumes.get(mount["name"]), ca_secret)
                for mount in container.get("volumeMounts", [])
            ):
                problems.append(
                    f"{where}: PGSSLROOTCERT {root!r} is not ca.crt of Secret {ca_secret} "
                    "mounted alone"
                )
    return problems


def _only_ca_certificate(volume: Obj | None, secret_name: str) -> bool:
    secret = (volume or {}).get("secret") or {}
    items = secret.get("items") or []
    return secret.get("secretName") == secret_name and [i["key"] for i in items] == ["ca.crt"]


# ---------------------------------------------------------------- roles and services


def role_layout_problems(objs: list[Obj], *, split: bool) -> list[str]:
    """Dev: one Deployment runs every role. Prod: one Deployment per role."""
    deployments = server_deployments(objs)
    layout = {
        d["metadata"]["name"]: roles(c) for d in deployments for c in containers(d) if is_server(c)
    }
    if split:
        runs = sorted(sorted(r) for r in layout.values())
        if runs != [["api"], ["dispatcher"], ["ticker"]]:
            return [f"expected api, ticker and dispatcher in separate Deployments, got {layout}"]
    elif list(layout.values()) != [frozenset({"api", "ticker", "dispatcher"})]:
        return [f"expected one Deployment running every role, got {layout}"]
    return []


def _serving(objs: list[Obj], role: str) -> list[Obj]:
    return [
        d
        for d in server_deployments(objs)
        for c in containers(d)
        if is_server(c) and role in roles(c)
    ]


def service_problems(objs: list[Obj]) -> list[str]:
    """kairos-api reaches exactly the api pods, kairos-agents exactly the dispatchers,
    kairos-metrics every server pod, each on a port the pods have."""
    wanted = {"kairos-api": "api", "kairos-agents": "dispatcher", "kairos-metrics": None}
    problems = []
    services = {s["metadata"]["name"]: s for s in of_kind(objs, "Service")}
    for name, role in wanted.items():
        service = services.get(name)
        if service is None:
            problems.append(f"no Service {name}")
            continue
        selector = service["spec"].get("selector") or {}
        selected = [d for d in server_deployments(objs) if selects(selector, pod_labels(d))]
        expected = server_deployments(objs) if role is None else _serving(objs, role)
        if sorted(d["metadata"]["name"] for d in selected) != sorted(
            d["metadata"]["name"] for d in expected
        ):
            problems.append(f"Service {name} does not select exactly the pods serving {role}")
        for port in service["spec"]["ports"]:
            for deployment in selected:
                if not any(container_port(c, port["targetPort"]) for c in containers(deployment)):
                    problems.append(
                        f"Service {name}: targetPort {port['targetPort']} is not a port of "
                        f"{deployment['metadata']['name']}"
                    )
    return problems


AGENT_PORT = "agents"
"""The container port name of ``--agent-listen``, where the dispatchers serve agents."""


def agent_port_problems(objs: list[Obj]) -> list[str]:
    """Agents have a port of their own, and only agents reach it: every dispatcher serves
    them on ``--agent-listen`` (container port ``agents``; on --listen agent calls are
    refused), Service kairos-agents forwards there, kairos-api does not, and no ingress
    rule open to every source admits that port."""
    problems = []
    for deployment in _serving(objs, "dispatcher"):
        name = deployment["metadata"]["name"]
        for container in containers(deployment):
            listen = flag(container.get("args", []), "--agent-listen") or ""
            port = container_port(container, AGENT_PORT)
            if is_server(container) and (port is None or listen.rpartition(":")[2] != str(port)):
                problems.append(
                    f"{name}: agents are served on --listen, not on --agent-listen at a "
                    f"container port named {AGENT_PORT} (--agent-listen {listen!r})"
                )
    services = {s["metadata"]["name"]: s for s in of_kind(objs, "Service")}
    for service, agents in (("kairos-agents", True), ("kairos-api", False)):
        targets = {
            p["targetPort"] for p in services.get(service, {}).get("spec", {}).get("ports", [])
        }
        if (targets == {AGENT_PORT}) != agents:
            problems.append(
                f"Service {service} {'does not forward' if agents else 'forwards'} to port "
                f"{AGENT_PORT} only (targetPort {sorted(map(str, targets))})"
            )
    for policy in of_kind(objs, "NetworkPolicy"):
        for rule in policy["spec"].get("ingress", []):
            ports = [p.get("port") for p in rule.get("ports", [])]
            if not rule.get("from") and (not ports or AGENT_PORT in ports):
                problems.append(
                    f"NetworkPolicy {policy['metadata']['name']}: a rule open to every source "
                    f"admits the agent port ({ports or 'every port'})"
                )
    return problems


def metrics_problems(deployment: Obj) -> list[str]:
    """Port 9090 named metrics, and the server told to serve metrics there."""
    problems = []
    for container in containers(deployment):
        if not is_server(container):
            continue
        port = container_port(container, "metrics")
        listen = flag(container["args"], "--metrics-listen") or ""
        if port != 9090 or listen.rpartition(":")[2] != "9090":
            problems.append(
                f"{deployment['metadata']['name']}: metrics must be port 9090 named metrics, "
                f"served with --metrics-listen (port {port}, --metrics-listen {listen!r})"
            )
        if flag(container["args"], "--log-format") != "json":
            problems.append(f"{deployment['metadata']['name']}: logs are not --log-format json")
    return problems


# ---------------------------------------------------------------- agent


ACTIVATION_SECRET = "kairos-agent-activation"
"""The Secret the agent DaemonSet registers with: keys ``id`` and ``code``."""
AGENT_SECRETS_IN_PROC = {
    "KAIROS_AGENT_TOKEN": "--token",
    "KAIROS_ACTIVATION_CODE": "--activation-code",
}
"""The agent's secrets by environment variable and flag, both readable in /proc."""


def agent_problems(objs: list[Obj]) -> list[str]:
    """The DaemonSet runs `kairos agent` with a secret only in private files of Secret
    volumes (never the environment or the arguments), either registering through the
    activation of Secret kairos-agent-activation (its id by env, its code a file), named
    after the node and keeping its credential on the node, or with the account's agent
    token and the node name as instance id; its KAIROS_SERVER is the agent Service's DNS
    name and port in its namespace."""
    daemonsets = of_kind(objs, "DaemonSet")
    if len(daemonsets) != 1:
        return [f"expected one agent DaemonSet, found {len(daemonsets)}"]
    daemonset = daemonsets[0]
    namespace = daemonset["metadata"].get("namespace", "default")
    (agent,) = [c for c in containers(daemonset) if c.get("args", [])[:1] == ["agent"]]
    args = agent["args"]
    problems = []
    for variable, option in AGENT_SECRETS_IN_PROC.items():
        if env_value(agent, variable) is not None:
            problems.append(f"{variable} is in the agent's environment, which scripts can read")
        if flag(args, option) is not None:
            problems.append(f"{option} puts a secret in the agent's command line")
    if flag(args, "--activation-code-file") is not None:
        problems += _activation_problems(daemonset, agent)
    elif flag(args, "--token-file") is not None:
        problems += _agent_token_problems(daemonset, agent)
    else:
        problems.append("the agent has neither --activation-code-file nor --token-file")
    server = env_value(agent, "KAIROS_SERVER") or {}
    ref = (server.get("valueFrom") or {}).get("configMapKeyRef")
    if ref is None:
        return [*problems, "KAIROS_SERVER does not come from a ConfigMap"]
    config_maps = [c for c in of_kind(objs, "ConfigMap") if c["metadata"]["name"] == ref["name"]]
    if len(config_maps) != 1:
        return [*problems, f"KAIROS_SERVER: no ConfigMap {ref['name']}"]
    address = config_maps[0].get("data", {}).get(ref["key"], "")
    host, _, port = address.rpartition(":")
    services = {s["metadata"]["name"]: s for s in of_kind(objs, "Service")}
    service = services.get("kairos-agents")
    if service is None:
        return [*problems, "no Service kairos-agents"]
    accepted = {
        f"kairos-agents.{namespace}.svc",
        f"kairos-agents.{namespace}.svc.cluster.local",
    }
    if host not in accepted:
        problems.append(f"KAIROS_SERVER host {host!r} is not the agent Service's DNS name")
    if not port.isdigit() or int(port) not in [p["port"] for p in service["spec"]["ports"]]:
        problems.append(f"KAIROS_SERVER port {port!r} is not a port of Service kairos-agents")
    if service["metadata"].get("namespace", "default") != namespace:
        problems.append("Service kairos-agents is not in the agent's namespace")
    return problems


def agent_tls_problems(objs: list[Obj]) -> list[str]:
    """Where the servers serve TLS (--tls-cert), the agents verify them: --ca-file is a
    file of a mounted ConfigMap (a CA certificate is public; a Secret holding the
    servers' key must not reach every node). Where they serve plaintext, no --ca-file
    (the agent would speak TLS to a plaintext port)."""
    tls = any(
        flag(c.get("args", []), "--tls-cert") is not None
        for d in server_deployments(objs)
        for c in containers(d)
        if is_server(c)
    )
    problems = []
    for daemonset in of_kind(objs, "DaemonSet"):
        volumes = {v["name"]: v for v in pod_spec(daemonset).get("volumes", [])}
        for agent in containers(daemonset):
            ca_file = flag(agent.get("args", []), "--ca-file")
            if not tls:
                if ca_file is not None:
                    problems.append("the agents verify TLS the plaintext servers do not speak")
                continue
            mounted = [
                m
                for m in agent.get("volumeMounts", [])
                if ca_file is not None
                and ca_file.startswith(m["mountPath"].rstrip("/") + "/")
                and "configMap" in volumes.get(m["name"], {})
            ]
            if not mounted:
                problems.append(
                    f"the servers serve TLS but the agent's --ca-file {ca_file!r} "
                    "is not a file of a mounted ConfigMap"
                )
    return problems


def _activation_problems(daemonset: Obj, agent: Obj) -> list[str]:
    """A managed instance: the activation's id from the Secret by env, its code a private
    file of it, the node name as instance name, the state directory on the node."""
    problems = []
    if env_value(agent, "KAIROS_INSTANCE_ID") is not None:
        problems.append(
            "KAIROS_INSTANCE_ID is set: a managed instance's id is the server's "
            "(it excludes --activation-id)"
        )
    activation_id = env_value(agent, "KAIROS_ACTIVATION_ID") or {}
    ref = (activation_id.get("valueFrom") or {}).get("secretKeyRef") or {}
    if (ref.get("name"), ref.get("key")) != (ACTIVATION_SECRET, "id"):
        problems.append(
            f"KAIROS_ACTIVATION_ID does not come from Secret {ACTIVATION_SECRET} key id"
        )
    code_file = flag(agent["args"], "--activation-code-file") or ""
    problems += _secret_file_problems(daemonset, agent, code_file, "activation code")
    mounted = mounted_secret(daemonset, agent, code_file)
    if mounted is not None and (mounted[0]["secret"]["secretName"], mounted[1]) != (
        ACTIVATION_SECRET,
        "code",
    ):
        problems.append(f"--activation-code-file is not Secret {ACTIVATION_SECRET} key code")
    name = flag(agent["args"], "--name") or ""
    variable = name.removeprefix("$(").removesuffix(")")
    if name != f"$({variable})" or _field_ref(agent, variable) != "spec.nodeName":
        problems.append(f"--name {name!r} is not the node name (an env of fieldRef spec.nodeName)")
    state_dir = flag(agent["args"], "--state-dir") or ""
    if not _on_host_path(daemonset, agent, state_dir):
        problems.append(
            f"--state-dir {state_dir!r} is not on a hostPath volume: the instance credential "
            "would not outlive the pod, and each new pod would register again"
        )
    return problems


def _agent_token_problems(daemonset: Obj, agent: Obj) -> list[str]:
    """The account's agent token: the node name as instance id, the token a private file."""
    problems = []
    if _field_ref(agent, "KAIROS_INSTANCE_ID") != "spec.nodeName":
        problems.append("KAIROS_INSTANCE_ID is not the node name (fieldRef spec.nodeName)")
    token_file = flag(agent["args"], "--token-file") or ""
    return problems + _secret_file_problems(daemonset, agent, token_file, "agent token")


def _secret_file_problems(daemonset: Obj, agent: Obj, path: str, what: str) -> list[str]:
    """``path`` must be a file of a Secret volume that only its owner may read."""
    mounted = mounted_secret(daemonset, agent, path)
    if mounted is None:
        return [f"the {what} file {path!r} is not a file of a Secret volume"]
    if (mode := mounted[0]["secret"].get("defaultMode", 0o644)) & 0o077:
        return [f"the {what}'s Secret volume is open to group or others ({mode:04o})"]
    return []


def _field_ref(container: Obj, variable: str) -> str | None:
    """The pod field an env variable of ``container`` comes from, None if from none."""
    entry = env_value(container, variable) or {}
    path: str | None = ((entry.get("valueFrom") or {}).get("fieldRef") or {}).get("fieldPath")
    return path


def _on_host_path(workload: Obj, container: Obj, path: str) -> bool:
    """Whether ``path`` of ``container`` is (under) a mount of a hostPath volume."""
    host_paths = {v["name"] for v in pod_spec(workload).get("volumes", []) if "hostPath" in v}
    return any(
        mount["name"] in host_paths
        and (path + "/").startswith(mount["mountPath"].rstrip("/") + "/")
        for mount in container.get("volumeMounts", [])
    )


HOST_CAPABILITIES = frozenset({"SYS_ADMIN", "SYS_CHROOT", "SYS_PTRACE", "SETUID", "SETGID"})
"""What components/host-access adds to the agent's drop [ALL]: what nsenter needs to join
the node's namespaces and switch to the task's user. docs/security.md lists the same."""


def host_access_problems(daemonset: Obj) -> list[str]:
    """Host mode grants exactly what docs/security.md says, and nothing more: hostPID;
    the node's / (hostPath /, read-write, HostToContainer) at KAIROS_HOST_ROOT;
    HOST_CAPABILITIES added to drop [ALL]; AppArmor unconfined and SELinux spc_t. Not
    privileged, no host network or IPC, no privilege escalation, seccomp
    RuntimeDefault, a read-only root filesystem, and the agent's state outside the
    host root."""
    name = daemonset["metadata"]["name"]
    spec = pod_spec(daemonset)
    problems = [] if spec.get("hostPID") is True else [f"{name}: hostPID is not true"]
    problems += [f"{name}: {host} is set" for host in ("hostIPC", "hostNetwork") if spec.get(host)]
    (agent,) = [c for c in containers(daemonset) if c.get("args", [])[:1] == ["agent"]]
    root = (env_value(agent, "KAIROS_HOST_ROOT") or {}).get("value")
    volumes = {v["name"]: v for v in spec.get("volumes", [])}
    mounts = [m for m in agent.get("volumeMounts", []) if m["mountPath"] == root]
    if root is None or len(mounts) != 1:
        problems.append(f"{name}: KAIROS_HOST_ROOT {root!r} is not the path of one volume mount")
    else:
        (mount,) = mounts
        host_path = volumes.get(mount["name"], {}).get("hostPath") or {}
        if host_path.get("path") != "/":
            problems.append(f"{name}: the host root {root} is not the node's / (hostPath /)")
        if mount.get("readOnly") or mount.get("mountPropagation") != "HostToContainer":
            problems.append(
                f"{name}: the host root {root} is not mounted read-write with HostToContainer"
            )
        state_dir = flag(agent.get("args", []), "--state-dir") or ""
        if (state_dir + "/").startswith(root.rstrip("/") + "/"):
            problems.append(f"{name}: --state-dir {state_dir} is under the host root {root}")
    sc = agent.get("securityContext") or {}
    capabilities = sc.get("capabilities") or {}
    added = frozenset(capabilities.get("add", []))
    if "ALL" not in capabilities.get("drop", []) or added != HOST_CAPABILITIES:
        problems.append(
            f"{name}: capabilities add {sorted(added)} to drop {capabilities.get('drop')}, "
            f"not exactly {sorted(HOST_CAPABILITIES)} to drop [ALL]"
        )
    if sc.get("privileged"):
        problems.append(f"{name}: privileged")
    if sc.get("allowPrivilegeEscalation") is not False:
        problems.append(f"{name}: allowPrivilegeEscalation is not false")
    if sc.get("readOnlyRootFilesystem") is not True:
        problems.append(f"{name}: readOnlyRootFilesystem is not true")
    seccomp = sc.get("seccompProfile", (spec.get("securityContext") or {}).get("seccompProfile"))
    if (seccomp or {}).get("type") != "RuntimeDefault":
        problems.append(f"{name}: seccompProfile is not RuntimeDefault")
    if (sc.get("appArmorProfile") or {}).get("type") != "Unconfined":
        problems.append(f"{name}: AppArmor confines the agent to its own processes' namespaces")
    if (sc.get("seLinuxOptions") or {}).get("type") != "spc_t":
        problems.append(f"{name}: SELinux confines the agent to its own processes' namespaces")
    return problems


METADATA_ADDRESS = ipaddress.ip_address("169.254.169.254")
"""The cloud metadata service: it hands out the node's credentials to whoever asks."""


def agent_egress_problems(objs: list[Obj]) -> list[str]:
    """The agent pods may open connections only to the dispatcher pods (on a port
    they serve) and to DNS: a script run in the agent's pod reaches neither the cloud
    metadata address nor any other pod. An ipBlock (dispatchers outside the cluster)
    must leave out the metadata address."""
    daemonsets = of_kind(objs, "DaemonSet")
    if len(daemonsets) != 1:
        return [f"expected one agent DaemonSet, found {len(daemonsets)}"]
    labels = pod_labels(daemonsets[0])
    dispatchers = [d for d in server_deployments(objs) if "dispatcher" in _deployment_roles(d)]
    policies = [
        p
        for p in of_kind(objs, "NetworkPolicy")
        if "Egress" in p["spec"]["policyTypes"]
        and selects(p["spec"]["podSelector"].get("matchLabels", {}), labels)
    ]
    if not policies:
        return ["the agent pods have no egress policy: they may connect anywhere"]
    problems = []
    for policy in policies:
        name = policy["metadata"]["name"]
        for rule in policy["spec"].get("egress", []):
            peers = rule.get("to")
            if not peers:
                problems.append(f"NetworkPolicy {name}: an egress rule allows every destination")
            for peer in peers or []:
                problems += _agent_peer_problems(name, peer, rule, dispatchers)
    return problems


def _deployment_roles(deployment: Obj) -> frozenset[str]:
    return frozenset().union(*(roles(c) for c in containers(deployment) if is_server(c)))


def _agent_peer_problems(policy: str, peer: Obj, rule: Obj, dispatchers: list[Obj]) -> list[str]:
    if "ipBlock" in peer:
        block = ipaddress.ip_network(peer["ipBlock"]["cidr"])
        excepted = [ipaddress.ip_network(e) for e in peer["ipBlock"].get("except", [])]
        if METADATA_ADDRESS in block and not any(METADATA_ADDRESS in e for e in excepted):
            return [f"NetworkPolicy {policy}: ipBlock {block} reaches the cloud metadata address"]
        return []
    selector = (peer.get("podSelector") or {}).get("matchLabels", {})
    if selector.get("k8s-app") == "kube-dns":
        ports = {port.get("port") for port in rule.get("ports", [])}
        return [] if ports == {53} else [f"NetworkPolicy {policy}: DNS on ports {ports}"]
    selected = [d for d in dispatchers if selects(selector, pod_labels(d))]
    if "podSelector" not in peer or not selector or not selected:
        return [f"NetworkPolicy {policy}: egress to {peer} is not to the dispatchers"]
    if not all(
        any(container_port(c, port.get("port")) for c in containers(d))
        for d in selected
        for port in rule.get("ports", [{}])
    ):
        return [f"NetworkPolicy {policy}: a port is not one the dispatchers serve"]
    return []


# ---------------------------------------------------------------- prod availability


def availability_problems(objs: list[Obj]) -> list[str]:
    """Prod: a PDB for every server Deployment, HPAs for api and dispatcher."""
    problems = []
    pdbs = of_kind(objs, "PodDisruptionBudget")
    for deployment in server_deployments(objs):
        name = deployment["metadata"]["name"]
        covering = [
            p
            for p in pdbs
            if selects(p["spec"]["selector"].get("matchLabels", {}), pod_labels(deployment))
        ]
        if len(covering) != 1:
            problems.append(f"{name}: {len(covering)} PodDisruptionBudgets select it, expected 1")
        elif (
            covering[0]["spec"].get("maxUnavailable", 0) == 0
            and "minAvailable" not in (covering[0]["spec"])
        ):
            problems.append(f"{name}: its PodDisruptionBudget allows no disruption")
    hpas = {
        h["spec"]["scaleTargetRef"]["name"]: h for h in of_kind(objs, "HorizontalPodAutoscaler")
    }
    for role in ("api", "dispatcher"):
        for deployment in _serving(objs, role):
            name = deployment["metadata"]["name"]
            hpa = hpas.get(name)
            if hpa is None or hpa["spec"]["scaleTargetRef"]["kind"] != "Deployment":
                problems.append(f"{name}: no HorizontalPodAutoscaler")
                continue
            if hpa["spec"].get("minReplicas", 1) < 2:
                problems.append(f"{name}: its HPA may scale below 2 replicas")
            if "replicas" in deployment["spec"]:
                problems.append(f"{name}: sets spec.replicas, which its HPA owns")
    return problems


# ---------------------------------------------------------------- network policies


def network_policy_problems(objs: list[Obj]) -> list[str]:
    """Every named port a policy allows exists on the pods it selects, and every
    server pod is covered by ingress and database egress policies."""
    problems = []
    policies = of_kind(objs, "NetworkPolicy")
    for policy in policies:
        selector = policy["spec"]["podSelector"].get("matchLabels", {})
        selected = [w for w in workloads(objs) if selects(selector, pod_labels(w))]
        for rule in policy["spec"].get("ingress", []):
            for port in rule.get("ports", []):
                if isinstance(port.get("port"), str):
                    for workload in selected:
                        if not any(container_port(c, port["port"]) for c in containers(workload)):
                            problems.append(
                                f"NetworkPolicy {policy['metadata']['name']}: port "
                                f"{port['port']} is not a port of {workload['metadata']['name']}"
                            )
    for workload in [*server_deployments(objs), *of_kind(objs, "Job")]:
        labels = pod_labels(workload)
        egress = [
            p
            for p in policies
            if "Egress" in p["spec"]["policyTypes"]
            and selects(p["spec"]["podSelector"].get("matchLabels", {}), labels)
        ]
        if not any(
            port.get("port") == 5432
            for p in egress
            for rule in p["spec"].get("egress", [])
            for port in rule.get("ports", [])
        ):
            problems.append(f"{workload['metadata']['name']}: no egress policy to PostgreSQL")
    return problems
