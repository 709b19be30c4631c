"""Entropy-driven Monte Carlo (EdMC) for the binary perceptron [P0].

Baldassi et al., PNAS 113:E7655 (2016), arXiv:1605.06444, section "Entropy-driven
Monte Carlo": a Monte Carlo walk on the *reference* W̃ whose energy is minus the local
free entropy instead of the training error,

    E(W̃) = −N φ(W̃, λ),    φ(W̃, λ) = (1/N) ln Σ_W X(W) exp(λ W·W̃),

φ estimated by the Bethe free entropy of BP with external fields λ W̃_i (the same
estimator as :mod:`wfm.measures.local_entropy`). The coupling λ (γ in [P0]) is scoped
up, λ ← λ·``lambda_factor``, so the walk first follows the broad entropic drift and is
then pulled into a dense region of solutions; the run stops when W̃ itself has zero
training errors.

Cost control (a full BP per proposed flip would cost O(N P) × sweeps):

* proposals come from the BP marginals: ∂(Nφ)/∂ext_i = m_i, so flipping W̃_i changes
  Nφ by ≈ ln cosh(H_i − 2λW̃_i) − ln cosh(H_i) > 0 exactly when m_i W̃_i < 0. The
  sites are proposed in increasing order of H_i W̃_i (where the marginal disagrees
  with W̃ first, most disagreeing first; then the least polarised ones), at most
  ``candidates`` per move, then ``random_candidates`` random sites; a move with no
  accepted proposal ends the λ step;
* each proposal is scored after only ``sweeps_per_move`` warm-started sweeps (φ is
  stationary at a fixed point, so its error is second order in the message error);
  rejected proposals restore the saved messages.

``temperature = 0`` is the greedy (zero-temperature) version [P0]: accept iff
Δ(Nφ) > 0; otherwise Metropolis, accept with probability min(1, exp(Δ(Nφ)/T)).
"""

import math
import time

import numpy as np
from tqdm.auto import tqdm

from wfm.learners._bpstate import BPState
from wfm.learners._result import LearnerResult

DEFAULTS = {
    "lambda_start": 0.2,
    "lambda_factor": 1.1,
    "lambda_max": 8.0,
    "temperature": 0.0,
    "moves_per_step": 0,
    "candidates": 4,
    "random_candidates": 0,
    "sweeps_per_move": 6,
    "max_sweeps": 100,
    "eps": 1e-4,
    "damping": 0.0,
    "shards": 1,
    "randfact": 0.01,
}


def validate_params(p):
    """Constraints of the EdMC parameters (ValueError naming the field)."""
    for key in ("lambda_start", "lambda_max"):
        if not p[key] > 0:
            raise ValueError(f"{key} must be > 0, got {p[key]}")
    if not p["lambda_factor"] > 1:
        raise ValueError(f"lambda_factor must be > 1, got {p['lambda_factor']}")
    if p["temperature"] < 0:
        raise ValueError(f"temperature must be >= 0, got {p['temperature']}")
    for key in ("candidates", "sweeps_per_move", "max_sweeps", "shards"):
        if p[key] < 1:
            raise ValueError(f"{key} must be >= 1, got {p[key]}")
    for key in ("moves_per_step", "random_candidates"):
        if p[key] < 0:
            raise ValueError(f"{key} must be >= 0, got {p[key]}")
    if not 0 <= p["damping"] < 1:
        raise ValueError(f"damping must be in [0, 1), got {p['damping']}")


def _converge(state, p, limit):
    n = 0
    for n in range(1, int(limit) + 1):  # noqa: B007
        if state.sweep(shards=p["shards"], damping=p["damping"]) < p["eps"]:
            break
    return n


def learn(patterns, labels, *, params, kappa=0.0, rng, trace=None, progress=False):
    """Find a zero-error binary W̃ by entropy-driven Monte Carlo.

    Parameters
    ----------
    patterns : (P, N) array
        ±1 (int8) or Gaussian patterns.
    labels : (P,) int8 array
    params : dict
        See ``DEFAULTS``: ``lambda_start``, ``lambda_factor``, ``lambda_max`` (the
        scoping of λ), ``temperature`` (0 = greedy), ``moves_per_step`` (accepted
        moves per λ, 0 = N), ``candidates``/``random_candidates`` (proposals per
        move), ``sweeps_per_move``, ``max_sweeps``/``eps`` (BP after a λ change),
        ``damping``, ``shards``, ``randfact``.
    kappa : float
    rng : numpy.random.Generator
        Initial W̃, initial messages, factor order, Metropolis draws.
    trace : callable, optional
        Called after every λ step with ``iteration`` (BP sweeps), ``lambda``,
        ``free_entropy``, ``accepted``, ``proposed``, ``errors``.
    progress : bool
    """
    p = {**DEFAULTS, **params}
    validate_params(p)
    n = patterns.shape[1]
    t0 = time.perf_counter()
    ref = np.where(rng.random(n) < 0.5, -1.0, 1.0)
    state = BPState.new(patterns, labels, rng=rng, kappa=kappa, randfact=p["randfact"])
    moves_per_step = int(p["moves_per_step"]) or n
    temperature = float(p["temperature"])
    lam = float(p["lambda_start"])
    errors = state_errors = _errors(state, ref)
    accepted_total = proposed_total = steps = 0
    n_steps = 1 + int(
        math.ceil(math.log(p["lambda_max"] / lam) / math.log(p["lambda_factor"]))
    )
    bar = tqdm(total=n_steps, disable=not progress, desc="EdMC", unit="λ", leave=False)
    while errors > 0 and lam <= p["lambda_max"] * (1 + 1e-12):
        steps += 1
        state.ext[:] = lam * ref
        _converge(state, p, p["max_sweeps"])
        phi = state.free_entropy()
        accepted = proposed = 0
        while accepted < moves_per_step and errors > 0:
            h = state.fields * ref  # < 0: the marginal disagrees with W̃
            cands = list(np.argsort(h, kind="stable")[: int(p["candidates"])])
            if p["random_candidates"]:
                cands += list(rng.choice(n, int(p["random_candidates"]), replace=False))
            moved = False
            saved = (state.u.copy(), state.t.copy(), state.U.copy(), state.f.copy())
            for i in cands:
                proposed += 1
                ref[i] = -ref[i]
                state.ext[i] = lam * ref[i]
                for _ in range(int(p["sweeps_per_move"])):
                    state.sweep(shards=p["shards"], damping=p["damping"])
                phi_new = state.free_entropy()
                gain = n * (phi_new - phi)  # −ΔE, E = −N φ(W̃, λ)  [P0]
                if gain > 0 or (
                    temperature > 0 and rng.random() < math.exp(gain / temperature)
                ):
                    phi, moved = phi_new, True
                    accepted += 1
                    break
                ref[i] = -ref[i]
                state.ext[i] = lam * ref[i]
                state.u[:], state.t[:], state.U[:], state.f[:] = saved
            if not moved:
                break
            errors = _errors(state, ref)
        state_errors = errors
        accepted_total += accepted
        proposed_total += proposed
        if trace is not None:
            trace(
                {
                    "iteration": state.sweeps,
                    "lambda": lam,
                    "free_entropy": phi,
                    "accepted": accepted,
                    "proposed": proposed,
                    "errors": errors,
                }
            )
        bar.update(1)
        bar.set_postfix(errors=errors, lam=f"{lam:.3g}", acc=accepted)
        lam *= p["lambda_factor"]
    bar.close()
    return LearnerResult(
        weights=ref.astype(np.int8),
        train_errors=int(state_errors),
        converged=state_errors == 0,
        iterations=state.sweeps,
        attrs={
            "lambda_steps": steps,
            "final_lambda": lam / p["lambda_factor"],
            "accepted_moves": accepted_total,
            "proposed_moves": proposed_total,
            "edmc_wall_time_s": time.perf_counter() - t0,
        },
    )


def _errors(state, ref):
    from wfm.kernels import bp as bpk

    return bpk.count_errors(state.s, ref, state.kappa)
