"""Array parameters: many values in one bind parameter, and rows given as one array per column."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import psycopg
from psycopg.types.array import ListBinaryDumper
from sqlalchemy import ColumnElement, bindparam, cast, column, func
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.sql.selectable import TableValuedAlias
from sqlalchemy.types import TypeEngine


class _BinaryArray(list[Any]):
    """An array parameter psycopg sends in binary format.

    As text, psycopg writes (and PostgreSQL parses) every timestamp and byte
    string of an array; that costs the ticker several times what binary does.
    """


# On psycopg's global adapters, which each new connection starts from; a connection
# made before this import would send these arrays as text: slower, the same rows.
psycopg.adapters.register_dumper(_BinaryArray, ListBinaryDumper)


def array_parameter(name: str, item_type: TypeEngine[Any]) -> ColumnElement[Any]:
    """The bind parameter ``name``: an array of ``item_type``, its value made by ``array``."""
    # Untyped, and cast in SQL: SQLAlchemy passes the value on untouched (an
    # ARRAY-typed parameter would be copied into a plain list, sent as text).
    return cast(bindparam(name), ARRAY(item_type))


def array(values: Iterable[Any]) -> list[Any]:
    """The value of an ``array_parameter``: ``values``, to be sent in binary."""
    return _BinaryArray(values)


class Unnested:
    """``unnest(:a, :b, …) AS name(a, b, …)``: rows given as one array per column.

    A statement over these rows has the same text for any number of them, so
    PostgreSQL prepares it once and neither SQLAlchemy nor the driver renders a
    bind parameter per value.
    """

    def __init__(self, name: str, **columns: TypeEngine[Any]) -> None:
        self._name = name
        arrays = (array_parameter(self._bind(key), type_) for key, type_ in columns.items())
        self.rows: TableValuedAlias = (
            func.unnest(*arrays)
            .table_valued(*(column(key, type_) for key, type_ in columns.items()))
            .render_derived(name=name)
        )
        """The rows, to select from or join; their columns are ``.c``."""
        self.c = self.rows.c

    def bind(self, **arrays: Iterable[Any]) -> dict[str, list[Any]]:
        """The bind parameters that give the rows: each column's values, by column name."""
        return {self._bind(key): array(values) for key, values in arrays.items()}

    def _bind(self, key: str) -> str:
        # Not the column's own name: insert and update keep those for their values.
        return f"{self._name}_{key}"
