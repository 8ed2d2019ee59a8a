"""Pure helpers of the CLI: enum words, value parsing, tables, times, scripts, watch lines."""

import argparse
import base64
import io
from enum import StrEnum
from pathlib import Path

import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from kairos.v1 import common_pb2, invocation_pb2
from scheduler.cli.errors import UsageError
from scheduler.cli.flags import collect_parameters, instance_ids, int_in, parameter
from scheduler.cli.naming import enum_word, enum_words, parse_enum
from scheduler.cli.output import format_time, render_fields, render_table
from scheduler.cli.script import load_script
from scheduler.cli.watch import Progress, WatchView
from scheduler.domain import enums

# --- enum words -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("enum", "domain"),
    [
        (common_pb2.InvocationStatus, enums.InvocationStatus),
        (common_pb2.RepeatMode, enums.RepeatMode),
        (common_pb2.CommandType, enums.CommandType),
        (common_pb2.ContentEncoding, enums.ContentEncoding),
        (common_pb2.OsType, enums.OsType),
    ],
)
def test_enum_words_are_the_domain_words(enum: object, domain: type[StrEnum]) -> None:
    assert enum_words(enum) == [member.value for member in domain]  # type: ignore[arg-type]


def test_enum_word_examples() -> None:
    assert enum_word(common_pb2.InvocationStatus, 14) == "PartialFailed"
    assert enum_word(common_pb2.CommandType, 2) == "RunPowerShellScript"
    assert enum_word(common_pb2.RepeatMode, 4) == "EveryReboot"
    assert enum_word(common_pb2.OsType, 1) == "linux"


def test_enum_word_of_unspecified_is_empty_and_unknown_is_the_number() -> None:
    assert enum_word(common_pb2.RepeatMode, 0) == ""
    assert enum_word(common_pb2.RepeatMode, 99) == "99"


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("dry-run", "REPEAT_MODE_DRY_RUN"),
        ("DryRun", "REPEAT_MODE_DRY_RUN"),
        ("DRY_RUN", "REPEAT_MODE_DRY_RUN"),
        ("next-reboot-only", "REPEAT_MODE_NEXT_REBOOT_ONLY"),
        ("every-reboot", "REPEAT_MODE_EVERY_REBOOT"),
    ],
)
def test_parse_enum_accepts_words_in_any_spelling(text: str, name: str) -> None:
    assert parse_enum(common_pb2.RepeatMode, text) == name


def test_parse_enum_aliases_and_errors() -> None:
    aliases = {"shell": "COMMAND_TYPE_RUN_SHELL_SCRIPT"}
    assert parse_enum(common_pb2.CommandType, "Shell", aliases) == "COMMAND_TYPE_RUN_SHELL_SCRIPT"
    assert parse_enum(common_pb2.CommandType, "RunBatScript") == "COMMAND_TYPE_RUN_BAT_SCRIPT"
    with pytest.raises(UsageError, match="unknown repeat mode 'weekly'; expected one of Once, "):
        parse_enum(common_pb2.RepeatMode, "weekly")
    with pytest.raises(UsageError):
        parse_enum(common_pb2.RepeatMode, "unspecified")


# --- flag values ------------------------------------------------------------------


def test_parameter_splits_at_the_first_equals_sign() -> None:
    assert parameter("name=a=b") == ("name", "a=b")
    assert parameter("empty=") == ("empty", "")
    for bad in ("novalue", "=value", " =x"):
        with pytest.raises(argparse.ArgumentTypeError, match="NAME=VALUE"):
            parameter(bad)


def test_collect_parameters_refuses_a_name_twice() -> None:
    assert collect_parameters([("a", "1"), ("b", "2")]) == {"a": "1", "b": "2"}
    assert collect_parameters(None) == {}
    with pytest.raises(UsageError, match="parameter 'a' given twice"):
        collect_parameters([("a", "1"), ("a", "2")])


def test_instance_ids() -> None:
    assert instance_ids("i-1, i-2,i-3") == ["i-1", "i-2", "i-3"]
    with pytest.raises(argparse.ArgumentTypeError, match="empty instance id"):
        instance_ids("i-1,,i-2")


def test_int_in_bounds() -> None:
    assert int_in(1, 50)("50") == 50
    with pytest.raises(argparse.ArgumentTypeError, match=r"0 is out of range \(1-50\)"):
        int_in(1, 50)("0")
    with pytest.raises(argparse.ArgumentTypeError, match="not an integer"):
        int_in(1, None)("ten")


# --- rendering --------------------------------------------------------------------


def test_render_table_aligns_columns_without_trailing_blanks() -> None:
    table = render_table(["ID", "NAME", "N"], [["c-1", "long name", 3], ["c-22", "", None]])
    assert table.splitlines() == [
        "ID    NAME       N",
        "c-1   long name  3",
        "c-22  -          -",
    ]


def test_render_fields() -> None:
    assert render_fields([("invoke_id", "t-1"), ("command_id", "c-1")]) == (
        "invoke_id   t-1\ncommand_id  c-1"
    )


def test_format_time_is_utc_iso_to_the_second() -> None:
    assert format_time(Timestamp(seconds=1795325400, nanos=999)) == "2026-11-22T05:30:00Z"
    assert format_time(Timestamp()) == ""


# --- scripts ----------------------------------------------------------------------


def test_inline_script_is_plain_text() -> None:
    script = load_script(text="echo hi", path=None, is_base64=False)
    assert (script.content, script.encoding) == ("echo hi", "CONTENT_ENCODING_PLAIN_TEXT")


def test_base64_flag_sends_content_as_is() -> None:
    script = load_script(text="ZWNobyBoaQ==\n", path=None, is_base64=True)
    assert (script.content, script.encoding) == ("ZWNobyBoaQ==", "CONTENT_ENCODING_BASE64")


def test_file_that_is_not_utf8_is_sent_base64(tmp_path: Path) -> None:
    path = tmp_path / "latin1.sh"
    path.write_bytes("echo caf\xe9\n".encode("latin-1"))
    script = load_script(text=None, path=str(path), is_base64=False)
    assert script.encoding == "CONTENT_ENCODING_BASE64"
    assert base64.b64decode(script.content) == path.read_bytes()


def test_script_needs_exactly_one_source(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="either inline"):
        load_script(text=None, path=None, is_base64=False)
    with pytest.raises(UsageError, match="either inline"):
        load_script(text="x", path="y", is_base64=False)
    with pytest.raises(Exception, match=r"cannot read .*missing\.sh"):
        load_script(text=None, path=str(tmp_path / "missing.sh"), is_base64=False)


# --- watch lines ------------------------------------------------------------------


def _chunk(offset: int, data: bytes, instance: str = "i-1") -> invocation_pb2.OutputChunk:
    return invocation_pb2.OutputChunk(
        execution_id=f"e-{instance}", instance_id=instance, offset=offset, data=data
    )


def test_watch_prints_whole_lines_and_skips_repeated_bytes() -> None:
    out, err = io.StringIO(), io.StringIO()
    view = WatchView(out, Progress(err), {"i-1": common_pb2.INVOCATION_STATUS_RUNNING})
    view.on_output(_chunk(0, b"hel"))
    view.on_output(_chunk(3, b"lo\nwor"))
    view.on_output(_chunk(0, b"hello\nwor"))  # a replay of what was already printed
    view.on_output(_chunk(9, "ld \u00e9".encode()[:-1]))  # a character split across chunks
    view.on_output(_chunk(13, "\u00e9".encode()[-1:] + b"\n"))
    view.on_output(_chunk(19, b"tail"))  # 4 bytes never streamed
    view.close()
    assert out.getvalue().splitlines() == [
        "[i-1] hello",
        "[i-1] world \u00e9",
        "[i-1] [… 4 bytes skipped …]",
        "[i-1] tail",
    ]


def test_watch_shows_gap_events_where_output_was_skipped() -> None:
    out, err = io.StringIO(), io.StringIO()
    view = WatchView(out, Progress(err), {"i-1": common_pb2.INVOCATION_STATUS_RUNNING})
    view.on_output(_chunk(0, b"first\nunfin"))
    view.on_gap(
        invocation_pb2.OutputGap(execution_id="e-i-1", instance_id="i-1", offset=11, skipped=12345)
    )
    view.on_output(_chunk(12356, b"tail\n"))
    view.close()
    assert out.getvalue().splitlines() == [
        "[i-1] first",
        "[i-1] unfin",
        "[i-1] [… 12,345 bytes skipped …]",
        "[i-1] tail",
    ]


def test_watch_prints_status_changes_once_and_counts_progress() -> None:
    out, err = io.StringIO(), io.StringIO()
    pending = common_pb2.INVOCATION_STATUS_PENDING
    view = WatchView(out, Progress(err), {"i-1": pending, "i-2": pending})
    stamp = Timestamp(seconds=1795325400)
    failed = invocation_pb2.InvocationResult(
        instance_id="i-2",
        invocation_status=common_pb2.INVOCATION_STATUS_FAILED,
        exit_code=3,
        error_code="ExitCodeNonzero",
        start_time=stamp,
        finish_time=stamp,
    )
    running = invocation_pb2.InvocationResult(
        instance_id="i-1", invocation_status=common_pb2.INVOCATION_STATUS_RUNNING
    )
    for result in (running, running, failed):
        view.on_result(result)
    view.close()
    assert out.getvalue().splitlines() == [
        "[i-1] => Running",
        "[i-2] => Failed (exit 3, ExitCodeNonzero)",
    ]
    assert err.getvalue().splitlines() == [
        "progress: 0/2 instances done",
        "progress: 1/2 instances done",
    ]


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_on_a_terminal_is_redrawn_around_output_lines() -> None:
    out, err = io.StringIO(), _Terminal()
    view = WatchView(out, Progress(err), {"i-1": common_pb2.INVOCATION_STATUS_RUNNING})
    view.on_output(_chunk(0, b"hi\n"))
    view.close()
    assert out.getvalue() == "[i-1] hi\n"
    shown = "\r0/1 instances done"
    assert err.getvalue() == f"{shown}\r\x1b[K{shown}\r\x1b[K"
