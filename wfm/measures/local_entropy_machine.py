"""Local entropy of committee and parity machines: the BP λ scan of
:mod:`wfm.measures.local_entropy` on the machine factor graph.

Every weight is coupled to the reference with an external field ``λ W̃_kj``; plain BP
on the machine (:mod:`wfm.kernels.bp_committee`: Gaussian input factors, exact output
factor) is converged at each λ, warm-started, from large λ down to 0, and

    φ(λ) = ln Z(λ) / N_w   (Bethe: :func:`wfm.kernels.bp_committee.
    machine_bethe_free_entropy`),
    q(λ) = Σ W̃ tanh H / N_w,   S(d) = φ − λ q,   d = (1 − q) / 2,

``N_w`` the number of weights (``N`` for tree/parity, ``K N`` fully connected). The
consistency check ``dφ/dλ ≈ q`` (central difference, BP re-converged at λ ± δ) is kept
as in the perceptron scan; it holds to the accuracy of the Gaussian approximation.
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from wfm.errors import BPNotConvergedWarning
from wfm.measures.local_entropy import (
    LocalEntropyResult,
    _consistency,
    default_lambdas,
)

__all__ = [
    "MACHINE_DEFAULTS",
    "machine_local_entropy",
    "machine_local_entropy_exact",
    "machine_local_entropy_measure",
]

MACHINE_DEFAULTS = {
    "max_sweeps": 400,
    "eps": 1e-5,
    "damping": 0.3,
    "randfact": 0.01,
    "derivative_step": 1e-3,
}
"""Per-λ BP settings: sweeps limit, tolerance (magnetisation space), damping (field
space; the machine BP oscillates more than the perceptron's), initial randomness, step
δ of the check dφ/dλ (``0``: no check)."""


def _converge(state, p, eps):
    for sweep in range(1, int(p["max_sweeps"]) + 1):
        if state.sweep(shards=1, damping=p["damping"]) < eps:
            return True, sweep
    return False, int(p["max_sweeps"])


def _phi(state):
    from wfm.kernels.bp_committee import machine_bethe_free_entropy

    return machine_bethe_free_entropy(
        state.x, state.labels, state.stride, state.u, state.vup, state.vdn,
        state.U, state.ext, parity=state.parity,
    )  # fmt: skip


def machine_local_entropy(
    patterns,
    labels,
    reference,
    *,
    architecture,
    k,
    lambdas=None,
    rng=None,
    progress=False,
    **bp_params,
) -> LocalEntropyResult:
    """Local entropy S(W̃, d) of a committee/parity-machine reference, by BP.

    Parameters
    ----------
    patterns : (P, N) array
    labels : (P,) array
    reference : array of ±1
        ``(N,)`` for ``"committee-tree"``/``"parity"``, ``(K, N)`` (or flat ``K N``)
        for ``"committee-full"``.
    architecture : {"committee-tree", "committee-full", "parity"}
    k : int
        Hidden units.
    lambdas : array_like, optional
        Couplings, scanned in the given order (default :func:`default_lambdas`).
    rng : numpy.random.Generator or int, optional
    progress : bool
    **bp_params
        Overrides of :data:`MACHINE_DEFAULTS`.

    Returns
    -------
    LocalEntropyResult
        ``method = "bp"``, ``n`` the number of weights.
    """
    from tqdm.auto import tqdm

    from wfm.learners.fbp_machine import MACHINE_MODELS, MachineBPState

    if architecture not in MACHINE_MODELS:
        raise ValueError(
            f"architecture must be one of {', '.join(MACHINE_MODELS)}; "
            f"got {architecture!r}"
        )
    unknown = sorted(set(bp_params) - set(MACHINE_DEFAULTS))
    if unknown:
        raise ValueError(
            f"{unknown[0]} is not a BP parameter; accepted: "
            f"{', '.join(MACHINE_DEFAULTS)}"
        )
    p = {**MACHINE_DEFAULTS, **bp_params}
    if not isinstance(rng, np.random.Generator):
        rng = np.random.default_rng(0 if rng is None else rng)
    patterns = np.asarray(patterns)
    state = MachineBPState.new(
        patterns, labels, model=architecture, k=k, rng=rng, randfact=p["randfact"]
    )
    ref = np.asarray(reference, dtype=np.float64).reshape(state.U.shape)
    if not np.all(np.abs(ref) == 1):
        raise ValueError("reference must be a ±1 array")
    lambdas = np.asarray(
        default_lambdas() if lambdas is None else lambdas, dtype=np.float64
    )
    m = lambdas.size
    phi, q, q_fd = np.empty(m), np.empty(m), np.full(m, np.nan)
    converged = np.zeros(m, bool)
    sweeps = np.zeros(m, np.int64)
    delta = float(p["derivative_step"])
    bar = tqdm(lambdas, disable=not progress, desc="machine local entropy", leave=False)
    for j, lam in enumerate(bar):
        state.ext[:] = lam * ref
        converged[j], sweeps[j] = _converge(state, p, p["eps"])
        phi[j] = _phi(state)
        q[j] = float(np.mean(state.magnetizations * ref))
        if delta > 0:
            msgs = (state.u, state.t, state.vup, state.vdn, state.U)
            saved = [a.copy() for a in msgs]
            ends = []
            for sign in (1.0, -1.0):
                for a, b in zip(msgs, saved, strict=True):
                    a[:] = b
                state.ext[:] = (lam + sign * delta) * ref
                sweeps[j] += _converge(state, p, 0.1 * p["eps"])[1]
                ends.append(_phi(state))
            for a, b in zip(msgs, saved, strict=True):
                a[:] = b
            state.ext[:] = lam * ref
            q_fd[j] = (ends[0] - ends[1]) / (2.0 * delta)
    bar.close()
    if not converged.all():
        warnings.warn(
            f"machine BP did not converge at {np.count_nonzero(~converged)} of {m} "
            "couplings; those points are kept and flagged converged=False",
            BPNotConvergedWarning,
            stacklevel=2,
        )
    at_zero = np.flatnonzero(lambdas == 0.0)
    return LocalEntropyResult(
        "bp",
        int(state.U.size),
        0.5 * (1.0 - q),
        phi - lambdas * q,
        lambdas,
        phi,
        q,
        q_fd,
        converged,
        sweeps,
        _consistency(q, q_fd, converged),
        float(phi[at_zero[-1]]) if at_zero.size else math.nan,
        params={
            "architecture": architecture,
            "k": int(k),
            "alpha": patterns.shape[0] / state.U.size,
            "eps": float(p["eps"]),
            "max_sweeps": int(p["max_sweeps"]),
            "damping": float(p["damping"]),
            "interpolated": False,
        },
        branch=np.zeros(m, np.int8),
    )


def machine_local_entropy_exact(patterns, labels, reference, *, architecture, k):
    """S(d) = ln(counts[j]) / N_w at d = j / N_w by exhaustive enumeration
    (:func:`wfm.kernels.enumerate.count_solutions_by_distance`, N_w ≲ 30)."""
    from wfm.kernels.enumerate import (
        count_solutions_by_distance,
        exact_local_entropy,
        exact_total_entropy,
    )

    patterns = np.asarray(patterns)
    ref = np.asarray(reference)
    if architecture == "committee-full":
        ref = ref.reshape(int(k), patterns.shape[1])
    counts = count_solutions_by_distance(
        patterns, labels, ref, architecture=architecture, k=int(k)
    )
    n = counts.size - 1
    d, s = exact_local_entropy(counts, n)
    nan = np.full(d.size, np.nan)
    return LocalEntropyResult(
        "exact", n, d, s, nan, nan.copy(), 1.0 - 2.0 * d, nan.copy(),
        np.ones(d.size, bool), np.zeros(d.size, np.int64), 0.0,
        exact_total_entropy(counts, n), counts=counts,
        params={
            "architecture": architecture,
            "k": int(k),
            "alpha": patterns.shape[0] / n,
            "n_solutions": int(counts.sum()),
            "interpolated": False,
        },
    )  # fmt: skip


def machine_local_entropy_measure(
    patterns,
    labels,
    reference,
    *,
    architecture,
    k,
    method="bp",
    distances=None,
    lambdas=None,
    rng=None,
    progress=False,
    **bp_params,
) -> LocalEntropyResult:
    """BP or exact local entropy of a machine reference, optionally at ``distances``
    (the machine counterpart of :func:`wfm.measures.local_entropy.local_entropy`)."""
    if method == "exact":
        if bp_params:
            raise ValueError(
                f"the exact method takes no BP parameters, got {sorted(bp_params)}"
            )
        result = machine_local_entropy_exact(
            patterns, labels, reference, architecture=architecture, k=k
        )
    else:
        if lambdas is None and distances is not None:
            dd = np.clip(np.asarray(distances, float), 1e-6, 0.5)
            lambdas = np.unique(
                np.append(default_lambdas(), np.arctanh(1.0 - 2.0 * dd))
            )[::-1]
        result = machine_local_entropy(
            patterns, labels, reference, architecture=architecture, k=k,
            lambdas=lambdas, rng=rng, progress=progress, **bp_params,
        )  # fmt: skip
    return result if distances is None else result.at(distances)
