"""Focusing belief propagation (fBP) for the binary perceptron [P0].

Runs BP sweeps while the focusing protocol raises the coupling ``gamma`` and the number
of replicas ``y`` (see :mod:`wfm.learners.protocols`); after every sweep the sign of the
total fields is tested and the run stops at zero training errors.

Default regime: one damped sweep per protocol step (``sweeps_per_step = 1``,
``damping = 0.5``), i.e. reinforcement annealed sweep by sweep, as in the documented
example of BinaryCommitteeMachineFBP.jl (``max_iters=1, damping=0.5``). Running BP to
convergence at every step (``sweeps_per_step = 1000``, ``eps = 1e-3``, the reference
code's default) also works but needs damping and ~10x more sweeps on the perceptron.
"""

import time
from dataclasses import dataclass

from tqdm.auto import tqdm

from wfm.learners._bpstate import BPState
from wfm.learners._result import LearnerResult
from wfm.learners.protocols import focusing_protocol

DEFAULTS = {
    "protocol": "standard",
    "dr": 0.002,
    "x": 0.5,
    "y": 0.0,
    "gamma_start": 0.0,
    "gamma_step": 0.1,
    "gamma_stop": 10.0,
    "schedule": [],
    "sweeps_per_step": 1,
    "eps": 1e-3,
    "damping": 0.5,
    "shards": 2,
    "randfact": 0.01,
}


def learn(patterns, labels, *, params, kappa=0.0, rng, trace=None, progress=False):
    """Find a zero-error binary weight vector with focusing BP.

    Parameters
    ----------
    patterns : (P, N) array
        ±1 (int8) or Gaussian patterns.
    labels : (P,) int8 array
        Labels ±1.
    params : dict
        Learner parameters, see ``DEFAULTS``.
    kappa : float
        Margin of the stabilities.
    rng : numpy.random.Generator
        Initial messages and the order of the factors in each sweep.
    trace : callable, optional
        Called after every sweep with ``iteration, step, gamma, y, maxdiff, errors``.
    progress : bool
        Show a progress bar over the protocol steps.
    """
    p = {**DEFAULTS, **params}
    state = BPState.new(patterns, labels, rng=rng, kappa=kappa, randfact=p["randfact"])
    out = focus(state, p, trace=trace, progress=progress)
    return LearnerResult(
        weights=state.weights(),
        train_errors=out.errors,
        converged=out.errors == 0,
        iterations=state.sweeps,
        attrs=out.attrs(),
    )


@dataclass(frozen=True)
class FocusingOutcome:
    """Where a focusing run stopped."""

    errors: int
    protocol_steps: int
    gamma: float
    y: float
    maxdiff: float
    seconds: float

    def attrs(self):
        return {
            "protocol_steps": self.protocol_steps,
            "final_gamma": self.gamma,
            "final_y": self.y,
            "final_maxdiff": self.maxdiff,
            "bp_wall_time_s": self.seconds,
        }


def focus(state, p, *, trace=None, progress=False, desc="fBP", **sweep_options):
    """Run the focusing protocol of parameters ``p`` on a BP ``state``.

    ``state`` is any BP state with ``sweep(shards=, damping=, gamma=, r=, ...)``,
    ``errors()`` and a ``sweeps`` counter (perceptron or machine); ``sweep_options``
    are passed to every sweep. Stops at zero training errors (tested after every
    sweep) or at the end of the protocol.
    """
    steps = focusing_protocol(
        p["protocol"],
        dr=p["dr"],
        x=p["x"],
        y=p["y"] or None,
        gamma_start=p["gamma_start"],
        gamma_step=p["gamma_step"],
        gamma_stop=p["gamma_stop"],
        schedule=p["schedule"],
    )
    errors = state.errors()
    t0 = time.perf_counter()
    maxdiff, gamma, y, step = float("nan"), 0.0, 1.0, -1
    bar = tqdm(steps, disable=not progress, desc=desc, unit="step", leave=False)
    for step, (gamma, y) in enumerate(bar):
        for _ in range(int(p["sweeps_per_step"])):
            maxdiff = state.sweep(
                shards=p["shards"],
                damping=p["damping"],
                gamma=gamma,
                r=y - 1.0,
                **sweep_options,
            )
            errors = state.errors()
            if trace is not None:
                trace(
                    {
                        "iteration": state.sweeps,
                        "step": step,
                        "gamma": gamma,
                        "y": y,
                        "maxdiff": maxdiff,
                        "errors": errors,
                    }
                )
            if errors == 0 or maxdiff < p["eps"]:
                break
        bar.set_postfix(errors=errors, y=f"{y:.3g}", refresh=False)
        if errors == 0:
            break
    bar.close()
    return FocusingOutcome(
        int(errors), step + 1, gamma, y, maxdiff, time.perf_counter() - t0
    )
