"""The import contract of ``make lint`` holds, and it does fail on a breach."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("scheduler", "dispatcher", "agent")


def _lint_imports(tree: Path) -> subprocess.CompletedProcess[str]:
    # The copy comes first on the path, before the editable install of the checkout.
    env = {**os.environ, "PYTHONPATH": f"{tree}{os.pathsep}{ROOT / 'proto'}"}
    return subprocess.run(
        [str(Path(sys.executable).parent / "lint-imports"), "--config", "pyproject.toml"],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A copy of the source packages and the contract."""
    for package in PACKAGES:
        shutil.copytree(
            ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def _add_import(module: Path, statement: str) -> None:
    source = module.read_text()
    module.write_text(
        source.replace(
            "from __future__ import annotations\n",
            f"from __future__ import annotations\n\n{statement}\n",
            1,
        )
    )


def test_the_checkout_keeps_the_contract(tree: Path) -> None:
    result = _lint_imports(tree)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("module", "statement", "broken"),
    [
        # The store reaching up into the client API: a layer breach.
        ("scheduler/store/quota.py", "import scheduler.api.commands", "layers"),
        # The dispatcher using the client API's internals: siblings must stay independent.
        ("dispatcher/session.py", "import scheduler.api.invocations", "layers"),
        # The agent reaching into the server's storage.
        ("agent/spool.py", "import scheduler.store.tables", "agent"),
        # Two operations modules importing each other: a cycle inside one layer.
        ("scheduler/operations/context.py", "import scheduler.operations.invocations", "acyclic"),
    ],
)
def test_a_forbidden_import_breaks_the_contract(
    tree: Path, module: str, statement: str, broken: str
) -> None:
    _add_import(tree / module, statement)
    result = _lint_imports(tree)
    assert result.returncode != 0
    names = {
        "layers": "Each layer imports only from the layers below it BROKEN",
        "agent": "The agent shares only the domain's vocabulary with the server BROKEN",
        "acyclic": "No import cycle between sibling packages or modules BROKEN",
    }
    assert names[broken] in result.stdout, result.stdout
