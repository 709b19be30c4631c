"""Replica theory of the perceptron: Gardner entropy, capacity, local entropies.

Public API (every function validates its input once and raises ``ValueError`` with a
one-line message such as ``"alpha must be > 0, got -1.0"``):

``gardner_entropy(alpha, kappa=0.0, model="perceptron-binary", k=None)``
    -> ``GardnerResult``.
    RS Gardner entropy; fields ``value, q, qhat, converged, residual, iterations,
    alpha, kappa, model, approximation, k``; methods ``attrs()``.
    Models: ``"perceptron-binary"``, ``"perceptron-spherical"`` (log volume fraction of
    the sphere, ``s(0) = 0``), and the tree machines with sign activations
    ``"committee-tree"``, ``"parity"`` (binary weights) and
    ``"committee-tree-spherical"``, ``"parity-spherical"``, which need ``k`` (hidden
    units: odd for the committee, ``<= 7``, or ``math.inf`` for the large-``K``
    limit) and ``kappa = 0``; ``alpha`` is patterns per weight
    (:mod:`wfm.theory.machines`).
``capacity(model="perceptron-binary", kappa=0.0, k=None) -> float``
    Binary: zero of the RS entropy (0.8331 at kappa = 0). Spherical: closed form
    ``1/int_{-k}^inf Dt (t+k)^2`` (2 at kappa = 0). Tree machines: RS capacity
    (binary: zero of ``s``; spherical: ``q -> 1`` limit, exact 1-D integrals).
``local_entropy_typical(alpha, distances, kappa=0.0, model="perceptron-binary")``
    RS Franz–Parisi curve around equilibrium solutions -> ``LocalEntropyCurve``.
    Spherical model: log volume *fraction* of the sphere at overlap ``q = 1 - 2d``
    with the reference (exact: convex solution space); bound ``ln(1 - q^2)/2``.
``local_entropy_large_deviation(alpha, distances, kappa=0.0, model=..., k=None)``
    RS ``y -> inf`` large-deviation curve (densest regions, unconstrained centre)
    -> ``LocalEntropyCurve`` (order parameters ``q1, dq1, q0hat, dhat, rhat, regime``;
    ``S = s(alpha)`` for ``d >= d_c``; see :mod:`wfm.theory.large_deviation`).
    Milliseconds per distance for the perceptron; tree committee / parity machines
    (``model="committee-tree"|"parity"``, ``k <= 5`` or ``math.inf``,
    :mod:`wfm.theory.machines_ld`) seconds per distance.
``typical_positive_distance(alpha, kappa=0.0) -> float``
    Distance above which the typical (FP) curve becomes positive.
``generalization_error(alpha) -> GeneralizationResult``
    Gibbs learning, binary teacher–student, RS/Nishimori: fields ``alpha, epsilon, q,
    qhat, entropy, phase, converged, residual, approximation``.
``local_entropy_teacher(alpha, distances, model="perceptron-binary", k=None)``
    Local entropy around the teacher (binary teacher–student, kappa = 0): the
    Franz–Parisi potential of the teacher–student ensemble -> ``LocalEntropyCurve``
    (``kind="teacher"``; order parameters ``q1, q1hat, phat``); also for tree
    committee / parity machines (:mod:`wfm.theory.machines_teacher`).
``binary_entropy(d)``: the upper bound ``H2(d)``.

``LocalEntropyCurve`` fields: ``kind, model, alpha, kappa, approximation, distances,
local_entropy, order_parameters (dict of arrays), converged, residual, reference``;
``to_arrays()`` -> dict of 1-D arrays (``distance, local_entropy, upper_bound,
converged, residual`` and the order parameters), ``attrs()`` -> dict of scalars and
strings (``kind, model, alpha, kappa, approximation, reference_*``). Storage code can
write them under ``/theory/<name>/`` as datasets and attributes.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import replace

import numpy as np

from wfm._math import binary_entropy

from ._results import LocalEntropyCurve
from .franz_parisi import fp_binary_curve, fp_positive_distance
from .franz_parisi_spherical import fp_spherical_curve
from .gardner import (
    GardnerResult,
    GeneralizationResult,
    capacity_binary,
    gardner_binary,
    gardner_spherical,
    generalization_error_binary,
    spherical_capacity,
)
from .large_deviation import ld_binary_curve
from .machines import MACHINE_MODELS, capacity_machine, gardner_machine
from .machines import _check_k as check_k
from .machines_ld import machine_energetic
from .machines_teacher import ts_machine_curve
from .teacher_student import ts_binary_curve

__all__ = [
    "GardnerResult",
    "GeneralizationResult",
    "LocalEntropyCurve",
    "binary_entropy",
    "capacity",
    "gardner_entropy",
    "generalization_error",
    "local_entropy_large_deviation",
    "local_entropy_teacher",
    "local_entropy_typical",
    "typical_positive_distance",
]

PERCEPTRON_MODELS = ("perceptron-binary", "perceptron-spherical")
MODELS = PERCEPTRON_MODELS + MACHINE_MODELS
BINARY_MACHINES = ("committee-tree", "parity")


def _check_real(name, value, lo=None, lo_open=True, hi=None, hi_open=True):
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a real number, got {value!r}")
    value = float(value)
    if not np.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    if lo is not None and (value <= lo if lo_open else value < lo):
        raise ValueError(f"{name} must be {'>' if lo_open else '>='} {lo}, got {value}")
    if hi is not None and (value >= hi if hi_open else value > hi):
        raise ValueError(f"{name} must be {'<' if hi_open else '<='} {hi}, got {value}")
    return value


def _check_model(model, allowed=PERCEPTRON_MODELS):
    if model not in allowed:
        raise ValueError(f"model must be one of {allowed}, got {model!r}")


def _check_distances(distances):
    d = np.atleast_1d(np.asarray(distances, dtype=float))
    if d.ndim != 1 or d.size == 0:
        raise ValueError(
            f"distances must be a non-empty 1-D array, got shape {d.shape}"
        )
    if not np.all((d > 0) & (d < 0.5)):
        raise ValueError(f"distances must lie in (0, 0.5), got {d.min()}..{d.max()}")
    return d


def _check_machine_args(model, kappa, k):
    if model in MACHINE_MODELS:
        if kappa != 0.0:
            raise ValueError(f"kappa must be 0 for {model}, got {kappa}")
        if k is None:
            raise ValueError(f"model {model!r} needs k (number of hidden units)")
    elif k is not None and k != 1:
        raise ValueError(f"k must be None or 1 for {model}, got {k!r}")


def gardner_entropy(
    alpha, kappa=0.0, model="perceptron-binary", k=None
) -> GardnerResult:
    """RS Gardner entropy ``s(alpha)`` (see :mod:`wfm.theory.gardner`).

    Parameters
    ----------
    alpha : float
        Load ``P/N`` (patterns per weight), ``>= 0``.
    kappa : float
        Margin (0 for the tree machines).
    model : {"perceptron-binary", "perceptron-spherical", "committee-tree",
             "parity", "committee-tree-spherical", "parity-spherical"}
    k : int or math.inf, optional
        Hidden units of a tree machine (:mod:`wfm.theory.machines`).

    Returns
    -------
    GardnerResult
    """
    alpha = _check_real("alpha", alpha, lo=0.0, lo_open=False)
    kappa = _check_real("kappa", kappa)
    _check_model(model, MODELS)
    _check_machine_args(model, kappa, k)
    if model in MACHINE_MODELS:
        return gardner_machine(alpha, model, k)
    if model == "perceptron-binary":
        return gardner_binary(alpha, kappa)
    return gardner_spherical(alpha, kappa)


def capacity(model="perceptron-binary", kappa=0.0, k=None) -> float:
    """Storage capacity ``alpha_c`` (RS), patterns per weight.

    Binary perceptron: zero of the RS entropy (Krauth–Mézard). Spherical: Gardner
    closed form. Tree committee/parity machines (``k`` hidden units): zero of the RS
    entropy (binary weights) or the ``q -> 1`` limit (spherical weights), see
    :mod:`wfm.theory.machines`.
    """
    kappa = _check_real("kappa", kappa)
    _check_model(model, MODELS)
    _check_machine_args(model, kappa, k)
    if model in MACHINE_MODELS:
        return capacity_machine(model, k)
    if model == "perceptron-binary":
        return capacity_binary(kappa)
    return spherical_capacity(kappa)


def local_entropy_typical(
    alpha, distances, kappa=0.0, model="perceptron-binary"
) -> LocalEntropyCurve:
    """Franz–Parisi local entropy around typical solutions (RS).

    Parameters
    ----------
    alpha : float
        Load, ``0 < alpha < capacity``.
    distances : array_like
        Hamming distances ``d in (0, 0.5)`` (spherical: ``d = (1 - q)/2`` with ``q``
        the overlap ``W . W~/N``).
    kappa : float
    model : {"perceptron-binary", "perceptron-spherical"}

    Returns
    -------
    LocalEntropyCurve
        ``kind="typical"``; order parameters ``q1, q1hat, phat, p0, p0hat``
        (binary) or ``overlap, q1, p0`` (spherical, see
        :mod:`wfm.theory.franz_parisi_spherical`).
    """
    alpha = _check_real("alpha", alpha, lo=0.0)
    kappa = _check_real("kappa", kappa)
    if model in MACHINE_MODELS:
        raise ValueError(
            f"model {model!r}: the typical (storage Franz-Parisi) curve of tree "
            "machines is not implemented; local_entropy_teacher gives the curve "
            "around a typical solution of teacher-student data"
        )
    _check_model(model)
    d = _check_distances(distances)
    if model == "perceptron-spherical":
        alpha_c = spherical_capacity(kappa)
        if alpha >= alpha_c:
            raise ValueError(
                f"alpha must be < spherical capacity {alpha_c:.6g}, got {alpha}"
            )
        return fp_spherical_curve(alpha, d, kappa)
    return fp_binary_curve(alpha, d, kappa)


def local_entropy_large_deviation(
    alpha, distances, kappa=0.0, model="perceptron-binary", progress=False, k=None
) -> LocalEntropyCurve:
    """Maximal local entropy at distance ``d`` (RS, ``y -> inf``, free centre).

    ``S_LD(d) = (1/N) E max_W~ ln #{solutions at distance d from W~}``; see
    :mod:`wfm.theory.large_deviation` for the equations, the domain (``rhat >= 0``)
    and the solver (Newton with analytic Jacobian, continuation in ``ln d``).
    Tree machines (``model="committee-tree"`` or ``"parity"``, binary weights,
    ``kappa = 0``): ``k`` hidden units, odd ``<= 5`` for the committee, ``<= 5`` for
    parity, or ``math.inf`` (committee: Gaussian output field; parity:
    ``H2(d) - alpha ln 2`` in closed form); energetic term and its accuracy in
    :mod:`wfm.theory.machines_ld` (seconds per distance).

    Returns
    -------
    LocalEntropyCurve
        ``kind="large-deviation"``; order parameters ``q1, dq1, q0hat, dhat, rhat``
        and ``regime`` (0 regular, 1 saturated ``d >= d_c`` where ``S = s(alpha)``,
        -1 formal solution with ``rhat < 0``: not converged, 2 ``S = H2(d)`` to
        machine precision); ``reference`` holds ``critical_distance`` (``d_c``),
        ``gardner_entropy``, ``gardner_q``, ``gardner_qhat``.
    """
    alpha = _check_real("alpha", alpha, lo=0.0)
    kappa = _check_real("kappa", kappa)
    _check_model(model, ("perceptron-binary", *BINARY_MACHINES))
    _check_machine_args(model, kappa, k)
    d = _check_distances(distances)
    if model in BINARY_MACHINES:
        if model == "parity" and math.isinf(check_k(model, k)):
            return _parity_large_k(alpha, d, "large-deviation")
        energy = machine_energetic(model, k)  # validates k first (cheap)
        _check_below_capacity(alpha, model, k)
        curve = ld_binary_curve(alpha, d, energy, progress=progress)
        return replace(curve, reference={**curve.reference, "k": float(k)})
    return ld_binary_curve(alpha, d, kappa, progress=progress)


def _check_below_capacity(alpha, model, k):
    alpha_c = capacity_machine(model, k)
    if alpha >= alpha_c:
        raise ValueError(f"alpha must be < the RS capacity {alpha_c:.6g}, got {alpha}")


def _parity_large_k(alpha, d, kind):
    """``K -> inf`` parity machine: ``S(d) = H2(d) - alpha ln 2`` (every ``d > 0``)."""
    value = binary_entropy(d) - alpha * np.log(2.0)
    return LocalEntropyCurve(
        kind=kind,
        model="parity",
        alpha=float(alpha),
        kappa=0.0,
        approximation="K -> inf: hidden units decorrelate, P(output) = 1/2",
        distances=d,
        local_entropy=value,
        order_parameters={},
        converged=np.ones(d.size, bool),
        residual=np.zeros(d.size),
        reference={"k": float("inf")},
    )


def local_entropy_teacher(
    alpha, distances, progress=False, model="perceptron-binary", k=None
) -> LocalEntropyCurve:
    """Local entropy around the teacher (binary teacher–student, RS).

    Perceptron: :mod:`wfm.theory.teacher_student`; ``0 < alpha < 1.2447`` (the
    perfect-generalisation transition).  Tree machines (``model="committee-tree"``
    or ``"parity"``, ``k`` hidden units: odd for the committee, ``<= 7``, or
    ``math.inf``): :mod:`wfm.theory.machines_teacher`; the teacher has the
    machine's architecture and is a typical solution of that ensemble.
    """
    alpha = _check_real("alpha", alpha, lo=0.0)
    _check_model(model, ("perceptron-binary", *BINARY_MACHINES))
    _check_machine_args(model, 0.0, k)
    d = _check_distances(distances)
    if model in BINARY_MACHINES:
        k = check_k(model, k)
        if model == "parity" and math.isinf(k):
            return _parity_large_k(alpha, d, "teacher")
        kind = "committee" if model == "committee-tree" else "parity"
        return ts_machine_curve(alpha, d, kind, k, progress=progress)
    return ts_binary_curve(alpha, d, progress=progress)


def typical_positive_distance(alpha, kappa=0.0) -> float:
    """Distance above which the typical (Franz–Parisi) local entropy is positive."""
    alpha = _check_real("alpha", alpha, lo=0.0)
    kappa = _check_real("kappa", kappa)
    return fp_positive_distance(alpha, kappa)


def generalization_error(alpha) -> GeneralizationResult:
    """Gibbs generalisation error of the binary teacher–student perceptron (RS)."""
    alpha = _check_real("alpha", alpha, lo=0.0, lo_open=False)
    return generalization_error_binary(alpha)
