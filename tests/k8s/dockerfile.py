"""A small Dockerfile reader for checking the image rules (no Docker engine here)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from tests.k8s.render import REPO
from tests.k8s.rules import image_problem

DOCKERFILE = REPO / "Dockerfile"


@dataclass
class Instruction:
    keyword: str
    value: str


@dataclass
class Stage:
    image: str
    name: str | None
    instructions: list[Instruction] = field(default_factory=list)

    def values(self, keyword: str) -> list[str]:
        return [i.value for i in self.instructions if i.keyword == keyword]


def parse(text: str) -> list[Stage]:
    """The build stages of a Dockerfile, with line continuations joined and
    comments dropped; ARGs before the first FROM are substituted into FROM."""
    lines: list[str] = []
    pending = ""
    for raw in text.splitlines():
        stripped = raw.strip()
        if stripped.startswith("#") or not stripped:
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        lines.append(pending + stripped)
        pending = ""
    if pending:
        lines.append(pending)
    global_args: dict[str, str] = {}
    stages: list[Stage] = []
    for line in lines:
        keyword, _, value = line.partition(" ")
        keyword, value = keyword.upper(), value.strip()
        if keyword == "ARG" and not stages:
            name, _, default = value.partition("=")
            global_args[name] = default
        elif keyword == "FROM":
            for name, default in global_args.items():
                value = re.sub(rf"\$\{{{name}\}}|\${name}\b", default, value)
            parts = value.split()
            parts = [p for p in parts if not p.startswith("--")]
            image = parts[0]
            alias = parts[2] if len(parts) == 3 and parts[1].upper() == "AS" else None
            stages.append(Stage(image, alias))
        elif stages:
            stages[-1].instructions.append(Instruction(keyword, value))
    return stages


def exec_form(value: str) -> list[str] | None:
    """The JSON array of an exec-form ENTRYPOINT/CMD, None for the shell form."""
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError:
        return None
    return parsed if isinstance(parsed, list) and all(isinstance(p, str) for p in parsed) else None


def dockerfile_problems(text: str) -> list[str]:
    """Multi-stage build from a pinned base, wheels from a builder stage, no dev
    extras, a numeric non-root USER and ENTRYPOINT ["kairos"] in the final stage."""
    stages = parse(text)
    problems: list[str] = []
    if len(stages) < 2:
        return [f"not a multi-stage build ({len(stages)} stage)"]
    names = {s.name for s in stages if s.name}
    for stage in stages:
        if stage.image in names:
            continue  # built on an earlier stage
        problem = image_problem(stage.image)
        if problem is not None:
            problems.append(f"base image {problem}")
    final = stages[-1]
    builder = stages[0].name
    copies_from_builder = builder is not None and any(
        f"from={builder}" in v for v in final.values("COPY") + final.values("RUN")
    )
    if not copies_from_builder:
        problems.append("the final stage does not take its wheels from the builder stage")
    if not any("wheel" in v for v in stages[0].values("RUN")):
        problems.append("the builder stage builds no wheel")
    for stage in stages:
        for run in stage.values("RUN"):
            if re.search(r"\[[^\]]*\bdev\b[^\]]*\]", run):
                problems.append(f"dev extras installed: {run}")
    users = final.values("USER")
    user = users[-1].split(":")[0] if users else "root"
    if not user.isdigit() or int(user) == 0:
        problems.append(f"the final stage runs as {user!r}, not a numeric non-root uid")
    entrypoints = final.values("ENTRYPOINT")
    if not entrypoints or exec_form(entrypoints[-1]) != ["kairos"]:
        problems.append('the final stage\'s ENTRYPOINT is not ["kairos"]')
    return problems


def dockerignore_lines(path: Path = REPO / ".dockerignore") -> set[str]:
    return {
        line.strip()
        for line in path.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
