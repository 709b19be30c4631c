"""Result containers shared by the local-entropy calculations of :mod:`wfm.theory`."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from wfm._curves import describe
from wfm._math import binary_entropy


@dataclass(frozen=True)
class LocalEntropyCurve:
    """Local entropy ``S(d)`` versus distance, with the saddle point at every ``d``.

    Attributes
    ----------
    kind : str
        ``"typical"`` (Franz–Parisi) or ``"large-deviation"``.
    model : str
        e.g. ``"perceptron-binary"``.
    alpha, kappa : float
        Load and margin.
    approximation : str
        Level of the theory, e.g. ``"RS"`` or ``"RS, y->inf, unconstrained reference"``.
    distances : ndarray
        Normalised Hamming distances ``d = (1 - p)/2``.
    local_entropy : ndarray
        ``S(d)`` per weight (nats); ``-inf``/``nan`` never hide a failure: see
        ``converged`` and ``residual``.
    order_parameters : dict[str, ndarray]
        Saddle-point order parameters at each ``d`` (names in the module docstrings).
    converged : ndarray of bool
    residual : ndarray
        Max violation of the saddle-point equations at each ``d``.
    reference : dict
        Scalars describing the reference measure (e.g. Gardner ``q``, ``qhat``).
    """

    kind: str
    model: str
    alpha: float
    kappa: float
    approximation: str
    distances: np.ndarray
    local_entropy: np.ndarray
    order_parameters: dict
    converged: np.ndarray
    residual: np.ndarray
    reference: dict = field(default_factory=dict)

    @property
    def upper_bound(self) -> np.ndarray:
        """Log-measure of all configurations at distance ``d`` (no constraint).

        Binary: ``H2(d)``. Spherical (``model="perceptron-spherical"``): the log
        fraction of the sphere at overlap ``q = 1 - 2d``, ``(1/2) ln(1 - q^2)``.
        """
        if self.model == "perceptron-spherical":
            q = 1.0 - 2.0 * np.asarray(self.distances, dtype=float)
            with np.errstate(divide="ignore"):
                return 0.5 * np.log1p(-q * q)
        return binary_entropy(self.distances)

    def to_arrays(self) -> dict:
        """All per-distance data as 1-D arrays (for ``/theory/<name>/`` datasets)."""
        out = {
            "distance": np.asarray(self.distances, dtype=float),
            "local_entropy": np.asarray(self.local_entropy, dtype=float),
            "upper_bound": self.upper_bound,
            "converged": np.asarray(self.converged, dtype=bool),
            "residual": np.asarray(self.residual, dtype=float),
        }
        for name, values in self.order_parameters.items():
            out[name] = np.asarray(values, dtype=float)
        return out

    def descriptions(self) -> dict:
        """``{dataset: (description, units)}`` for every array of :meth:`to_arrays`
        (the names and units of the measured curves, :mod:`wfm._curves`)."""
        return describe(self.to_arrays())

    def attrs(self) -> dict:
        """Scalar/string parameters (for HDF5 attributes)."""
        out = {
            "kind": self.kind,
            "model": self.model,
            "alpha": float(self.alpha),
            "kappa": float(self.kappa),
            "approximation": self.approximation,
        }
        for name, value in self.reference.items():
            out[f"reference_{name}"] = value
        return out
