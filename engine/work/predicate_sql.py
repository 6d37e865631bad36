"""Compile a domain predicate (engine/domain/predicate.py) to a SQLAlchemy expression.

Constants are rendered into the SQL text, not sent as parameters: PostgreSQL matches a partial
index (``state <> 'answered'``) only against literals, and a prepared statement's generic plan
must still see them. They are the rules' own enum values, never user input.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import and_, literal_column, not_, or_
from sqlalchemy.sql.elements import ColumnElement

from engine.domain.predicate import (
    AllOf,
    AnyOf,
    Compare,
    Constant,
    IsNull,
    IsTrue,
    Not,
    Op,
    Param,
    Predicate,
    field_names,
)

Bindings = Mapping[str, ColumnElement[Any]]

_OPERATORS: Mapping[Op, Callable[[Any, Any], ColumnElement[bool]]] = {
    Op.EQ: operator.eq, Op.NE: operator.ne, Op.LE: operator.le, Op.GT: operator.gt,
}  # fmt: skip


def _literal(value: Constant) -> ColumnElement[Any]:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise TypeError(f"a rule constant must be a string or an integer, not {value!r}")
    if isinstance(value, int):
        return literal_column(str(int(value)))
    if "'" in value or "\\" in value:
        raise ValueError(f"rule constant {value!r} cannot be rendered as a SQL literal")
    return literal_column(f"'{value}'")


def _compile(predicate: Predicate, fields: Bindings, params: Bindings) -> ColumnElement[bool]:
    match predicate:
        case Compare(left, op, right):
            value = params[right.name] if isinstance(right, Param) else _literal(right)
            return _OPERATORS[op](fields[left.name], value)
        case IsNull(field):
            return fields[field.name].is_(None)
        case IsTrue(field):
            return fields[field.name]
        case AllOf(parts):
            return and_(*(_compile(p, fields, params) for p in parts))
        case AnyOf(parts):
            return or_(*(_compile(p, fields, params) for p in parts))
        case Not(part):
            return not_(_compile(part, fields, params))


def to_sql(predicate: Predicate, fields: Bindings, params: Bindings) -> ColumnElement[bool]:
    """``fields`` binds each fact the predicate reads to a column or a boolean subquery;
    ``params`` binds its parameters (usually ``bindparam``s)."""
    missing = field_names(predicate) - set(fields)
    if missing:
        raise KeyError(f"no SQL binding for {sorted(missing)}")
    return _compile(predicate, fields, params)
