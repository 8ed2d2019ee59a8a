"""Records are built by keyword: a record with more than three fields is keyword-only."""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import pkgutil

import pytest

PACKAGES = ("scheduler", "dispatcher", "agent")
MAX_POSITIONAL = 3


def _modules() -> list[str]:
    names = []
    for package in PACKAGES:
        root = importlib.import_module(package)
        for info in pkgutil.walk_packages(root.__path__, prefix=f"{package}."):
            # Migrations run Alembic at import; entry points run the program.
            if ".migrations" in info.name or info.name.endswith("__main__"):
                continue
            names.append(info.name)
    return names


def _records() -> list[type]:
    found = []
    for name in _modules():
        module = importlib.import_module(name)
        for _, value in inspect.getmembers(module, inspect.isclass):
            if value.__module__ == name and dataclasses.is_dataclass(value):
                found.append(value)
    return found


def test_records_are_found() -> None:
    names = {record.__qualname__ for record in _records()}
    assert {"InvocationSettings", "ExecutionResult", "TargetUpdate", "RunMark"} <= names


@pytest.mark.parametrize("record", _records(), ids=lambda r: f"{r.__module__}.{r.__qualname__}")
def test_a_record_with_more_than_three_fields_is_keyword_only(record: type) -> None:
    fields = dataclasses.fields(record)
    if len(fields) > MAX_POSITIONAL:
        positional = [f.name for f in fields if f.init and not f.kw_only]
        assert positional == [], f"{record.__qualname__}: make it @dataclass(kw_only=True)"
