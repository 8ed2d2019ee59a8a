"""``kairos agent``: the command line of the agent and the wiring of its parts."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import logging
import os
import signal
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from agent.containers.runtime import DEFAULT_CRI_SOCKETS, DEFAULT_DOCKER_SOCKET
from agent.handover import (
    ACTIVATION_CODE,
    TOKEN,
    Secret,
    given_on_command_line,
    reexec_without,
    take_handed_over,
)
from agent.servers import parse_servers
from agent.tls import ClientTls, ClientTlsError, add_server_trust_flags
from agent.tokens import (
    FixedToken,
    TokenError,
    TokenFile,
    TokenSource,
    read_secret_file,
    warn_if_open,
)
from scheduler.domain.errors import KairosError
from scheduler.domain.tags import Tag, check_tags, parse_tag

if TYPE_CHECKING:
    from agent.executions import Executions
    from agent.registration import Activation

# The agent's parts (gRPC, protobuf) are imported when the agent runs, not when
# the ``kairos`` command line is built: ``kairos --help`` stays fast.

log = logging.getLogger(__name__)

PRUNE_INTERVAL = 3600  # seconds between two prunes of old execution ids
MANAGED_STATE_DIR = "managed"
"""The default state directory (under ~/.kairos-agent) of an agent without --instance-id:
a managed instance's, whose id the server gives when it registers."""


@dataclasses.dataclass(frozen=True, kw_only=True)
class Options:
    """Everything an agent needs to run, resolved from flags and environment."""

    servers: tuple[str, ...]
    instance_id: str
    """Empty for a managed instance: its id is in its credential (``agent.registration``)."""
    name: str | None
    token: TokenSource
    activation: Activation | None
    state_dir: Path
    boot_id_file: Path
    time_zone: str
    power_hook: str | None
    tls: ClientTls = dataclasses.field(default_factory=ClientTls)
    tags: tuple[Tag, ...] = ()
    """The instance's tags reported in every Hello (``--tag``), checked already."""
    host_root: Path | None = None
    """Host mode (``--host-root``): where the node's root is mounted, checked already;
    scripts run in the node's namespaces as its users (``agent.host_root``)."""
    docker_socket: Path = DEFAULT_DOCKER_SOCKET
    """Docker Engine's API socket, for containers without a CRI prefix (``--docker-socket``)."""
    cri_sockets: tuple[Path, ...] = DEFAULT_CRI_SOCKETS
    """CRI sockets asked in turn, for ``containerd://`` and ``cri-o://`` ids (``--cri-socket``)."""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``agent`` subcommand to the ``kairos`` command line."""
    parser = subparsers.add_parser(
        "agent",
        help="run an agent that executes invocations on this machine",
        description=(
            "Connect to a Kairos dispatcher and run the scripts it sends as real processes. "
            "Results wait on disk until the dispatcher has stored them."
        ),
    )
    env = os.environ
    parser.add_argument(
        "--server",
        default=env.get("KAIROS_SERVER", "127.0.0.1:50051"),
        type=_servers,
        metavar="HOST:PORT[,HOST:PORT...]",
        help="dispatcher address HOST:PORT, or several as HOST:PORT,HOST:PORT,... tried in turn "
        "from the first whenever a stream ends (env KAIROS_SERVER; default %(default)s)",
    )
    parser.add_argument(
        "--instance-id",
        default=env.get("KAIROS_INSTANCE_ID"),
        help="id of this instance, e.g. i-web-1 (required; env KAIROS_INSTANCE_ID)",
    )
    parser.add_argument(
        "--activation-id",
        default=env.get("KAIROS_ACTIVATION_ID"),
        help="register this machine as a managed instance with this activation, once; then "
        "it connects with the credential kept in the state directory (env KAIROS_ACTIVATION_ID)",
    )
    parser.add_argument(
        ACTIVATION_CODE.file_flag,
        type=Path,
        default=env.get("KAIROS_ACTIVATION_CODE_FILE") or None,
        metavar="FILE",
        help="file holding the activation's code, for --activation-id, best mode 0600 "
        "(env KAIROS_ACTIVATION_CODE_FILE)",
    )
    parser.add_argument(
        ACTIVATION_CODE.flag,
        default=env.get(ACTIVATION_CODE.env),
        help=f"the activation's code itself (env {ACTIVATION_CODE.env}); the agent re-executes "
        f"itself without it so that scripts cannot read it from /proc: prefer "
        f"{ACTIVATION_CODE.file_flag}",
    )
    parser.add_argument(
        "--name",
        help="instance name shown to users (default: the activation's instance name, "
        "else the instance id)",
    )
    parser.add_argument(
        "--token-file",
        type=Path,
        default=env.get("KAIROS_AGENT_TOKEN_FILE") or None,
        metavar="FILE",
        help="file holding the agent token sent as 'authorization: Bearer', read again before "
        "each connection, best mode 0600 (env KAIROS_AGENT_TOKEN_FILE)",
    )
    parser.add_argument(
        TOKEN.flag,
        default=env.get(TOKEN.env),
        help=f"the agent token itself (env {TOKEN.env}); the agent re-executes itself without "
        f"it so that scripts cannot read it from /proc: prefer {TOKEN.file_flag}",
    )
    add_server_trust_flags(parser)
    parser.add_argument(
        "--tls-cert",
        type=Path,
        metavar="FILE",
        help="PEM client certificate for a server with --tls-client-ca (mutual TLS; "
        "with --tls-key and --ca-file); read again at each reconnection",
    )
    parser.add_argument(
        "--tls-key", type=Path, metavar="FILE", help="PEM private key of --tls-cert"
    )
    parser.add_argument(
        "--state-dir",
        type=Path,
        help="where accepted tasks, output, results and a managed instance's credential are "
        f"kept (default: ~/.kairos-agent/INSTANCE_ID, or ~/.kairos-agent/{MANAGED_STATE_DIR} "
        "without --instance-id)",
    )
    parser.add_argument(
        "--boot-id-file",
        type=Path,
        default=Path("/proc/sys/kernel/random/boot_id"),
        help="file holding the boot id (default %(default)s)",
    )
    parser.add_argument(
        "--time-zone",
        help="IANA time zone of this instance (default: TZ, then /etc/localtime, the node's "
        "with --host-root)",
    )
    parser.add_argument(
        "--tag",
        action="append",
        dest="tags",
        type=parse_tag,
        default=[parse_tag(t) for t in env.get("KAIROS_TAGS", "").split(",") if t.strip()],
        metavar="KEY=VALUE",
        help="a tag of this instance, reported in every Hello (replacing the last ones), "
        "repeatable; selectors (kairos run -l) match it; a tag set with 'kairos tag' wins "
        "over it (env KAIROS_TAGS: KEY=VALUE,KEY=VALUE...)",
    )
    parser.add_argument(
        "--host-root",
        type=Path,
        default=env.get("KAIROS_HOST_ROOT") or None,
        metavar="DIR",
        help="host mode, for an agent in a DaemonSet pod: the node's / is mounted at DIR "
        "(with its /proc and hostPID); scripts run in the namespaces of the node's PID 1 "
        "(DIR/proc/1/ns) as users of DIR/etc/passwd (env KAIROS_HOST_ROOT)",
    )
    parser.add_argument(
        "--docker-socket",
        type=Path,
        default=Path(env["KAIROS_DOCKER_SOCKET"]) if env.get("KAIROS_DOCKER_SOCKET") else None,
        metavar="PATH",
        help="Docker Engine's API socket, to run in containers named without a runtime "
        "prefix or with docker:// (env KAIROS_DOCKER_SOCKET; default "
        f"{DEFAULT_DOCKER_SOCKET}, under --host-root in host mode)",
    )
    parser.add_argument(
        "--cri-socket",
        action="append",
        dest="cri_sockets",
        type=_paths,
        metavar="PATH[,PATH...]",
        help="a CRI socket (containerd, CRI-O), for containerd:// and cri-o:// ids and names "
        "Docker does not know; repeatable, asked in turn (env KAIROS_CRI_SOCKET: PATH,PATH...; "
        f"default {','.join(map(str, DEFAULT_CRI_SOCKETS))}, under --host-root in host mode)",
    )
    parser.add_argument(
        "--power-hook",
        metavar="CMD",
        help="command run as 'CMD poweroff' or 'CMD reboot' after a script exits 193 or 194 "
        "(default: only log)",
    )
    parser.add_argument(
        "--log-level",
        default=env.get("KAIROS_LOG_LEVEL", "INFO"),
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="(env KAIROS_LOG_LEVEL; default %(default)s)",
    )
    parser.add_argument(
        "--log-format",
        choices=["text", "json"],
        default=env.get("KAIROS_LOG_FORMAT", "text"),
        help="text for people, json for log collectors (env KAIROS_LOG_FORMAT)",
    )
    parser.set_defaults(func=run)


def _paths(text: str) -> tuple[Path, ...]:
    """A comma-separated list of paths (``--cri-socket``, ``KAIROS_CRI_SOCKET``)."""
    return tuple(Path(part.strip()) for part in text.split(",") if part.strip())


def _runtime_sockets(args: argparse.Namespace) -> tuple[Path, tuple[Path, ...]]:
    """Docker's socket and the CRI sockets: the flags given, else the environment's, else
    the defaults — in host mode the node's, under the host root."""

    def default(path: Path) -> Path:
        return path if args.host_root is None else args.host_root / path.relative_to("/")

    docker = args.docker_socket or default(DEFAULT_DOCKER_SOCKET)
    if args.cri_sockets:
        return docker, tuple(path for given in args.cri_sockets for path in given)
    cri = _paths(os.environ.get("KAIROS_CRI_SOCKET", ""))
    return docker, cri or tuple(default(path) for path in DEFAULT_CRI_SOCKETS)


def _servers(text: str) -> tuple[str, ...]:
    """``--server`` as addresses; argparse reports a bad one as a usage error (exit 2)."""
    try:
        return parse_servers(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def run(args: argparse.Namespace) -> int:
    """Run the agent from parsed ``kairos agent`` arguments until SIGTERM or SIGINT."""
    from scheduler.observability.logs import LogFormat, configure

    configure(args.log_level, LogFormat(args.log_format))
    try:
        token, activation_code = _secrets(args)
    except TokenError as error:
        print(f"kairos agent: {error}", file=sys.stderr)
        return 2
    from agent.identity import LOCALTIME, detect_time_zone
    from agent.registration import (
        Activation,
        CredentialError,
        RegistrationRefused,
        load_credential,
    )
    from agent.spool import SpoolLocked, safe_name

    if bool(args.activation_id) != bool(activation_code):
        return _usage("--activation-id and --activation-code (or its file) go together")
    if args.instance_id and args.activation_id:
        return _usage(
            "--instance-id and --activation-id exclude each other: "
            "a managed instance's id is given when it registers"
        )
    state_dir = args.state_dir or Path.home() / ".kairos-agent" / safe_name(
        args.instance_id or MANAGED_STATE_DIR
    )
    try:
        registered = args.instance_id or args.activation_id or load_credential(state_dir)
    except CredentialError as error:
        return _stopped(error)
    if not registered:
        return _usage(
            "--instance-id (or KAIROS_INSTANCE_ID) is required, or --activation-id and "
            f"--activation-code to register this machine (no credential in {state_dir})"
        )
    try:
        check_tags(args.tags, "--tag")
    except KairosError as error:
        return _usage(error.message)
    try:
        tls = ClientTls.from_args(args)
        tls.credentials()  # the files must be readable now; they are read again per stream
    except ClientTlsError as error:
        return _usage(str(error))
    localtime = LOCALTIME
    if args.host_root is not None:
        from agent.host_root import HostRoot, HostRootError

        host = HostRoot(args.host_root)
        try:
            log.info("host mode: %s", host.check())
        except HostRootError as error:
            return _usage(str(error))
        localtime = host.localtime
    docker_socket, cri_sockets = _runtime_sockets(args)
    options = Options(
        servers=args.server,
        instance_id=args.instance_id or "",
        name=args.name or None,
        token=token,
        activation=(
            Activation(activation_id=args.activation_id, code=activation_code)
            if args.activation_id and activation_code
            else None
        ),
        state_dir=state_dir,
        boot_id_file=args.boot_id_file,
        time_zone=detect_time_zone(args.time_zone, os.environ, localtime),
        power_hook=args.power_hook,
        tls=tls,
        tags=tuple(args.tags),
        host_root=args.host_root,
        docker_socket=docker_socket,
        cri_sockets=cri_sockets,
    )
    try:
        asyncio.run(_serve_until_signalled(options))
    # ``identity`` reads the credential again, under the state directory's lock.
    except (SpoolLocked, RegistrationRefused, IdentityMismatch, CredentialError) as error:
        return _stopped(error)
    return 0


def _usage(message: str) -> int:
    print(f"kairos agent: {message}", file=sys.stderr)
    return 2


def _stopped(error: Exception) -> int:
    """Exit 1 with one line: not a wrong flag (2) but a state the agent cannot go on from."""
    print(f"kairos agent: {error}", file=sys.stderr)
    return 1


class IdentityMismatch(Exception):
    """--instance-id names another instance than the credential in the state directory."""


@dataclasses.dataclass(frozen=True)
class Identity:
    """Which instance this agent speaks for, its name, and the bearer token that says so."""

    instance_id: str
    name: str
    token: TokenSource = dataclasses.field(repr=False)


async def identity(options: Options) -> Identity:
    """The instance this agent is: a managed instance's credential, kept in the state
    directory (registered first with ``options.activation`` if there is none yet), or
    ``--instance-id`` with the account's agent token."""
    from agent.registration import load_credential, register_and_keep

    kept = load_credential(options.state_dir)
    if kept is None and options.activation is not None:
        kept = await register_and_keep(
            options.state_dir, options.servers, options.activation, tls=options.tls
        )
    elif kept is not None and options.activation is not None:
        log.info(
            "registered already as %s: --activation-id and --activation-code are not needed "
            "any more and are ignored",
            kept.instance_id,
        )
    if kept is None:
        return Identity(options.instance_id, options.name or options.instance_id, options.token)
    if options.instance_id and options.instance_id != kept.instance_id:
        raise IdentityMismatch(
            f"--instance-id {options.instance_id} is not the managed instance "
            f"{kept.instance_id} registered in {options.state_dir}"
        )
    if options.token.current() is not None:
        log.info(
            "connecting with the instance credential of %s; the agent token is ignored",
            kept.instance_id,
        )
    name = options.name or kept.instance_name or kept.instance_id
    return Identity(kept.instance_id, name, FixedToken(kept.credential))


def _secrets(args: argparse.Namespace) -> tuple[TokenSource, str | None]:
    """The agent token and the activation code, re-executing the agent if either sits
    in /proc (``agent.handover``).

    ``run`` is the entry point of an agent process: this may replace the process image.
    """
    # Each secret three ways: a file, the environment or a flag (both in /proc), or
    # handed over by the image before the re-execution.
    files: dict[Secret, Path | None] = {
        TOKEN: args.token_file,
        ACTIVATION_CODE: args.activation_code_file,
    }
    in_proc = {
        secret: value
        for secret, value in ((TOKEN, args.token), (ACTIVATION_CODE, args.activation_code))
        if value
    }
    for secret in in_proc:
        if files[secret]:
            raise TokenError(
                f"give {secret.what} one way: {secret.file_flag}, {secret.flag} or {secret.env}"
            )
        log.warning(
            "%s came from %s: re-executing without it, so that scripts cannot read it "
            "from /proc; use %s instead",
            secret.what,
            secret.flag if given_on_command_line(secret, sys.orig_argv) else secret.env,
            secret.file_flag,
        )
    if in_proc:
        reexec_without(in_proc, sys.orig_argv, os.environ)
    token = take_handed_over(TOKEN, os.environ)
    code = take_handed_over(ACTIVATION_CODE, os.environ)
    if code is None and args.activation_code_file:
        code = read_secret_file(args.activation_code_file, "activation code file")
        warn_if_open(args.activation_code_file, "activation code file")
    if token is not None:
        return FixedToken(token), code
    if args.token_file:
        return TokenFile(args.token_file), code
    return FixedToken(None), code


async def _serve_until_signalled(options: Options) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await serve(options, stop)


async def serve(options: Options, stop: asyncio.Event) -> None:
    """Recover the spool, then stay connected to the dispatcher until ``stop`` is set.

    On the way out running scripts are killed; the next start reports them
    ``ClientRestarted`` with the output they had produced.
    """
    import agent
    from agent.connection import Connection
    from agent.containers.locate import Locator
    from agent.executions import Executions
    from agent.host_root import HostRoot
    from agent.identity import os_type, read_boot_id
    from agent.machine import LocalMachine
    from agent.outbox import Outbox
    from agent.power import PowerHook
    from agent.runner import Runner
    from agent.spool import Spool
    from kairos.v1 import agent_pb2

    spool = Spool(options.state_dir)
    spool.lock()
    # Under the state directory's lock: two agents never register one directory twice.
    # A registration retries an unreachable server for ever: a stop ends it too.
    registering = asyncio.ensure_future(identity(options))
    stopping = asyncio.ensure_future(stop.wait())
    await asyncio.wait({registering, stopping}, return_when=asyncio.FIRST_COMPLETED)
    stopping.cancel()
    if not registering.done():
        registering.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await registering
        log.info("stopping before the instance was registered")
        spool.unlock()
        return
    me = registering.result()
    boot_id = read_boot_id(options.boot_id_file)
    outbox = Outbox()
    machine = LocalMachine() if options.host_root is None else HostRoot(options.host_root)
    executions = Executions(
        spool,
        Runner(
            spool.scripts,
            machine=machine,
            containers=Locator.of_sockets(options.docker_socket, options.cri_sockets),
        ),
        PowerHook(options.power_hook),
        outbox,
        boot_id=boot_id,
        clock=_now,
    )
    executions.recover()
    hello = agent_pb2.Hello(
        instance_id=me.instance_id,
        instance_name=me.name,
        os_type=os_type(),
        agent_version=agent.__version__,
        time_zone=options.time_zone,
        boot_id=boot_id,
        tags=[{"key": t.key, "value": t.value} for t in options.tags],
    )
    connection = Connection(
        options.servers, me.token, hello, executions, outbox, clock=_now, tls=options.tls
    )
    log.info(
        "agent %s (version %s) serving from %s, dispatcher %s",
        me.instance_id,
        agent.__version__,
        options.state_dir,
        ",".join(options.servers),
    )
    jobs = [
        asyncio.create_task(connection.run_forever()),
        asyncio.create_task(_prune_forever(executions)),
    ]
    try:
        await stop.wait()
        log.info("stopping")
    finally:
        for job in jobs:
            job.cancel()
        for job in jobs:
            with contextlib.suppress(asyncio.CancelledError):
                await job
        await executions.close()
        spool.unlock()


async def _prune_forever(executions: Executions) -> None:
    while True:
        executions.prune()
        await asyncio.sleep(PRUNE_INTERVAL)


def _now() -> datetime:
    return datetime.now(UTC)
