"""Registry entries of the learners (plain data; see :mod:`wfm.learners`)."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field

from wfm.backends import DEFAULT_SHARDS
from wfm.errors import ConfigError
from wfm.learners.schedules import schedule_check
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
    pattern_storage : bool
        The learner takes a pattern storage of :mod:`wfm.patterns` (bit-packed or
        generated on the fly) in place of an array: it can run ``data.kind =
        "hashed"``.
    external_field : bool
        Honours :attr:`Problem.external_field` (fields added to the weights).
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
    pattern_storage: bool = False
    external_field: bool = False

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

_FAST = Param(
    "fast", "bool", False,
    "perceptron: the fast BP sweep (vectorised approximations of exp, log, erfc; "
    "error < 2e-13 per message in float64, wfm.kernels.approx)",
)  # fmt: skip
_PRECISION = Param(
    "precision", "str", "float64",
    "dtype of the BP messages on the fast path; float32 halves their memory and "
    "runs ~2x faster, messages within ~1e-6 of float64",
    one_of("float64", "float32"),
)  # fmt: skip


def _precision_check(p):
    if p["precision"] == "float32" and not p["fast"]:
        return "precision float32 needs fast = true (the exact path is float64)"
    return None


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
    return _precision_check(p)


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
            _FAST,
            _PRECISION,
        ),
        trace_fields=dict(_BP_TRACE),
        cross_check=_precision_check,
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
            _FAST,
            _PRECISION,
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
        external_field=True,
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


# ------------------------------------------------------------ gradient learners
_EPOCH_TRACE = {"epoch": ("int64", "epochs done", "epochs")}


def _minibatch_params(batch, lr, lr_doc, epochs=1000):
    return (
        Param("epochs", "int", epochs, "epochs before giving up", at_least(1)),
        Param(
            "batch",
            "int",
            batch,
            "minibatch size (the last minibatch of an epoch may be shorter)",
            at_least(1),
        ),  # fmt: skip
        Param("lr", "schedule", lr, lr_doc, schedule_check(greater(0.0))),
    )


_SGD_PARAMS = (
    *_minibatch_params(
        100,
        0.5,
        "learning rate per epoch, a schedule (wfm.learners.schedules)",
        epochs=5000,
    ),
    Param(
        "gamma",
        "schedule",
        ["exp", 0.5, 0.01, 50.0],
        "inverse temperature of the ce loss f_gamma per epoch, a schedule: slow "
        "growth (small rate) is the protocol towards wide flat minima [P1], fast "
        "growth the one towards sharper ones",
        schedule_check(greater(0.0)),
    ),  # fmt: skip
    Param("loss", "str", "ce", "loss of the stabilities", one_of("ce", "hinge", "mse")),
    Param(
        "init_scale",
        "float",
        0.1,
        "standard deviation of the initial (latent) weights (the spherical "
        "perceptron's are projected on |W|^2 = N)",
        greater(0.0),
    ),  # fmt: skip
    Param(
        "activation",
        "str",
        "tanh",
        "machines: hidden-unit activation of the gradient (the network itself votes "
        "with sign); ignored by the perceptrons",
        one_of("tanh", "relu", "linear"),
    ),  # fmt: skip
)

_SGD_TRACE = {
    **_EPOCH_TRACE,
    "errors": ("int64", "training errors after the epoch", "patterns"),
    "loss": ("float64", "mean minibatch loss over the epoch", "1"),
    "norm": ("float64", "weight norm |W| / sqrt(number of weights)", "1"),
    "gamma": ("float64", "inverse temperature of the ce loss this epoch", "1"),
    "lr": ("float64", "learning rate this epoch", "1"),
    "test_error": (
        "float64",
        "fraction of test patterns misclassified (NaN without a test set)",
        "1",
    ),
}

register(
    LearnerInfo(
        name="sgd-ce",
        module="wfm.learners.sgd",
        description="minibatch SGD on the cross-entropy f_gamma with a gamma schedule "
        "[P1] (binary weights: latent continuous weights, straight-through gradient; "
        "spherical: weights kept on |W|^2 = N)",
        kernels=("sgd",),
        params=_SGD_PARAMS,
        trace_fields=dict(_SGD_TRACE),
    )
)

register(
    LearnerInfo(
        name="rsgd",
        module="wfm.learners.rsgd",
        description="replicated SGD [P0, P2]: y replicas with an elastic pull to their "
        "centre; binary weights (perceptron, committees): hidden fields and "
        "perceptron-rule steps; spherical perceptron: SGD on the ce loss",
        kernels=("sgd",),
        params=(
            *_minibatch_params(80, 2.0, "")[:2],
            Param(
                "lr",
                "schedule",
                2.0,
                "eta, step of the perceptron rule on the hidden fields (continuous "
                "weights: of SGD on each replica), a schedule",
                schedule_check(greater(0.0)),
                per_model={"perceptron-spherical": 0.5},
            ),  # fmt: skip
            Param("y", "int", 7, "number of replicas", at_least(1)),
            Param(
                "lam",
                "schedule",
                0.75,
                "lambda, step of the elastic pull to the centre, a schedule",
                schedule_check(at_least(0.0)),
            ),  # fmt: skip
            Param(
                "gamma",
                "schedule",
                ["linear", 0.05, 0.001],
                "coupling of the replicas to the centre per epoch, a schedule",
                schedule_check(at_least(0.0)),
            ),  # fmt: skip
            Param(
                "pull",
                "str",
                "tanh",
                "formula of the pull: tanh(gamma y H^c) - W (tanh), clamp instead of "
                "tanh (hard), or tanh(gamma y H^c) - tanh(gamma y) W (corrected, eq. "
                "C9 of [P0])",
                one_of("tanh", "hard", "corrected"),
            ),  # fmt: skip
            Param(
                "wait_center",
                "bool",
                False,
                "stop only when the centre has zero errors (else also when a replica "
                "has)",
            ),  # fmt: skip
            Param(
                "beta",
                "schedule",
                ["exp", 0.5, 0.01, 50.0],
                "continuous weights: inverse temperature of the ce loss per epoch "
                "(sgd-ce's gamma), a schedule",
                schedule_check(greater(0.0)),
            ),  # fmt: skip
            *(p for p in _SGD_PARAMS if p.name in ("loss", "init_scale")),
        ),
        trace_fields={
            **_EPOCH_TRACE,
            "errors": (
                "int64",
                "training errors of the centre (binary: sign(H^c))",
                "patterns",
            ),
            "min_replica_errors": (
                "int64",
                "fewest training errors of a replica",
                "patterns",
            ),
            "distance": (
                "float64",
                "mean Hamming distance replica-centre per weight (continuous: mean "
                "|W^a - W^c| / sqrt(N))",
                "1",
            ),
            "gamma": ("float64", "coupling to the centre this epoch", "1"),
            "test_error": _SGD_TRACE["test_error"],
            "loss": ("float64", "continuous: mean minibatch loss of the replicas", "1"),
            "beta": ("float64", "continuous: inverse temperature of the ce loss", "1"),
            "lr": ("float64", "continuous: learning rate this epoch", "1"),
            "norm": ("float64", "continuous: norm of the centre / sqrt(N)", "1"),
        },
    )
)

_RHO = Param(
    "rho",
    "float",
    0.05,
    "radius of the ascent step (in units of the weights; 0 = plain SGD)",
    at_least(0.0),
)
_ADAPTIVE = Param(
    "adaptive", "bool", False,
    "ASAM: the ball scaled by |W| elementwise (scale-invariant)",
)  # fmt: skip
_SHARPNESS_TRACE = {
    "sharpness": (
        "float64",
        "epoch mean of L(W + eps) - L(W) on the minibatch (the ascent's gain)",
        "1",
    )
}

register(
    LearnerInfo(
        name="sam",
        module="wfm.learners.sam",
        description="sharpness-aware minimisation [S] on the loop of sgd-ce: each "
        "step takes the gradient at the worst point of a ball of radius rho",
        kernels=("sgd",),
        params=(*_SGD_PARAMS, _RHO, _ADAPTIVE),
        trace_fields=_SGD_TRACE | _SHARPNESS_TRACE,
    )
)

register(
    LearnerInfo(
        name="sa-gd",
        module="wfm.learners.sagd",
        description="sharpness-aware gradient descent: gradient of the maximal loss "
        "in a ball of radius rho, the maximum found by projected ascent (1 step = SAM)",
        kernels=("sgd",),
        params=(
            *_SGD_PARAMS,
            _RHO,
            _ADAPTIVE,
            Param(
                "ascent_steps",
                "int",
                3,
                "projected normalised ascent steps (lengths rho/1, rho/2, ...) "
                "towards the maximal loss in the ball; 1 = SAM",
                at_least(1),
            ),
        ),
        trace_fields=_SGD_TRACE | _SHARPNESS_TRACE,
    )
)

register(
    LearnerInfo(
        name="esgd",
        module="wfm.learners.esgd",
        description="Entropy-SGD [S]: outer steps along -gamma (W - mu), mu the "
        "average of an inner Langevin (SGLD) chain coupled to W",
        kernels=("sgd",),
        params=(
            *_minibatch_params(
                100,
                1.0,
                "eta, step of the outer update W -= eta gamma (W - mu), a schedule",
                epochs=5000,
            ),
            *_SGD_PARAMS[3:],
            Param(
                "coupling",
                "schedule",
                ["exp", 0.5, 0.01, 1.0],
                "gamma of Chaudhari et al., coupling of the inner chain to W per "
                "epoch, a schedule (scoped up)",
                schedule_check(greater(0.0)),
            ),
            Param(
                "inner_steps",
                "int",
                5,
                "L, SGLD steps (minibatches) per outer step",
                at_least(1),
            ),  # fmt: skip
            Param(
                "inner_lr",
                "float",
                0.5,
                "eta', step of the SGLD chain",
                greater(0.0),
            ),  # fmt: skip
            Param(
                "noise",
                "float",
                1e-4,
                "epsilon, thermal noise: sqrt(eta') epsilon N(0, I) per SGLD step",
                at_least(0.0),
            ),  # fmt: skip
            Param(
                "average",
                "float",
                0.75,
                "alpha, weight of the newest W' in the running average mu",
                between(0.0, 1.0, lo_open=True, hi_open=False),
            ),  # fmt: skip
        ),
        trace_fields=_SGD_TRACE
        | {
            "coupling": (
                "float64",
                "coupling gamma of the inner chain this epoch",
                "1",
            ),
            "distance": (
                "float64",
                "epoch mean of |W - mu| / sqrt(number of weights) before the outer "
                "steps",
                "1",
            ),
        },
    )
)

register(
    LearnerInfo(
        name="swa",
        module="wfm.learners.swa",
        description="stochastic weight averaging [S]: SGD, then the average of the "
        "iterates of an averaging phase (dense = SWAD, every step)",
        kernels=("sgd",),
        params=(
            *_SGD_PARAMS,
            Param(
                "swa_start",
                "int",
                0,
                "epoch at which averaging starts at the latest (0 = only when the "
                "iterate first has zero errors)",
                at_least(0),
            ),  # fmt: skip
            Param(
                "swa_epochs",
                "int",
                50,
                "length of the averaging phase, epochs",
                at_least(1),
            ),  # fmt: skip
            Param(
                "swa_lr",
                "float",
                0.0,
                "constant learning rate of the averaging phase (0 = keep lr)",
                at_least(0.0),
            ),  # fmt: skip
            Param(
                "dense",
                "bool",
                False,
                "SWAD: average after every minibatch step, not every epoch",
            ),  # fmt: skip
        ),
        trace_fields=_SGD_TRACE
        | {
            "averaged": ("int64", "iterates in the average so far", "iterates"),
            "iterate_errors": (
                "int64",
                "training errors of the SGD iterate",
                "patterns",
            ),  # fmt: skip
        },
    )
)

register(
    LearnerInfo(
        name="rpgd",
        module="wfm.learners.rpgd",
        description="random-perturbation GD [S]: gradients at W + sigma z, z ~ N(0, "
        "I), descend the smoothed loss L + (sigma^2/2) tr H",
        kernels=("sgd",),
        params=(
            *_SGD_PARAMS,
            Param(
                "sigma",
                "float",
                0.1,
                "standard deviation of the perturbation of each (latent) weight",
                at_least(0.0),
            ),  # fmt: skip
            Param(
                "samples",
                "int",
                1,
                "perturbations averaged per step (1 = the cheap variant)",
                at_least(1),
            ),  # fmt: skip
            Param(
                "antithetic",
                "bool",
                False,
                "pair every perturbation z with -z (cancels the first-order noise)",
            ),  # fmt: skip
        ),
        trace_fields=_SGD_TRACE,
    )
)


_AMP_PARAMS = (
    Param(
        "field",
        "str",
        "reinforcement",
        "growth of the focusing field: reinforcement f <- rho_t (B + f), or fBP's "
        "focusing field along a protocol",
        one_of("reinforcement", "focusing"),
    ),
    Param(
        "rate",
        "float",
        0.001,
        "reinforcement schedule rho_t = 1 - exp(-rate t), t = iteration",
        greater(0.0),
    ),
    Param(
        "protocol",
        "str",
        "pseudo",
        "focusing protocol of field='focusing' (one AMP iteration a step)",
        one_of("standard", "pseudo"),
    ),
    Param(
        "dr",
        "float",
        0.001,
        "step of rho in [0, 1) of the focusing protocol",
        between(0.0, 1.0, lo_open=True),
    ),
    Param(
        "x",
        "float",
        0.5,
        "exponent of the pseudo-reinforcement protocol",
        between(0.0, 1.0, hi_open=False),
    ),
    Param(
        "damping",
        "float",
        0.5,
        "damping of the output messages g and the pattern fields B",
        between(0.0, 1.0),
    ),
    Param("max_iters", "int", 10000, "limit on AMP iterations", at_least(1)),
    Param(
        "storage",
        "str",
        "given",
        "pattern storage of the kernels: as given, or converted to int8 / bit-packed",
        one_of("given", "int8", "bits"),
    ),
    Param(
        "dtype",
        "str",
        "float64",
        "precision of the AMP state and of the matrix-vector products",
        one_of("float64", "float32"),
    ),
    Param(
        "randfact",
        "float",
        0.01,
        "initial magnetisations uniform in [-randfact, randfact]",
        between(0.0, 1.0),
    ),
)

register(
    LearnerInfo(
        name="amp",
        module="wfm.learners.amp",
        description="focusing BP in AMP form (one magnetisation per weight, one output "
        "message per pattern): O(N + P) memory besides the patterns",
        params=_AMP_PARAMS,
        kernels=("amp",),
        pattern_storage=True,
        trace_fields={
            "iteration": ("int64", "AMP iterations done", "iterations"),
            "rho": ("float64", "reinforcement rho_t = 1 - exp(-rate t)", "1"),
            "gamma": ("float64", "focusing coupling (field = focusing)", "1"),
            "y": ("float64", "number of replicas (field = focusing)", "1"),
            "maxdiff": ("float64", "largest change of a magnetisation", "1"),
            "errors": (
                "int64",
                "training errors of sign(m) before the iteration",
                "patterns",
            ),
            "V": ("float64", "mean variance of the weights, sum(1 - m^2)/N", "1"),
            "A": ("float64", "Onsager coefficient -sum(dg)/N", "1"),
        },  # fmt: skip
    )
)
