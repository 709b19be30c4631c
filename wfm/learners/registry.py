"""Registry entries of the learners (plain data; see :mod:`wfm.learners`)."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field

from wfm.backends import DEFAULT_SHARDS
from wfm.errors import ConfigError
from wfm.params import (
    Param,
    at_least,
    between,
    greater,
    list_of_pairs,
    one_of,
    resolve_params,
)

__all__ = ["LEARNERS", "LearnerInfo", "get_learner", "learner_names", "register"]

#: trace field -> (dtype, description, units)
TraceFields = dict[str, tuple[str, str, str]]


@dataclass(frozen=True)
class LearnerInfo:
    """One learner.

    Attributes
    ----------
    name : str
    module : str or module
        Dotted name of the module holding ``learn(problem, params, ctx)`` (or the
        module object itself, for learners defined outside the package, e.g. tests).
    description : str
        One line.
    params : tuple of Param
    goal : {"solution", "fixed-point"}
        What "success" means: zero training errors, or a converged fixed point (plain
        BP, an entropy estimator). An unreached goal is reported as unsolved.
    kernels : tuple of str
        Kernel families it runs (:mod:`wfm.backends`); its devices are those every
        family has.
    trace_fields : dict
        Trace key -> ``(dtype, description, units)``; dtype ``int64``/``float64``.
    cross_check : callable, optional
        ``cross_check(params) -> message or None`` for constraints between parameters.
    bytes_per_edge : int
        Memory per (pattern, weight) pair of the learner's state (BP: 17, two float64
        messages and an int8 signed pattern); runs that cannot fit are refused.
    """

    name: str
    module: object
    description: str
    params: tuple
    goal: str = "solution"
    kernels: tuple = ()
    trace_fields: dict = field(default_factory=dict)
    cross_check: Callable | None = None
    bytes_per_edge: int = 0

    def load(self):
        """The learner's module (imports numba and its kernels)."""
        if isinstance(self.module, str):
            return importlib.import_module(self.module)
        return self.module

    def param(self, name: str) -> Param:
        return next(p for p in self.params if p.name == name)

    def resolve(self, given: dict, model=None) -> dict:
        """Every parameter, validated: ``given`` values over the defaults of ``model``
        (a :class:`wfm.models.ModelInfo`, or None for the declared defaults)."""
        out = resolve_params(
            given, self.params, section="learner", model=model,
            owner=f"learner {self.name!r}",
        )  # fmt: skip
        if self.cross_check is not None:
            msg = self.cross_check(out)
            if msg:
                raise ConfigError(f"learner.{msg}")
        return out


LEARNERS: dict[str, LearnerInfo] = {}


def register(info: LearnerInfo) -> LearnerInfo:
    if info.name in LEARNERS:
        raise ValueError(f"learner {info.name!r} is registered already")
    LEARNERS[info.name] = info
    return info


def learner_names() -> tuple[str, ...]:
    return tuple(LEARNERS)


def get_learner(name: str) -> LearnerInfo:
    """The entry of learner ``name``; ConfigError listing the choices otherwise."""
    try:
        return LEARNERS[name]
    except (KeyError, TypeError):
        raise ConfigError(
            f"learner.name must be one of {', '.join(LEARNERS)}; got {name!r}"
        ) from None


# ------------------------------------------------------------------ entries
_SHARDS = Param(
    "shards", "int", DEFAULT_SHARDS,
    "factors of a sweep are cut into this many pieces updated in parallel "
    "(results depend on it, not on the thread count; 1 = fully sequential)",
    at_least(1),
)  # fmt: skip
_RANDFACT = Param(
    "randfact", "float", 0.01,
    "scale of the random initial messages atanh(randfact U(-1, 1))",
    between(0.0, 1.0),
)  # fmt: skip
_DAMPING = Param(
    "damping", "float", 0.0, "damping of the messages in field space",
    between(0.0, 1.0),
)  # fmt: skip

_BP_TRACE = {
    "iteration": ("int64", "BP sweeps done", "sweeps"),
    "maxdiff": ("float64", "largest change of a magnetisation in the sweep", "1"),
}


def _fbp_cross_check(p):
    if p["protocol"] == "scoping":
        if not p["y"] > 0:
            return f"y must be > 0 for the scoping protocol, got {p['y']}"
        if p["gamma_stop"] < p["gamma_start"]:
            return (
                f"gamma_stop must be >= gamma_start, got {p['gamma_stop']} < "
                f"{p['gamma_start']}"
            )
    if p["protocol"] == "free" and not p["schedule"]:
        return "schedule must be a non-empty list of [gamma, y] pairs for protocol free"
    return None


register(
    LearnerInfo(
        name="bp",
        module="wfm.learners.bp",
        description="plain belief propagation to a fixed point: the Bethe entropy of "
        "the instance",
        goal="fixed-point",
        kernels=("bp",),
        params=(
            Param("max_sweeps", "int", 1000, "sweeps before giving up", at_least(1)),
            Param(
                "eps",
                "float",
                1e-6,
                "convergence: largest magnetisation change of a sweep",
                greater(0.0),
            ),  # fmt: skip
            _DAMPING,
            _SHARDS,
            _RANDFACT,
        ),
        trace_fields=dict(_BP_TRACE),
        bytes_per_edge=17,
    )
)

register(
    LearnerInfo(
        name="fbp",
        module="wfm.learners.fbp",
        description="focusing belief propagation [P0]: BP with a growing coupling of "
        "y replicas to their centre",
        kernels=("bp",),
        params=(
            Param(
                "protocol",
                "str",
                "standard",
                "focusing protocol: standard reinforcement, pseudo-reinforcement, "
                "scoping (fixed y, growing gamma) or free (explicit schedule)",
                one_of("standard", "pseudo", "scoping", "free"),
            ),  # fmt: skip
            Param(
                "dr",
                "float",
                0.002,
                "step of rho in [0, 1) of the standard/pseudo protocols",
                between(0.0, 1.0, lo_open=True),
                per_model={"machine": 0.005},
            ),  # fmt: skip
            Param(
                "x",
                "float",
                0.5,
                "exponent of the pseudo-reinforcement",
                between(0.0, 1.0, hi_open=False),
            ),  # fmt: skip
            Param(
                "y",
                "float",
                0.0,
                "number of replicas of the scoping protocol (0 = unset)",
                at_least(0.0),
            ),  # fmt: skip
            Param(
                "gamma_start", "float", 0.0, "scoping: first coupling", at_least(0.0)
            ),
            Param("gamma_step", "float", 0.1, "scoping: coupling step", greater(0.0)),
            Param("gamma_stop", "float", 10.0, "scoping: last coupling", at_least(0.0)),
            Param(
                "schedule",
                "list",
                [],
                "free protocol: list of [gamma, y] pairs (gamma may be inf)",
                list_of_pairs,
            ),  # fmt: skip
            Param(
                "sweeps_per_step",
                "int",
                1,
                "BP sweeps per protocol step (fewer if converged first)",
                at_least(1),
            ),  # fmt: skip
            Param(
                "eps",
                "float",
                1e-3,
                "a protocol step ends early when a sweep changes no magnetisation by "
                "more than eps",
                greater(0.0),
            ),  # fmt: skip
            Param(
                "damping",
                "float",
                0.5,
                "damping of the messages in field space",
                between(0.0, 1.0),
            ),  # fmt: skip
            _SHARDS,
            Param(
                "randfact",
                "float",
                0.01,
                "scale of the random initial messages atanh(randfact U(-1, 1))",
                between(0.0, 1.0),
                per_model={"machine": 0.1},
            ),  # fmt: skip
            Param(
                "interleave",
                "bool",
                False,
                "machines: focusing factors visited among the patterns (the reference "
                "code's schedule); ignored by the perceptron",
            ),  # fmt: skip
            Param(
                "hidden_field",
                "float",
                0.0,
                "machines: scale of random initial output->hidden messages (breaks the "
                "parity machine's symmetry); ignored by the perceptron",
                at_least(0.0),
            ),  # fmt: skip
        ),
        trace_fields={
            **_BP_TRACE,
            "step": ("int64", "protocol step (0-based)", "1"),
            "gamma": ("float64", "coupling of the replicas to their centre", "1"),
            "y": ("float64", "number of replicas", "1"),
            "errors": (
                "int64",
                "training errors of sign(H) after the sweep",
                "patterns",
            ),
        },
        cross_check=_fbp_cross_check,
        bytes_per_edge=17,
    )
)


def _edmc_cross_check(p):
    if p["lambda_max"] < p["lambda_start"]:
        return (
            f"lambda_max must be >= lambda_start, got {p['lambda_max']} < "
            f"{p['lambda_start']}"
        )
    return None


register(
    LearnerInfo(
        name="entropy-mc",
        module="wfm.learners.entropy_mc",
        description="entropy-driven Monte Carlo [P0]: moves of the reference scored by "
        "its BP local free entropy",
        kernels=("bp",),
        params=(
            Param("lambda_start", "float", 0.2, "first coupling lambda", greater(0.0)),
            Param(
                "lambda_factor",
                "float",
                1.1,
                "lambda <- lambda * factor per step",
                greater(1.0),
            ),  # fmt: skip
            Param("lambda_max", "float", 8.0, "last coupling", greater(0.0)),
            Param(
                "temperature",
                "float",
                0.0,
                "Metropolis temperature (0 = greedy)",
                at_least(0.0),
            ),  # fmt: skip
            Param(
                "moves_per_step",
                "int",
                0,
                "accepted moves per lambda (0 = N)",
                at_least(0),
            ),  # fmt: skip
            Param(
                "candidates",
                "int",
                4,
                "sites proposed per move, most disagreeing marginal first",
                at_least(1),
            ),  # fmt: skip
            Param(
                "random_candidates",
                "int",
                0,
                "extra random sites proposed per move",
                at_least(0),
            ),  # fmt: skip
            Param(
                "sweeps_per_move",
                "int",
                6,
                "warm-started BP sweeps scoring a proposal",
                at_least(1),
            ),  # fmt: skip
            Param(
                "max_sweeps",
                "int",
                100,
                "BP sweeps after a change of lambda",
                at_least(1),
            ),  # fmt: skip
            Param("eps", "float", 1e-4, "BP convergence tolerance", greater(0.0)),
            _DAMPING,
            Param(
                "shards",
                "int",
                1,
                "factors of a sweep cut into this many parallel pieces",
                at_least(1),
            ),  # fmt: skip
            _RANDFACT,
        ),
        trace_fields={
            "iteration": ("int64", "BP sweeps done", "sweeps"),
            "lambda": ("float64", "coupling to the reference", "1"),
            "free_entropy": (
                "float64",
                "Bethe local free entropy phi",
                "nats per weight",
            ),
            "accepted": ("int64", "accepted moves at this lambda", "moves"),
            "proposed": ("int64", "proposed moves at this lambda", "moves"),
            "errors": ("int64", "training errors of the reference", "patterns"),
        },
        cross_check=_edmc_cross_check,
        bytes_per_edge=17,
    )
)
