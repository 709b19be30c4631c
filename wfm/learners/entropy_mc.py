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

from wfm.bpstate import new_bp_state
from wfm.learners._result import LearnerResult


def _converge(state, p, limit):
    for _ in range(int(limit)):
        if state.sweep(shards=p["shards"], damping=p["damping"]) < p["eps"]:
            break


def learn(problem, params, ctx) -> LearnerResult:
    """Find a zero-error binary W̃ by entropy-driven Monte Carlo.

    Parameters
    ----------
    problem : wfm.learners.Problem
        A binary perceptron instance.
    params : dict
        Resolved parameters (registry entry ``entropy-mc``): ``lambda_start``,
        ``lambda_factor``, ``lambda_max`` (the scoping of λ), ``temperature``
        (0 = greedy), ``moves_per_step`` (accepted moves per λ, 0 = N),
        ``candidates``/``random_candidates`` (proposals per move),
        ``sweeps_per_move``, ``max_sweeps``/``eps`` (BP after a λ change),
        ``damping``, ``shards``, ``randfact``.
    ctx : wfm.learners.RunContext
        Streams ``init`` (initial W̃ and messages) and ``learner`` (factor order,
        proposals, Metropolis draws). Every λ step starts at a safe point.
    """
    p = params
    patterns, labels = problem.patterns, problem.labels
    n = patterns.shape[1]
    rng = ctx.rng("learner")
    ref = np.where(ctx.rng("init").random(n) < 0.5, -1.0, 1.0)
    state = new_bp_state(
        patterns, labels, arch=problem.arch, kappa=problem.kappa, rng=rng,
        init_rng=ctx.rng("init"), device=ctx.device, randfact=p["randfact"],
    )  # fmt: skip
    moves_per_step = int(p["moves_per_step"]) or n
    temperature = float(p["temperature"])
    pos = {
        "lam": float(p["lambda_start"]), "steps": 0, "accepted": 0, "proposed": 0,
        "seconds": 0.0,
    }  # fmt: skip
    if ctx.resumed is not None:
        pos = dict(ctx.resumed["position"])
        ref = np.array(ctx.resumed["reference"], dtype=np.float64)
        state.load_state_dict(ctx.resumed["bp"])
    t0 = time.perf_counter() - pos["seconds"]
    errors = _errors(state, ref)
    n_steps = 1 + int(
        math.ceil(math.log(p["lambda_max"] / p["lambda_start"])
                  / math.log(p["lambda_factor"]))
    )  # fmt: skip
    bar = tqdm(
        total=n_steps, initial=pos["steps"], disable=not ctx.progress, desc="EdMC",
        unit="λ", leave=False,
    )  # fmt: skip
    while errors > 0 and pos["lam"] <= p["lambda_max"] * (1 + 1e-12):
        pos["seconds"] = time.perf_counter() - t0
        ctx.checkpoint(
            lambda: {"position": dict(pos), "reference": ref.copy(),
                     "bp": state.state_dict()}
        )  # fmt: skip
        lam = pos["lam"]
        pos["steps"] += 1
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
            saved = state.snapshot()
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
                state.restore(saved)
            if not moved:
                break
            errors = _errors(state, ref)
        pos["accepted"] += accepted
        pos["proposed"] += proposed
        ctx.trace(
            {
                "iteration": state.sweeps, "lambda": lam, "free_entropy": phi,
                "accepted": accepted, "proposed": proposed, "errors": errors,
            }
        )  # fmt: skip
        bar.update(1)
        bar.set_postfix(errors=errors, lam=f"{lam:.3g}", acc=accepted)
        pos["lam"] = lam * p["lambda_factor"]
    bar.close()
    return LearnerResult(
        weights=ref.astype(np.int8),
        train_errors=int(errors),
        converged=errors == 0,
        iterations=state.sweeps,
        attrs={
            "lambda_steps": pos["steps"],
            "final_lambda": pos["lam"] / p["lambda_factor"],
            "accepted_moves": pos["accepted"],
            "proposed_moves": pos["proposed"],
            "edmc_wall_time_s": time.perf_counter() - t0,
        },
    )


def _errors(state, ref):
    return int(state.errors_of(ref))
