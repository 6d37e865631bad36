"""Row predicates as data (pure): a rule is written once here, evaluated in Python by
``evaluate``/``holds``, and compiled to SQL by the repositories (engine/work/predicate_sql.py),
so the two forms cannot drift apart.

Evaluation follows SQL's three-valued logic: a comparison with a missing value (NULL) is
unknown, NOT unknown is unknown, AND/OR combine unknowns as SQL does, and a row matches only
when the predicate is true.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

Constant = str | int


@dataclass(frozen=True)
class Field:
    """A fact about the candidate row (a column, or a relation the compiler binds)."""

    name: str


@dataclass(frozen=True)
class Param:
    """A value given when the rule is applied (the time now, the worker)."""

    name: str


class Op(StrEnum):
    EQ = "="
    NE = "<>"
    LE = "<="
    GT = ">"


@dataclass(frozen=True)
class Compare:
    left: Field
    op: Op
    right: Param | Constant


@dataclass(frozen=True)
class IsNull:
    field: Field


@dataclass(frozen=True)
class IsTrue:
    """A yes/no fact about the row, such as "the worker answered this task" (never NULL)."""

    field: Field


@dataclass(frozen=True)
class AllOf:
    parts: tuple[Predicate, ...]


@dataclass(frozen=True)
class AnyOf:
    parts: tuple[Predicate, ...]


@dataclass(frozen=True)
class Not:
    part: Predicate


Predicate = Compare | IsNull | IsTrue | AllOf | AnyOf | Not


def eq(field: Field, value: Constant) -> Compare:
    return Compare(field, Op.EQ, value)


def ne(field: Field, value: Constant) -> Compare:
    return Compare(field, Op.NE, value)


def at_or_before(field: Field, param: Param) -> Compare:
    return Compare(field, Op.LE, param)


def after(field: Field, param: Param) -> Compare:
    return Compare(field, Op.GT, param)


def all_of(*parts: Predicate) -> AllOf:
    return AllOf(parts)


def any_of(*parts: Predicate) -> AnyOf:
    return AnyOf(parts)


def not_(part: Predicate) -> Not:
    return Not(part)


def is_null(field: Field) -> IsNull:
    return IsNull(field)


def not_null(field: Field) -> Not:
    return Not(IsNull(field))


def is_true(field: Field) -> IsTrue:
    return IsTrue(field)


Facts = Mapping[str, Any]


_OPERATORS: Mapping[Op, Callable[[Any, Any], Any]] = {
    Op.EQ: operator.eq, Op.NE: operator.ne, Op.LE: operator.le, Op.GT: operator.gt,
}  # fmt: skip


def _compare(left: Any, op: Op, right: Any) -> bool | None:
    if left is None or right is None:
        return None
    if isinstance(left, datetime) != isinstance(right, datetime):
        raise TypeError(f"cannot compare {left!r} with {right!r}")
    return bool(_OPERATORS[op](left, right))


def _combine(results: list[bool | None], *, all_: bool) -> bool | None:
    """SQL's AND (``all_``) or OR over true, false and unknown."""
    decisive = not all_  # False decides an AND, True decides an OR
    if decisive in results:
        return decisive
    return None if None in results else all_


def evaluate(predicate: Predicate, facts: Facts, params: Facts) -> bool | None:
    """True, False or None (unknown, as SQL's NULL). A fact or parameter the rule names but
    the caller did not give is an error, never a silent unknown."""
    match predicate:
        case Compare(left, op, right):
            value = params[right.name] if isinstance(right, Param) else right
            return _compare(facts[left.name], op, value)
        case IsNull(field):
            return facts[field.name] is None
        case IsTrue(field):
            return bool(facts[field.name])
        case AllOf(parts):
            return _combine([evaluate(p, facts, params) for p in parts], all_=True)
        case AnyOf(parts):
            return _combine([evaluate(p, facts, params) for p in parts], all_=False)
        case Not(part):
            result = evaluate(part, facts, params)
            return None if result is None else not result


def holds(predicate: Predicate, facts: Facts, params: Facts) -> bool:
    """Whether a row with these facts matches (as a SQL WHERE clause would select it)."""
    return evaluate(predicate, facts, params) is True


def field_names(predicate: Predicate) -> set[str]:
    """Every fact the predicate reads (a compiler binds each to a column or subquery)."""
    match predicate:
        case Compare(left, _op, _right):
            return {left.name}
        case IsNull(field) | IsTrue(field):
            return {field.name}
        case AllOf(parts) | AnyOf(parts):
            return set().union(*(field_names(p) for p in parts))
        case Not(part):
            return field_names(part)
