"""The peer of a call as its TLS handshake showed it: did it present a client certificate?"""

from __future__ import annotations

from scheduler.domain.codes import RefusalCode
from scheduler.domain.errors import ErrorKind, KairosError
from scheduler.rpc.context import RpcContext

NO_CLIENT_CERTIFICATE = KairosError(
    kind=ErrorKind.UNAUTHENTICATED,
    code=RefusalCode.UNAUTHENTICATED_CLIENT_CERTIFICATE,
    message="agents must present a client certificate signed by the server's --tls-client-ca: "
    "connect to its --agent-listen port with kairos agent --tls-cert and --tls-key",
)


def has_client_certificate(context: RpcContext) -> bool:
    """True when the call came over TLS with a client certificate gRPC verified.

    gRPC puts the certificate in the auth context only after checking it against the
    port's client CA; a port that asks for none (``--listen``) never has one.
    """
    auth = context.auth_context()
    secured = b"ssl" in auth.get("transport_security_type", ())
    return secured and bool(auth.get("x509_pem_cert"))
