"""Declarative schedules of learner parameters (gamma, learning rate, coupling, norm).

A schedule is a value that changes with the epoch ``t = 0, 1, 2, ...``, written in a
config as plain TOML/JSON data:

==========================================  ====================================
value                                       ``v(t)``
==========================================  ====================================
``0.5`` (a number)                          ``0.5`` (constant)
``["const", a]``                            ``a``
``["linear", start, step]``                 ``start + step t``
``["linear", start, step, stop]``           the same, held at ``stop`` once reached
``["exp", start, rate]``                    ``start (1 + rate)^t``
``["exp", start, rate, stop]``              the same, held at ``stop`` once reached
``["step", start, factor, every]``          ``start factor^(t // every)``
``["step", start, factor, every, stop]``    the same, held at ``stop`` once reached
==========================================  ====================================

A TOML table names the same fields: ``{kind = "linear", start = 0.05, step = 0.001}``,
``{kind = "exp", start = 0.5, rate = 0.01, stop = 20}``, ``{kind = "step", start = 0.1,
factor = 0.5, every = 100}``, ``{kind = "const", value = 2}``. ``exp`` is the
multiplicative scoping of [P0] (``gamma_t = gamma_0 (1 + gamma_1)^t``), ``linear`` the
additive one (``gamma += gamma_step`` per epoch, BinaryCommitteeMachineRSGD.jl).

Every value a schedule takes lies between ``start`` and ``stop`` (``stop`` = the limit
of the schedule when none is given), so the constraint of the parameter (e.g. ``lr >
0``) is checked on ``start`` and ``stop`` once, at the config boundary
(:func:`schedule_check`); a decreasing linear schedule needs a ``stop``, since it would
otherwise leave any bounded range; a decaying ``exp``/``step`` schedule without ``stop``
tends to 0 without reaching it. This module is plain Python (no numpy, no numba).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Mapping
from dataclasses import dataclass

__all__ = ["KINDS", "Schedule", "parse_schedule", "schedule_check"]

#: kind -> names of its numeric fields, in list order (the last one optional: stop)
KINDS = {
    "const": ("value",),
    "linear": ("start", "step", "stop"),
    "exp": ("start", "rate", "stop"),
    "step": ("start", "factor", "every", "stop"),
}
_FORMS = (
    'a number, ["const", a], ["linear", start, step(, stop)], ["exp", start, '
    'rate(, stop)], ["step", start, factor, every(, stop)] or a table with kind = ...'
)


@dataclass(frozen=True)
class Schedule:
    """A parsed schedule; ``schedule(t)`` is its value at epoch ``t``."""

    kind: str
    start: float
    rate: float = 0.0  # step (linear), rate (exp) or factor (step)
    every: int = 1
    stop: float | None = None

    def __call__(self, t: int) -> float:
        if self.kind == "const":
            return self.start
        if self.kind == "linear":
            v = self.start + self.rate * t
        elif self.kind == "exp":
            v = self.start * (1.0 + self.rate) ** t
        else:
            v = self.start * self.rate ** (t // self.every)
        if self.stop is not None:
            rising = self.stop >= self.start
            v = min(v, self.stop) if rising else max(v, self.stop)
        return float(v)

    @property
    def bounds(self) -> tuple[float, float]:
        """``(start, end)``: every value lies between them (``end`` the limit)."""
        if self.stop is not None:
            return self.start, self.stop
        if self.kind == "const":
            return self.start, self.start
        if self.kind == "linear":
            return self.start, (math.inf if self.rate > 0 else self.start)
        growth = self.rate if self.kind == "step" else 1.0 + self.rate
        if growth > 1.0:
            return self.start, math.copysign(math.inf, self.start)
        # decaying towards 0 without reaching it: start bounds the values
        return self.start, self.start


def _real(v):
    return isinstance(v, numbers.Real) and not isinstance(v, bool) and math.isfinite(v)


def parse_schedule(value) -> Schedule:
    """The :class:`Schedule` of a config value; ``ValueError`` with the message tail
    (``"must be ..., got ..."``) if malformed."""
    bad = ValueError(f"must be {_FORMS}; got {value!r}")
    if _real(value):
        return Schedule("const", float(value))
    if isinstance(value, Mapping):
        fields = dict(value)
        kind = fields.pop("kind", None)
        if kind not in KINDS or not set(fields) <= set(KINDS[kind]):
            raise bad
        names = KINDS[kind]
        required = names if kind == "const" else names[:-1]
        if not set(required) <= set(fields):
            raise bad
        items = [fields[n] for n in names if n in fields]
    elif isinstance(value, (list, tuple)) and value and value[0] in KINDS:
        kind, items = value[0], list(value[1:])
        names = KINDS[kind]
        n_min = len(names) if kind == "const" else len(names) - 1
        if not n_min <= len(items) <= len(names):
            raise bad
    else:
        raise bad
    if not all(_real(x) for x in items):
        raise bad
    items = [float(x) for x in items]
    if kind == "const":
        return Schedule("const", items[0])
    if kind == "step":
        start, factor, every = items[:3]
        if not (factor > 0.0 and every >= 1 and every.is_integer()):
            raise ValueError(
                f"must have factor > 0 and an integer every >= 1; got {value!r}"
            )
        stop = items[3] if len(items) == 4 else None
        return Schedule("step", start, factor, int(every), stop)
    start, rate = items[:2]
    stop = items[2] if len(items) == 3 else None
    if kind == "exp" and not rate > -1.0:
        raise ValueError(f"must have an exp rate > -1; got {value!r}")
    if kind == "linear" and rate < 0.0 and stop is None:
        raise ValueError(f"must have a stop value when decreasing; got {value!r}")
    return Schedule(kind, start, rate, 1, stop)


def schedule_check(value_check: Callable | None = None) -> Callable:
    """A :class:`wfm.params.Param` check: a well-formed schedule whose values all
    satisfy ``value_check`` (checked on its start and its end)."""

    def check(v):
        try:
            s = parse_schedule(v)
        except ValueError as exc:
            return str(exc)
        if value_check is None:
            return None
        for bound in s.bounds:
            msg = value_check(bound)
            if msg is not None:
                return msg if s.kind == "const" else f"values {msg} (schedule {v!r})"
        return None

    inner = getattr(value_check, "text", "")
    check.text = "schedule" + (f", values {inner}" if inner else "")
    return check
