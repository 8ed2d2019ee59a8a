"""`kairos watch`: live output and status of an invocation, until it finishes.

Output chunks are printed line by line as `[i-1] line`, output the server skipped
(beyond its live rate, or not kept by results) as `[i-1] [… 12,345 bytes skipped …]`,
status changes as `[i-1] => Success (exit 0)`, and a progress line
`done/total instances done` goes to stderr (redrawn in place on a terminal, one line
per change otherwise).
"""

import argparse
import codecs
import sys
from dataclasses import dataclass, field
from typing import Any, TextIO

from kairos.v1 import common_pb2, invocation_pb2
from scheduler.cli.client import Client, fetch_pages
from scheduler.cli.errors import CliError
from scheduler.cli.naming import enum_word
from scheduler.cli.output import message_dict, print_json
from scheduler.domain.enums import FINAL_STATUSES

_FINAL_WORDS = frozenset(status.value for status in FINAL_STATUSES)


def watch(args: argparse.Namespace) -> int:
    """Follow an invocation; exits 0 when it ends `Success`, 1 otherwise."""
    with Client.from_args(args) as client:
        return follow(client, args.invoke_id, json_mode=args.json)


def follow(
    client: Client, invoke_id: str, *, json_mode: bool, extra: dict[str, str] | None = None
) -> int:
    """Stream WatchInvocation to the terminal; 0 when the final status is Success.

    With `json_mode` nothing streams to stdout; at the end one document holds
    `extra`, the final status and every instance's result.
    """
    described = client.describe_invocations(
        invocation_pb2.DescribeInvocationsRequest(invoke_id=invoke_id)
    )
    if not described.invocations:
        raise CliError(f"NOT_FOUND: invocation {invoke_id} not found")
    view = WatchView(
        out=None if json_mode else sys.stdout,
        progress=Progress(sys.stderr),
        statuses={i.instance_id: i.invocation_status for i in described.invocations[0].instances},
    )
    final: int | None = None
    try:
        for event in client.watch_invocation(
            invocation_pb2.WatchInvocationRequest(invoke_id=invoke_id)
        ):
            kind = event.WhichOneof("event")
            if kind == "result":
                view.on_result(event.result)
            elif kind == "output":
                view.on_output(event.output)
            elif kind == "gap":
                view.on_gap(event.gap)
            elif kind == "finished":
                final = event.finished
                break
    finally:
        view.close()
    if final is None:
        raise CliError(f"the watch of {invoke_id} ended before the invocation finished")
    if json_mode:
        print_json(_final_document(client, invoke_id, final, extra or {}))
    else:
        word = enum_word(common_pb2.InvocationStatus, final)
        print(f"finished: {word} ({view.progress_text()})")
    return 0 if final == common_pb2.INVOCATION_STATUS_SUCCESS else 1


def is_final(status: int) -> bool:
    """True when an instance in `status` will not change any more."""
    return enum_word(common_pb2.InvocationStatus, status) in _FINAL_WORDS


class Progress:
    """The `done/total` line on stderr: redrawn in place on a terminal."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._tty = stream.isatty()
        self._text = ""

    def update(self, text: str) -> None:
        """Show `text` if it differs from what is shown."""
        if text == self._text:
            return
        self._text = text
        if self._tty:
            self.redraw()
        else:
            print(f"progress: {text}", file=self._stream, flush=True)

    def clear(self) -> None:
        """Take the line off the terminal before other output is printed."""
        if self._tty and self._text:
            self._stream.write("\r\x1b[K")
            self._stream.flush()

    def redraw(self) -> None:
        """Put the line back after other output."""
        if self._tty and self._text:
            self._stream.write(f"\r{self._text}")
            self._stream.flush()


@dataclass(kw_only=True)
class _Stream:
    """The output of one execution as far as it was printed."""

    instance_id: str
    seen: int = 0
    partial: str = ""
    decoder: Any = field(default_factory=lambda: codecs.getincrementaldecoder("utf-8")("replace"))


class WatchView:
    """Turns watch events into printed lines and the progress count."""

    def __init__(self, out: TextIO | None, progress: Progress, statuses: dict[str, int]) -> None:
        self._out = out
        self._progress = progress
        self._statuses = dict(statuses)
        self._printed: dict[str, int] = {}
        self._streams: dict[str, _Stream] = {}
        self._progress.update(self.progress_text())

    def progress_text(self) -> str:
        """`done/total instances done`."""
        done = sum(1 for status in self._statuses.values() if is_final(status))
        return f"{done}/{len(self._statuses)} instances done"

    def on_output(self, chunk: invocation_pb2.OutputChunk) -> None:
        """Print the complete lines of a chunk, skipping bytes already printed."""
        stream = self._stream(chunk.execution_id, chunk.instance_id)
        if chunk.offset > stream.seen:  # a skip the server did not announce: still shown
            self._skip(stream, chunk.offset - stream.seen)
        fresh = chunk.data[stream.seen - chunk.offset :]
        stream.seen += len(fresh)
        *lines, stream.partial = (stream.partial + stream.decoder.decode(fresh)).split("\n")
        for line in lines:
            self._emit(f"[{stream.instance_id}] {line}")

    def on_gap(self, gap: invocation_pb2.OutputGap) -> None:
        """Show where the watch skipped output (the live rate, or what results do not keep)."""
        stream = self._stream(gap.execution_id, gap.instance_id)
        if gap.offset + gap.skipped > stream.seen:
            self._skip(stream, gap.offset + gap.skipped - stream.seen)

    def _stream(self, execution_id: str, instance_id: str) -> _Stream:
        return self._streams.setdefault(
            execution_id or instance_id, _Stream(instance_id=instance_id)
        )

    def _skip(self, stream: _Stream, skipped: int) -> None:
        # An unfinished line ends here: what follows the skip is another part of the output.
        self._flush(stream)
        self._emit(f"[{stream.instance_id}] [… {skipped:,} bytes skipped …]")
        stream.seen += skipped

    def on_result(self, result: invocation_pb2.InvocationResult) -> None:
        """Print a status change and update the progress count."""
        self._statuses[result.instance_id] = result.invocation_status
        if is_final(result.invocation_status):
            for stream in self._streams.values():
                if stream.instance_id == result.instance_id:
                    self._flush(stream)
        if self._printed.get(result.instance_id) != result.invocation_status:
            self._printed[result.instance_id] = result.invocation_status
            self._emit(f"[{result.instance_id}] => {result_summary(result)}")
        self._progress.update(self.progress_text())

    def close(self) -> None:
        """Print what is left of unfinished lines and take the progress line away."""
        for stream in self._streams.values():
            self._flush(stream)
        self._progress.clear()

    def _flush(self, stream: _Stream) -> None:
        text = stream.partial + stream.decoder.decode(b"", final=True)
        stream.partial = ""
        if text:
            self._emit(f"[{stream.instance_id}] {text}")

    def _emit(self, line: str) -> None:
        if self._out is None:
            return
        self._progress.clear()
        print(line, file=self._out, flush=True)
        self._progress.redraw()


def result_summary(result: invocation_pb2.InvocationResult) -> str:
    """`Failed (exit 1, ExitCodeNonzero: …)`: status, exit code and error of one result."""
    word = enum_word(common_pb2.InvocationStatus, result.invocation_status)
    facts = []
    if exit_code := exit_code_text(result):
        facts.append(f"exit {exit_code}")
    if result.error_code:
        facts.append(f"{result.error_code}: {result.error_info}".rstrip(": "))
    return f"{word} ({', '.join(facts)})" if facts else word


def exit_code_text(result: invocation_pb2.InvocationResult) -> str:
    """The exit code, or `""` for a script that never started or has not ended."""
    ran = result.start_time.seconds and result.finish_time.seconds
    return str(result.exit_code) if ran else ""


def _final_document(
    client: Client, invoke_id: str, final: int, extra: dict[str, str]
) -> dict[str, Any]:
    results = fetch_pages(
        client.describe_invocation_results,
        invocation_pb2.DescribeInvocationResultsRequest(invoke_id=invoke_id, max_results=50),
        every=True,
    )
    return {
        **extra,
        "invoke_id": invoke_id,
        "invocation_status": common_pb2.InvocationStatus.Name(final),
        "results": [message_dict(result) for result in results.results],
    }
