"""Plain belief propagation: the entropy of an instance (no focusing).

Iterates BP sweeps to a fixed point and returns the Bethe free entropy per weight —
for the storage problem at ``kappa`` this estimates ``(1/N) ln #solutions``, to be
compared with the replica-symmetric Gardner entropy (``wfm.theory.gardner_entropy``).
The weights returned are the signs of the marginals (not a solution in general). Its
goal is a fixed point: a run that does not converge is reported as unsolved.
"""

from __future__ import annotations

import math
import warnings

from tqdm.auto import tqdm

from wfm.bpstate import new_bp_state
from wfm.errors import BPNotConvergedWarning
from wfm.learners._result import LearnerResult


def learn(problem, params, ctx) -> LearnerResult:
    """Run BP to convergence; ``attrs`` holds ``free_entropy`` and ``bp_converged``."""
    p = params
    state = new_bp_state(
        problem.patterns, problem.labels, arch=problem.arch, kappa=problem.kappa,
        rng=ctx.rng("learner"), init_rng=ctx.rng("init"), device=ctx.device,
        randfact=p["randfact"],
        fast=p["fast"], precision=p["precision"],
    )  # fmt: skip
    maxdiff, converged = math.nan, False
    if ctx.resumed is not None:
        state.load_state_dict(ctx.resumed["bp"])
        maxdiff = ctx.resumed["maxdiff"]
    bar = tqdm(
        total=p["max_sweeps"], initial=state.sweeps, disable=not ctx.progress,
        desc="BP", unit="sweep", leave=False,
    )  # fmt: skip
    while state.sweeps < p["max_sweeps"] and not maxdiff < p["eps"]:
        ctx.checkpoint(lambda m=maxdiff: {"bp": state.state_dict(), "maxdiff": m})
        maxdiff = float(state.sweep(shards=p["shards"], damping=p["damping"]))
        ctx.trace({"iteration": state.sweeps, "maxdiff": maxdiff})
        bar.update(1)
        bar.set_postfix(maxdiff=f"{maxdiff:.1e}", refresh=False)
    bar.close()
    converged = maxdiff < p["eps"]
    if not converged:
        warnings.warn(
            f"BP did not converge in {state.sweeps} sweeps (last change {maxdiff:.2e})",
            BPNotConvergedWarning,
            stacklevel=2,
        )
    return LearnerResult(
        weights=state.weights(),
        train_errors=int(state.errors()),
        converged=bool(converged),
        iterations=state.sweeps,
        attrs={
            "free_entropy": state.free_entropy(),
            "bp_converged": bool(converged),
            "final_maxdiff": maxdiff,
        },
    )
