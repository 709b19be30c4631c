"""Plain belief propagation: the entropy of an instance (no focusing).

Iterates BP sweeps to a fixed point and returns the Bethe free entropy per weight —
for the storage problem at ``kappa`` this estimates ``(1/N) ln #solutions``, to be
compared with the replica-symmetric Gardner entropy (``wfm.theory.gardner_entropy``).
The weights returned are the signs of the marginals (not a solution in general).
"""

import warnings

from tqdm.auto import tqdm

from wfm.errors import BPNotConvergedWarning
from wfm.learners._bpstate import BPState
from wfm.learners._result import LearnerResult

DEFAULTS = {
    "max_sweeps": 1000,
    "eps": 1e-6,
    "damping": 0.0,
    "shards": 2,
    "randfact": 0.01,
}


def learn(patterns, labels, *, params, kappa=0.0, rng, trace=None, progress=False):
    """Run BP to convergence; ``attrs`` holds ``free_entropy`` and ``bp_converged``."""
    p = {**DEFAULTS, **params}
    state = BPState.new(patterns, labels, rng=rng, kappa=kappa, randfact=p["randfact"])
    converged = False
    bar = tqdm(
        range(int(p["max_sweeps"])),
        disable=not progress,
        desc="BP",
        unit="sweep",
        leave=False,
    )
    for _ in bar:
        maxdiff = state.sweep(shards=p["shards"], damping=p["damping"])
        if trace is not None:
            trace({"iteration": state.sweeps, "maxdiff": maxdiff})
        bar.set_postfix(maxdiff=f"{maxdiff:.1e}", refresh=False)
        if maxdiff < p["eps"]:
            converged = True
            break
    bar.close()
    if not converged:
        warnings.warn(
            f"BP did not converge in {state.sweeps} sweeps (last change {maxdiff:.2e})",
            BPNotConvergedWarning,
            stacklevel=2,
        )
    errors = state.errors()
    return LearnerResult(
        weights=state.weights(),
        train_errors=errors,
        converged=converged,
        iterations=state.sweeps,
        attrs={
            "free_entropy": state.free_entropy(),
            "bp_converged": converged,
            "final_maxdiff": maxdiff,
        },
    )
