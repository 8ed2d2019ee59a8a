"""Runs Quartz 2.3's CronExpression as a reference, all queries through one JVM.

The Java driver next to this file is compiled at test time into a temporary
directory against the Debian `libquartz2-java` jar.
"""

import glob
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

DRIVER = Path(__file__).parent / "quartz" / "QuartzDriver.java"
JAR_PATTERNS = ("/usr/share/java/quartz2.jar", "/usr/share/java/quartz*.jar")


@dataclass(kw_only=True, frozen=True)
class Query:
    """Ask Quartz for the next `count` fires of `expression` in `zone` after `start`."""

    expression: str
    zone: str
    start: int
    count: int


@dataclass(frozen=True)
class Answer:
    """Quartz's fires (epoch seconds), or the error with which it refused the expression."""

    fires: tuple[int, ...]
    error: str | None = None


def missing_reason() -> str | None:
    """Why the reference cannot run here, or None when java, javac and Quartz are present."""
    for tool in ("java", "javac"):
        if shutil.which(tool) is None:
            return f"'{tool}' is not on PATH (install a JDK to run the Quartz differential test)"
    if quartz_jar() is None:
        return "Quartz jar not found in /usr/share/java (apt-get install libquartz2-java)"
    return None


def quartz_jar() -> str | None:
    """The path of the Quartz 2 jar, if installed."""
    for pattern in JAR_PATTERNS:
        found = sorted(glob.glob(pattern))
        if found:
            return found[0]
    return None


def compile_driver(workdir: Path) -> None:
    """Compile the driver into `workdir`."""
    jar = quartz_jar()
    assert jar is not None
    subprocess.run(
        ["javac", "-nowarn", "-cp", jar, "-d", str(workdir), str(DRIVER)],
        check=True,
        capture_output=True,
        timeout=120,
    )


def ask(workdir: Path, queries: Sequence[Query]) -> list[Answer]:
    """Answer every query with one JVM run of the compiled driver."""
    jar = quartz_jar()
    assert jar is not None
    lines = "".join(f"{q.expression}\t{q.zone}\t{q.start}\t{q.count}\n" for q in queries)
    done = subprocess.run(
        ["java", "-Xshare:auto", "-cp", f"{workdir}:{jar}", "QuartzDriver"],
        input=lines,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    answers: list[Answer] = []
    for line in done.stdout.splitlines():
        status, _, rest = line.partition(" ")
        if status == "OK":
            answers.append(Answer(tuple(int(part) for part in rest.split())))
        else:
            answers.append(Answer((), rest))
    assert len(answers) == len(queries), done.stderr
    return answers
