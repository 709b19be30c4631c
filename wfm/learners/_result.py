from dataclasses import dataclass, field

import numpy as np


@dataclass
class LearnerResult:
    """What a learner returns.

    Attributes
    ----------
    weights : ndarray
        The solution found, (N,) int8 ±1 for binary weights ((K, N) for machines).
    train_errors : int
        Training errors of ``weights`` (stabilities <= kappa).
    converged : bool
        Whether the learner reached its goal (zero errors for fBP, a fixed point for
        plain BP).
    iterations : int
        Total number of sweeps / epochs run.
    attrs : dict
        Extra scalar results stored as attributes of ``/solution`` (e.g.
        ``free_entropy``).
    """

    weights: np.ndarray
    train_errors: int
    converged: bool
    iterations: int
    attrs: dict = field(default_factory=dict)
