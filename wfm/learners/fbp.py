"""Focusing belief propagation (fBP) [P0] for the binary perceptron and the committee
and parity machines.

BP sweeps run while the focusing protocol raises the coupling ``gamma`` and the number
of replicas ``y`` (see :mod:`wfm.learners.protocols`); after every sweep the sign of the
total fields is tested and the run stops at zero training errors. The factor graph is
the model's (:func:`wfm.bpstate.new_bp_state`): the perceptron's, or the machines'
(Gaussian input factors, exact output factor).

Default regime: one damped sweep per protocol step (``sweeps_per_step = 1``,
``damping = 0.5``), i.e. reinforcement annealed sweep by sweep, as in the documented
example of BinaryCommitteeMachineFBP.jl (``max_iters=1, damping=0.5``). Running BP to
convergence at every step (``sweeps_per_step = 1000``, ``eps = 1e-3``, the reference
code's default) also works but needs damping and ~10x more sweeps on the perceptron.

Machine defaults (``dr = 0.005``, ``randfact = 0.1``, declared per model in the
registry), measured on the reference's documented instance (fully connected, N = 321,
K = 5, alpha = 0.3, 10 seeds): the reference's settings (``dr = 0.01``) solve 7/10 with
2 shards, 3/10 fully sequential, 4/10 with the reference's interleaved schedule;
``dr = 0.005`` solves 10/10. ``randfact = 0.1`` breaks the hidden-unit symmetry of the
fully connected machine, whose failure mode is two units collapsing onto the same
weights: the overlaps ``q_kl = W_k . W_l / n`` are reported (``hidden_overlaps``).

Checkpoints: the loop below is one flat ``while`` whose head is a safe point, so a
resumed run continues bit for bit.
"""

from __future__ import annotations

import math
import time

import numpy as np
from tqdm.auto import tqdm

from wfm.bpstate import new_bp_state
from wfm.learners._result import LearnerResult
from wfm.learners.protocols import focusing_protocol


def learn(problem, params, ctx) -> LearnerResult:
    """Find zero-error binary weights with focusing BP.

    Parameters
    ----------
    problem : wfm.learners.Problem
    params : dict
        Resolved parameters (registry entry ``fbp``).
    ctx : wfm.learners.RunContext
        Streams ``init`` (initial messages) and ``learner`` (factor order).

    Returns
    -------
    LearnerResult
        Weights ``(N,)`` (``(K, N)`` fully connected), int8 ±1.
    """
    arch = problem.arch
    state = new_bp_state(
        problem.patterns, problem.labels, arch=arch, kappa=problem.kappa,
        rng=ctx.rng("learner"), init_rng=ctx.rng("init"), device=ctx.device,
        randfact=params["randfact"],
        hidden_field=params["hidden_field"],
        fast=params["fast"], precision=params["precision"],
    )  # fmt: skip
    if problem.external_field is not None:  # e.g. lambda W~: stay near W~
        state.ext[...] = np.reshape(problem.external_field, state.ext.shape)
    options = {"interleave": params["interleave"]} if arch.hidden else {}
    out = focus(state, params, ctx, desc="fBP", **options)
    w = state.weights()
    attrs = out.attrs()
    if arch.hidden:
        q = hidden_overlaps(w)
        off = q[~np.eye(arch.k, dtype=bool)]
        attrs["hidden_overlaps"] = q
        attrs["max_hidden_overlap"] = float(np.abs(off).max()) if off.size else 0.0
    return LearnerResult(
        weights=w.reshape(arch.weight_shape(problem.n_inputs)),
        train_errors=out.errors,
        converged=out.errors == 0,
        iterations=state.sweeps,
        attrs=attrs,
    )


def hidden_overlaps(w):
    """``q_kl = W_k . W_l / n`` of a ``(K, n)`` weight array."""
    w = np.asarray(w, dtype=np.float64)
    return w @ w.T / w.shape[1]


class FocusingOutcome:
    """Where a focusing run stopped."""

    def __init__(self, errors, steps, gamma, y, maxdiff, seconds):
        self.errors, self.protocol_steps = int(errors), int(steps)
        self.gamma, self.y, self.maxdiff, self.seconds = gamma, y, maxdiff, seconds

    def attrs(self):
        return {
            "protocol_steps": self.protocol_steps,
            "final_gamma": self.gamma,
            "final_y": self.y,
            "final_maxdiff": self.maxdiff,
            "bp_wall_time_s": self.seconds,
        }


def protocol_of(p):
    """The (gamma, y) list of the focusing parameters ``p``."""
    return focusing_protocol(
        p["protocol"], dr=p["dr"], x=p["x"], y=p["y"] or None,
        gamma_start=p["gamma_start"], gamma_step=p["gamma_step"],
        gamma_stop=p["gamma_stop"], schedule=p["schedule"],
    )  # fmt: skip


def focus(state, p, ctx, *, desc="fBP", **sweep_options) -> FocusingOutcome:
    """Run the focusing protocol of parameters ``p`` on a BP ``state``.

    Stops at zero training errors (tested after every sweep) or at the end of the
    protocol. Each protocol step runs up to ``sweeps_per_step`` sweeps, fewer when a
    sweep changes no magnetisation by more than ``eps``. The head of the loop is a
    checkpoint: ``ctx.resumed`` restarts it where it was saved.
    """
    steps = protocol_of(p)
    pos = {"step": 0, "inner": 0, "errors": -1, "maxdiff": math.nan, "seconds": 0.0}
    if ctx.resumed is not None:
        pos = dict(ctx.resumed["position"])
        state.load_state_dict(ctx.resumed["bp"])
    if pos["errors"] < 0:
        pos["errors"] = int(state.errors())
    t0 = time.perf_counter() - pos["seconds"]
    bar = tqdm(
        total=len(steps), initial=pos["step"], disable=not ctx.progress, desc=desc,
        unit="step", leave=False,
    )  # fmt: skip
    while pos["step"] < len(steps) and pos["errors"] != 0:
        pos["seconds"] = time.perf_counter() - t0
        ctx.checkpoint(lambda: {"position": dict(pos), "bp": state.state_dict()})
        gamma, y = steps[pos["step"]]
        maxdiff = state.sweep(
            shards=p["shards"], damping=p["damping"], gamma=gamma, r=y - 1.0,
            **sweep_options,
        )  # fmt: skip
        errors = int(state.errors())
        ctx.trace(
            {
                "iteration": state.sweeps, "step": pos["step"], "gamma": gamma,
                "y": y, "maxdiff": maxdiff, "errors": errors,
            }
        )  # fmt: skip
        pos.update(inner=pos["inner"] + 1, errors=errors, maxdiff=float(maxdiff))
        if errors != 0 and (pos["inner"] >= p["sweeps_per_step"] or maxdiff < p["eps"]):
            pos.update(step=pos["step"] + 1, inner=0)
            bar.update(1)
            bar.set_postfix(errors=errors, y=f"{y:.3g}", refresh=False)
    bar.close()
    last = min(pos["step"], len(steps) - 1)
    gamma, y = steps[last] if steps else (0.0, 1.0)
    return FocusingOutcome(
        pos["errors"], last + 1, gamma, y, pos["maxdiff"], time.perf_counter() - t0
    )
