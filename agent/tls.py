"""TLS of a connection to a Kairos server, for the agent and the operator CLI: the CA that
vouches for the server, the name its certificate must carry, and the agent's client
certificate (mutual TLS). Without a CA file the channel is plaintext.

Light at import (the ``kairos`` parser imports it): gRPC is imported when a channel is made.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import grpc


class ClientTlsError(ValueError):
    """A TLS file that cannot be read; the message names its flag."""


@dataclass(frozen=True, kw_only=True)
class ClientTls:
    """What a client needs to speak TLS to a server; the files are read for each channel."""

    ca_file: Path | None = None
    server_name: str | None = None
    cert_file: Path | None = None
    key_file: Path | None = None

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> ClientTls:
        """The TLS of parsed flags (``add_server_trust_flags``, and ``--tls-cert/--tls-key``).

        Raises ``ClientTlsError`` for a combination that cannot work.
        """
        tls = cls(
            ca_file=args.ca_file,
            server_name=args.tls_server_name,
            cert_file=getattr(args, "tls_cert", None),
            key_file=getattr(args, "tls_key", None),
        )
        if tls.ca_file is None and (tls.server_name or tls.cert_file or tls.key_file):
            raise ClientTlsError(
                "--tls-server-name, --tls-cert and --tls-key need --ca-file (env KAIROS_CA_FILE)"
            )
        if (tls.cert_file is None) != (tls.key_file is None):
            raise ClientTlsError("--tls-cert and --tls-key go together: give both or neither")
        return tls

    def channel_options(self) -> list[tuple[str, str]]:
        """The name to check the server's certificate against, when it is not the address's."""
        return [("grpc.ssl_target_name_override", self.server_name)] if self.server_name else []

    def channel(
        self, address: str, options: Sequence[tuple[str, int | str]] = ()
    ) -> grpc.aio.Channel:
        """A channel to ``address``: TLS from the files as they are now, or plaintext.

        Raises ``ClientTlsError`` for a file that cannot be read.
        """
        import grpc

        credentials = self.credentials()
        if credentials is None:
            return grpc.aio.insecure_channel(address, options=options)
        options = [*options, *self.channel_options()]
        return grpc.aio.secure_channel(address, credentials, options=options)

    def credentials(self) -> grpc.ChannelCredentials | None:
        """Channel credentials from the files as they are now; None for plaintext.

        Called for each new channel, so certificates rotated on disk are used from the
        next connection on. Raises ``ClientTlsError`` for a file that cannot be read.
        """
        if self.ca_file is None:
            return None
        import grpc

        ca = _read(self.ca_file, "--ca-file")
        if self.cert_file is None or self.key_file is None:
            return grpc.ssl_channel_credentials(root_certificates=ca)
        return grpc.ssl_channel_credentials(
            root_certificates=ca,
            private_key=_read(self.key_file, "--tls-key"),
            certificate_chain=_read(self.cert_file, "--tls-cert"),
        )


def add_server_trust_flags(parser: argparse._ActionsContainer) -> None:
    """``--ca-file`` and ``--tls-server-name``: how a client checks the server it talks to."""
    parser.add_argument(
        "--ca-file",
        type=Path,
        metavar="FILE",
        default=os.environ.get("KAIROS_CA_FILE") or None,
        help="PEM CA certificates that vouch for the server: connect with TLS "
        "(env KAIROS_CA_FILE; without it, plaintext)",
    )
    parser.add_argument(
        "--tls-server-name",
        metavar="NAME",
        help="the name the server's certificate must carry, when the address differs from it",
    )


def _read(path: Path, flag: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as error:
        raise ClientTlsError(f"{flag} {path}: cannot read it ({error.strerror})") from None
