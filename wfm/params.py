"""Parameters declared as data, and the one machinery that validates them.

Every configurable quantity of wfm — a model field, a data field, a learner parameter,
a measure option — is a :class:`Param`: name, type, default (optionally per model),
constraint, one-line doc. Validation gives one message per error, naming the field:
``"learner.dr must be > 0, got 0.0"`` (style.md #6). This module imports nothing
heavy: :mod:`wfm.config` and the learner registry build on it without numba.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from wfm.errors import ConfigError

__all__ = [
    "Param",
    "at_least",
    "between",
    "greater",
    "list_of_pairs",
    "one_of",
    "resolve_params",
]


# --------------------------------------------------------------------- checks
# A check takes the (already type-coerced) value and returns None or the message
# tail, e.g. "must be > 0, got -1.0".
def greater(lo: float) -> Callable:
    """``value > lo``."""

    def check(v):
        return None if v > lo else f"must be > {lo:g}, got {v}"

    check.text = f"> {lo:g}"
    return check


def at_least(lo: float) -> Callable:
    """``value >= lo``."""

    def check(v):
        return None if v >= lo else f"must be >= {lo:g}, got {v}"

    check.text = f">= {lo:g}"
    return check


def between(lo: float, hi: float, *, hi_open=True, lo_open=False) -> Callable:
    """``lo <= value < hi`` (ends open or closed as asked)."""
    left, right = ("(" if lo_open else "["), (")" if hi_open else "]")

    def check(v):
        low_ok = v > lo if lo_open else v >= lo
        high_ok = v < hi if hi_open else v <= hi
        if low_ok and high_ok:
            return None
        return f"must be in {left}{lo:g}, {hi:g}{right}, got {v}"

    check.text = f"in {left}{lo:g}, {hi:g}{right}"
    return check


def one_of(*choices) -> Callable:
    """``value in choices``."""

    def check(v):
        if v in choices:
            return None
        return f"must be one of {', '.join(map(str, choices))}; got {v!r}"

    check.text = "one of " + ", ".join(map(str, choices))
    return check


def list_of_pairs(v):
    """A list of ``[a, b]`` pairs of finite numbers (e.g. a free focusing schedule)."""
    for item in v:
        if not (
            isinstance(item, (list, tuple))
            and len(item) == 2
            and all(_is_real(x) and not math.isnan(x) for x in item)
        ):
            return f"must be a list of [gamma, y] pairs, got {v!r}"
    return None


list_of_pairs.text = "list of [a, b] pairs"


# ---------------------------------------------------------------------- types
def _is_int(v):
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


def _is_real(v):
    return isinstance(v, numbers.Real) and not isinstance(v, bool)


def _coerce(kind: str, value, where: str):
    """``value`` as type ``kind`` or ConfigError (ints are accepted as floats)."""
    if kind == "bool":
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{where} must be true or false, got {value!r}")
    if kind == "int":
        if _is_int(value):
            return int(value)
        if _is_real(value) and float(value).is_integer():
            return int(value)
        raise ConfigError(f"{where} must be an integer, got {value!r}")
    if kind in ("float", "float+inf"):
        if not _is_real(value) or math.isnan(value):
            raise ConfigError(f"{where} must be a real number, got {value!r}")
        value = float(value)
        if kind == "float" and not math.isfinite(value):
            raise ConfigError(f"{where} must be finite, got {value}")
        return value
    if kind == "str":
        if isinstance(value, str):
            return value
        raise ConfigError(f"{where} must be a string, got {value!r}")
    if kind == "schedule":  # parsed and checked by wfm.learners.schedules
        if _is_real(value):
            return float(value)
        if isinstance(value, (list, tuple)):
            return list(value)
        if isinstance(value, Mapping):
            return dict(value)
        raise ConfigError(
            f"{where} must be a number, a list or a table (a schedule), got {value!r}"
        )
    if kind == "list":
        if isinstance(value, (list, tuple)):
            return [list(x) if isinstance(x, tuple) else x for x in value]
        raise ConfigError(f"{where} must be a list, got {value!r}")
    raise AssertionError(f"unknown parameter type {kind!r}")


@dataclass(frozen=True)
class Param:
    """One declared parameter.

    Attributes
    ----------
    name : str
    type : {"int", "float", "float+inf", "bool", "str", "list", "schedule"}
        ``"float+inf"`` accepts ``inf`` (e.g. an infinite coupling); ``"schedule"`` a
        number, list or table (:mod:`wfm.learners.schedules`).
    default : object
        The default value.
    doc : str
        One line: what it is, with units where it has any.
    check : callable, optional
        Constraint on the coerced value (see :func:`greater`, :func:`one_of`, ...).
    per_model : mapping, optional
        Model name or model family (:attr:`wfm.models.ModelInfo.family`) -> default
        that replaces ``default`` for those models (a name wins over its family).
    """

    name: str
    type: str
    default: object
    doc: str
    check: Callable | None = None
    per_model: Mapping = field(default_factory=dict)

    def default_for(self, model=None):
        """The default for ``model`` (a :class:`wfm.models.ModelInfo`, or None)."""
        value = self.default
        if model is not None:
            value = self.per_model.get(
                model.name, self.per_model.get(model.family, self.default)
            )
        return list(value) if isinstance(value, list) else value

    def validate(self, value, where: str):
        """Coerce and check ``value``; ConfigError naming ``where`` on failure."""
        value = _coerce(self.type, value, where)
        if self.check is not None:
            msg = self.check(value)
            if msg is not None:
                raise ConfigError(f"{where} {msg}")
        return value

    @property
    def constraint_text(self) -> str:
        """The constraint in words (for help texts and docs), ``""`` if none."""
        return getattr(self.check, "text", "") if self.check else ""


def resolve_params(
    params: Mapping, declared: tuple[Param, ...], *, section: str, model=None,
    owner: str = "",
) -> dict:  # fmt: skip
    """Every declared parameter resolved: the given value (validated) or the default.

    Parameters
    ----------
    params : mapping
        The values given by the user (or read back from a file).
    declared : tuple of Param
    section : str
        Prefix of error messages, e.g. ``"learner"``.
    model : ModelInfo, optional
        Selects per-model defaults.
    owner : str
        Named in the message for an unknown key (e.g. ``"learner 'fbp'"``).

    Returns
    -------
    dict
        Name -> value for every declared parameter, in declaration order.
    """
    by_name = {p.name: p for p in declared}
    unknown = sorted(set(params) - set(by_name))
    if unknown:
        raise ConfigError(
            f"{section}.{unknown[0]} is not a parameter of {owner or section}; "
            f"accepted: {', '.join(by_name)}"
        )
    out = {}
    for p in declared:
        if p.name in params:
            out[p.name] = p.validate(params[p.name], f"{section}.{p.name}")
        else:
            out[p.name] = p.default_for(model)
    return out
