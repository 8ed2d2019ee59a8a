"""The limits of SPEC §3 as data, and the pure checks that enforce them."""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass

from scheduler.domain.codes import RefusalCode
from scheduler.domain.errors import invalid

KIB = 1024


@dataclass(kw_only=True, frozen=True)
class Limits:
    """Every configurable limit; the defaults are SPEC §3's."""

    max_commands: int = 100
    max_daily_executions: int = 5000
    max_instances_per_call: int = 50
    max_instances: int = 10_000
    """Instances (agents that ever connected) per account and region."""
    max_saved_content: int = 18 * KIB
    """Base64-encoded size of a saved command's content (and of it rendered)."""
    max_unsaved_content: int = 24 * KIB
    """Base64-encoded size of a RunCommand script that is not kept."""
    max_output: int = 24 * KIB
    default_timeout: int = 3600
    min_timeout: int = 10
    max_timeout: int = 86_400
    max_parameters: int = 20
    delivery_timeout: int = 60
    """Seconds an execution may wait for its agent before it ends Aborted."""
    offline_after: int = 120
    """Seconds without a heartbeat after which an agent counts as offline."""
    max_watches: int = 100
    """Concurrent WatchInvocation streams per account and region, on each server replica."""
    agent_lost_after: int = 120
    """Seconds without a heartbeat after which an agent's open executions end Error."""
    report_grace: int = 60
    """Seconds past an execution's timeout within which its agent must report its end
    (the agent kills it at the timeout); later the server ends it ``Timeout`` itself."""
    queue_wait: int = 86_400
    """Seconds an execution its agent acknowledged may wait there for a free slot before the
    server ends it ``Timeout``: an agent that takes work and never starts it (a bug, a
    hostile agent) holds it no longer. A slot frees at the latest when a running script's
    timeout, at most ``max_timeout``, passes."""
    misfire_grace: int = 60
    """Seconds after its instant within which a fire missed during downtime still runs."""
    live_output_rate: int = 64 * KIB
    """Bytes a second of one execution's output relayed live to watchers; the rest is skipped."""
    # Tags (issue 12).
    max_instances_per_selector: int = 1000
    """Instances a selector (``resource_tags``) may match when an invocation is created or
    a one-time run resolves it; past it the call is refused."""
    # Retention (issue 12, item 6).
    retention_days: int = 28
    """Days a finished execution and its output are kept (Cloud Assistant's four weeks);
    a periodic or boot target keeps its latest execution while its invocation lives."""


MAX_NAME = 128
MAX_DESCRIPTION = 512
MAX_WORKING_DIR = 200
MAX_USERNAME = 255
MAX_FREQUENCY = 256
"""Characters of a frequency expression (the column's size)."""
MAX_ERROR_CODE = 64
"""Characters of an execution's error code (the column's size); longer reports are cut."""
MAX_ERROR_INFO = 4096
"""Characters of an execution's error message kept from an agent's report."""
MAX_OUTPUT_OFFSET = 2**48
"""Largest byte offset a live output chunk may claim (256 TiB: no script prints more)."""
MAX_CLIENT_TOKEN = 64
IDEMPOTENCY_HOURS = 24
"""Hours a client_token is remembered; an older one counts as never used."""
MAX_PAGE = 50
DEFAULT_PAGE = 10

_PRINTABLE_ASCII = re.compile(r"[\x21-\x7e]+")


def require_id(field_name: str, value: str) -> str:
    """Return ``value``, a required id; an empty one is refused, naming the field."""
    if not value.strip():
        raise invalid(RefusalCode.MISSING_PARAMETER, field_name, f"{field_name} is required")
    return value


def check_length(
    code: RefusalCode, field_name: str, value: str, limit: int, *, required: bool = False
) -> str:
    """Return ``value`` if it is within ``limit`` characters (and non-empty when required)."""
    if required and not value.strip():
        raise invalid(code, field_name, f"{field_name} is required")
    if len(value) > limit:
        raise invalid(
            code,
            field_name,
            f"{field_name} is {len(value)} characters long; the limit is {limit}",
        )
    return value


def check_timeout(limits: Limits, timeout: int, field_name: str = "timeout") -> int:
    """Return the effective timeout in seconds: 0 means the default."""
    if timeout == 0:
        return limits.default_timeout
    if not limits.min_timeout <= timeout <= limits.max_timeout:
        raise invalid(
            RefusalCode.INVALID_PARAM_TIMEOUT,
            field_name,
            f"{field_name} must be between {limits.min_timeout} and {limits.max_timeout} "
            f"seconds, got {timeout}",
        )
    return timeout


def check_client_token(token: str) -> str:
    """Return a valid idempotency token (empty means none)."""
    return check_token(RefusalCode.INVALID_PARAM_CLIENT_TOKEN, "client_token", token)


def check_token(code: RefusalCode, field_name: str, token: str) -> str:
    """Return ``token``, a client-chosen key that makes a call idempotent (empty means
    none): at most ``MAX_CLIENT_TOKEN`` printable ASCII characters, no spaces."""
    if len(token) > MAX_CLIENT_TOKEN or (token and not _PRINTABLE_ASCII.fullmatch(token)):
        raise invalid(
            code,
            field_name,
            f"{field_name} must be at most {MAX_CLIENT_TOKEN} printable ASCII characters",
        )
    return token


def check_page_size(max_results: int) -> int:
    """Return the page size: 0 means the default, otherwise 1 to 50."""
    if max_results == 0:
        return DEFAULT_PAGE
    if not 1 <= max_results <= MAX_PAGE:
        raise invalid(
            RefusalCode.INVALID_PARAM_MAX_RESULTS,
            "max_results",
            f"max_results must be between 1 and {MAX_PAGE}, got {max_results}",
        )
    return max_results


def check_instance_ids(
    limits: Limits,
    instance_ids: list[str],
    *,
    required: bool = True,
    field: str = "instance_ids",
) -> list[str]:
    """Return the distinct instance ids in request order, within the per-call limit;
    a refusal names ``field``, the request's own name for the list."""
    distinct = list(dict.fromkeys(i.strip() for i in instance_ids))
    if any(not i for i in distinct):
        raise invalid(RefusalCode.INVALID_PARAM_INSTANCE_ID, field, f"{field} has an empty id")
    if required and not distinct:
        raise invalid(RefusalCode.INVALID_PARAM_INSTANCE_ID, field, f"{field} is required")
    if len(distinct) > limits.max_instances_per_call:
        raise invalid(
            RefusalCode.INVALID_PARAM_INSTANCE_ID,
            field,
            f"{len(distinct)} instances given; the limit per call is "
            f"{limits.max_instances_per_call}",
        )
    return distinct


def decode_content(
    content: str,
    *,
    base64_encoded: bool,
    what: str = "command_content",
    code: RefusalCode = RefusalCode.INVALID_PARAM_COMMAND_CONTENT,
    encoding: str = "content_encoding is BASE64",
) -> bytes:
    """Return the bytes of a request's required content field ``what`` (a script's
    ``command_content``, a file's ``content``), decoded when ``base64_encoded`` (the
    request's ``encoding`` says so)."""
    if not content:
        raise invalid(code, what, f"{what} is required")
    if not base64_encoded:
        return content.encode()
    try:
        return base64.b64decode(content, validate=True)
    except (binascii.Error, ValueError):
        raise invalid(code, what, f"{what} is not valid Base64 ({encoding})") from None


def check_content_size(
    script: bytes,
    limit: int,
    *,
    what: str = "command_content",
    code: RefusalCode = RefusalCode.INVALID_PARAM_COMMAND_CONTENT,
) -> None:
    """Refuse content whose Base64 form is longer than ``limit`` bytes."""
    encoded = base64_size(len(script))
    if encoded > limit:
        raise invalid(
            code, what, f"{what} is {encoded} bytes once Base64-encoded; the limit is {limit} bytes"
        )


def base64_size(raw: int) -> int:
    """The length of the Base64 encoding of ``raw`` bytes."""
    return 4 * ((raw + 2) // 3)
