"""`kairos schedule next|explain`: through the registered parser, and as a real process."""

import argparse
import io
import json
import shutil
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scheduler.cli.schedule import interval_words, register


def run(*argv: str) -> tuple[int, str, str]:
    """Parse `kairos <argv>` with a parser built by `register` and run the command."""
    parser = argparse.ArgumentParser(prog="kairos")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    out, err = io.StringIO(), io.StringIO()
    status = args.func(args, out, err)
    return status, out.getvalue(), err.getvalue()


def test_next_prints_utc_and_local_fires() -> None:
    status, out, err = run(
        "schedule", "next", "0 15 10 ? * 6L 2002-2005 Asia/Shanghai",
        "--after", "2005-10-01T00:00:00Z", "--count", "5",
    )  # fmt: skip
    assert (status, err) == (0, "")
    assert out.splitlines() == [
        "UTC                   LOCAL (Asia/Shanghai)",
        "2005-10-28T02:15:00Z  2005-10-28 10:15:00 +0800",
        "2005-11-25T02:15:00Z  2005-11-25 10:15:00 +0800",
        "2005-12-30T02:15:00Z  2005-12-30 10:15:00 +0800",
    ]


def test_next_json_uses_the_instance_zone_for_a_zoneless_cron() -> None:
    status, out, _ = run(
        "schedule", "next", "0 30 2 * * ?", "--zone", "America/New_York",
        "--after", "2026-03-07T00:00:00", "--count", "2", "--json",
    )  # fmt: skip
    assert status == 0
    document = json.loads(out)
    assert document["frequency"] == "0 30 2 * * ?"
    assert document["zone"] == "America/New_York"
    # A naive --after is read in --zone: 2026-03-07 00:00 EST.
    assert document["after"] == "2026-03-07T05:00:00Z"
    assert document["fires"] == [
        {"utc": "2026-03-07T07:30:00Z", "local": "2026-03-07T02:30:00-05:00"},
        {"utc": "2026-03-08T07:00:00Z", "local": "2026-03-08T03:00:00-04:00"},
    ]


def test_explain_describes_and_lists_five_fires() -> None:
    status, out, _ = run("schedule", "explain", "0 0 12 ? * 6#3", "--after", "2026-01-01T00:00:00Z")
    assert status == 0
    lines = out.splitlines()
    assert "meaning      at 12:00:00 on the third Friday of every month" in lines
    assert "dst rule     fixed-time: once per wall time (gap walls fire when the gap ends)" in lines
    assert sum(1 for line in lines if line.startswith("2026-")) == 5
    assert "2026-01-16T12:00:00Z  2026-01-16 12:00:00 +0000" in lines


def test_exhausted_schedule_says_so() -> None:
    status, out, _ = run(
        "schedule", "next", "at(2020-01-01 00:00:00)", "--after", "2026-01-01T00:00:00Z"
    )
    assert status == 0
    assert "no fire after 2026-01-01T00:00:00Z" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("0 0 12 ? * 8",), "error: InvalidCronExpression: day-of-week: '8' is out of range 1-7"),
        (("0,5 * * * * ?",), "error: IntervalTooShort: two consecutive fires can be 5s apart"),
        (("0 0 0 30 2 ?",), "error: NeverFires: "),
        (("rate(5s)",), "error: IntervalTooShort: rate: interval 5s"),
        (("0 0 12 * * ?", "--zone", "CST"), "error: InvalidTimeZone: zone: 'CST'"),
        (("0 0 12 * * ?", "--after", "yesterday"), "error: InvalidArgument: --after: 'yesterday'"),
        (("0 0 12 * * ?", "--count", "0"), "error: InvalidArgument: --count must be 1-1000"),
        # Valid text, but UTC cannot hold it: a refusal, not a traceback.
        (("rate(5m)", "--after", "0001-01-01T00:00:00+14:00"), "error: InvalidArgument: --after:"),
        (
            ("0 0 0 * * ?", "--after", "9999-12-31T23:59:59-12:00"),
            "error: InvalidArgument: --after: '9999-12-31T23:59:59-12:00' is out of range",
        ),
    ],
)
def test_errors_print_one_line_with_the_code_and_exit_2(
    argv: tuple[str, ...], message: str
) -> None:
    status, out, err = run("schedule", "next", *argv)
    assert status == 2
    assert out == ""
    assert err.startswith(message)
    assert err.count("\n") == 1


def _kairos() -> str | None:
    """The installed `kairos` executable, if it is there and knows `schedule`."""
    found = shutil.which("kairos", path=str(Path(sys.executable).parent))
    if found is None:
        return None
    probe = subprocess.run([found, "schedule", "--help"], capture_output=True, timeout=60)
    return found if probe.returncode == 0 else None


def test_real_process() -> None:
    kairos = _kairos()
    if kairos is None:
        pytest.skip(
            "the kairos executable (with its schedule command) is not installed in the venv"
        )
    done = subprocess.run(
        [kairos, "schedule", "next", "rate(5m)", "--after", "2026-01-01T00:00:00Z", "--count", "2"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "2026-01-01T00:05:00Z" in done.stdout and "2026-01-01T00:10:00Z" in done.stdout
    failed = subprocess.run(
        [kairos, "schedule", "next", "0 */20 * * *"], capture_output=True, text=True, timeout=60
    )
    assert failed.returncode == 2
    assert failed.stderr.startswith("error: InvalidCronExpression: expected 6 to 8 fields")


def test_explain_keeps_the_frequency_as_written_and_says_intervals_in_words() -> None:
    status, out, _ = run(
        "schedule",
        "explain",
        "0 30 2 ? *  MON-FRI Asia/Shanghai",
        "--after",
        "2026-11-22T00:00:00Z",
    )
    assert status == 0
    lines = out.splitlines()
    assert lines[0] == "frequency    0 30 2 ? * MON-FRI Asia/Shanghai"
    assert "min interval 1 day" in lines
    _, rate, _ = run("schedule", "explain", "rate(150m)")
    assert "min interval 2 hours 30 minutes" in rate.splitlines()


def test_explain_json() -> None:
    status, out, _ = run(
        "schedule", "explain", "0 0 12 ? JAN,MAR MON#2", "--after", "2026-01-01T00:00:00Z",
        "--json",
    )  # fmt: skip
    assert status == 0
    document = json.loads(out)
    assert document["frequency"] == "0 0 12 ? JAN,MAR MON#2"
    assert document["normalized"] == "0 0 12 ? 1,3 2#2"
    assert document["min_interval"] == "56 days"
    assert document["min_interval_seconds"] == 56 * 86_400
    assert document["dst_rule"].startswith("fixed-time")
    assert document["fires"][0] == {
        "utc": "2026-01-12T12:00:00Z",
        "local": "2026-01-12T12:00:00+00:00",
    }
    assert len(document["fires"]) == 5


@pytest.mark.parametrize(
    ("seconds", "words"),
    [
        (0, "0 seconds"),
        (1, "1 second"),
        (90, "1 minute 30 seconds"),
        (9_000, "2 hours 30 minutes"),
        (86_400, "1 day"),
        (2 * 86_400 + 3_600 + 1, "2 days 1 hour 1 second"),
    ],
)
def test_interval_words(seconds: int, words: str) -> None:
    assert interval_words(timedelta(seconds=seconds)) == words


@given(st.integers(min_value=1, max_value=10 * 366 * 86_400))
def test_interval_words_add_up(seconds: int) -> None:
    sizes = {"day": 86_400, "hour": 3_600, "minute": 60, "second": 1}
    parts = interval_words(timedelta(seconds=seconds)).split()
    counts = [(int(n), unit.rstrip("s")) for n, unit in zip(parts[::2], parts[1::2], strict=True)]
    assert sum(n * sizes[unit] for n, unit in counts) == seconds
    assert all(n > 0 for n, _ in counts)
