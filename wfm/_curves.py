"""One naming scheme for every local-entropy curve (run-file format 2).

The measured curves (:class:`wfm.measures.local_entropy.LocalEntropyResult`) and the
theory curves (:class:`wfm.theory.LocalEntropyCurve`) store their per-point arrays
under these dataset names, each with a one-line description and its units (``"1"``
for dimensionless quantities). :data:`FORMAT1_NAMES` maps the names of format-1
``/local_entropy/<name>/`` groups onto them, for readers of old files.
"""

from __future__ import annotations

__all__ = ["CURVE_DATASETS", "FORMAT1_NAMES", "ORDER_PARAMETERS", "describe"]

CURVE_DATASETS: dict[str, tuple[str, str]] = {
    "distance": (
        "normalised Hamming distance d = (1 - q)/2 from the reference",
        "1",
    ),
    "local_entropy": (
        "local entropy S(d) = (1/N) ln #{solutions at distance d} (-inf: none)",
        "nats per weight",
    ),
    "upper_bound": (
        "log-count of all configurations at distance d (H2(d) for binary weights)",
        "nats per weight",
    ),
    "coupling": (
        "coupling lambda of the external field lambda W~ that selects distance d "
        "(NaN for exact enumeration)",
        "1",
    ),
    "phi": (
        "free entropy phi(lambda) = (1/N) ln sum_W X(W) exp(lambda W.W~) "
        "(Bethe for BP, exact for enumeration)",
        "nats per weight",
    ),
    "overlap": ("overlap q = <W.W~>/N with the reference", "1"),
    "overlap_derivative": (
        "d phi / d lambda by finite differences, a check of the overlap (BP)",
        "1",
    ),
    "converged": (
        "BP reached its tolerance (theory: the saddle point was solved)",
        "1",
    ),
    "sweeps": ("BP sweeps spent at this coupling", "sweeps"),
    "branch": (
        "BP scan: 0 downward from large lambda, 1 upward from fresh messages",
        "1",
    ),
    "counts": (
        "exact number of solutions at Hamming distance k = 0..N from the reference "
        "(every k, not only the curve's points)",
        "solutions",
    ),
    "residual": ("largest violation of the saddle-point equations", "1"),
}

ORDER_PARAMETERS: dict[str, str] = {
    "q1": "overlap of two constrained replicas",
    "q1hat": "conjugate of q1",
    "phat": "conjugate of the reference overlap p = 1 - 2d",
    "p0": "overlap of a constrained replica with another reference",
    "p0hat": "conjugate of p0",
    "dq1": "y (q1 - q0), the y -> inf scaling of the replica overlaps",
    "q0hat": "conjugate of q0, the overlap of replicas of different references",
    "dhat": "y (q1hat - q0hat)",
    "rhat": "conjugate of the reference overlap p = 1 - 2d",
    "overlap": "overlap q = 1 - 2d with the reference",
}
"""Saddle-point order parameters of :mod:`wfm.theory` (derivations in its modules)."""

FORMAT1_NAMES: dict[str, str] = {
    "d": "distance",
    "s": "local_entropy",
    "lambda": "coupling",
    "q": "overlap",
    "q_derivative": "overlap_derivative",
}
"""Format-1 dataset name -> format-2 name (the others kept their names)."""


def describe(names) -> dict[str, tuple[str, str]]:
    """``{name: (description, units)}`` for the dataset ``names`` of a curve.

    Order parameters of the theory get their :data:`ORDER_PARAMETERS` text (units
    ``"1"``); an unknown name gets a generic description rather than an error.
    """
    out = {}
    for name in names:
        if name in CURVE_DATASETS:
            out[name] = CURVE_DATASETS[name]
        elif name in ORDER_PARAMETERS:
            out[name] = (f"saddle-point order parameter: {ORDER_PARAMETERS[name]}", "1")
        else:
            out[name] = (f"saddle-point order parameter {name}", "1")
    return out
