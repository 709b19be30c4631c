"""Local entropy S(W̃, d) of a reference W̃: BP estimate and exact enumeration.

Definitions (science.md §3; Baldassi, Pittorino, Zecchina, PNAS 2020 [P1], eqs. 3-5;
Huang & Kabashima 2014 for the binary perceptron)::

    S(W̃, d) = (1/N) ln #{W solution : d(W, W̃) = d},     H₂(d) ≥ S(W̃, d),

with the normalised Hamming distance d = (1 − q)/2, q = W·W̃/N, N the number of
weights (``K N`` for a fully connected machine). One measure for every binary network
of :mod:`wfm.models`: the perceptron and the committee/parity machines differ only in
their BP state (:mod:`wfm.bpstate`, chosen from the :class:`~wfm.models.Architecture`)
and in their default BP settings (:data:`BP_DEFAULTS`).

**BP method.** Couple every weight to the reference with an external field λ W̃_i,

    Z(λ) = Σ_W X(W) exp(λ W·W̃),   φ(λ) = (1/N) ln Z(λ),   q(λ) = ∂φ/∂λ = ⟨W·W̃⟩/N,

and Legendre-transform: S(d) = φ(λ) − λ q(λ), d(λ) = (1 − q(λ))/2, so that
dS/dd = 2λ. φ is the Bethe free entropy at the BP fixed point (it contains the
external term through ln 2cosh H_i); q is read from the BP marginals,
q = (1/N) Σ_i m_i W̃_i. At a BP fixed point the Bethe φ is stationary in the messages,
so dφ/dλ equals that q: the derivative of φ (BP re-converged at λ ± δ, or
differences along the scan) is stored next to q as a built-in consistency check (a
broken fixed point, a wrong sign of λ or a wrong Legendre transform show up there).
For the machines the stationarity holds to the accuracy of the Gaussian input factors.

The scan runs from large λ (d → 0) down to λ = 0 (the typical distance, where
S = φ(0) is the Bethe entropy of all solutions), each λ warm-started from the previous
messages. A reference whose neighbourhood BP sees as frozen (an isolated, typical
solution: every m_i = W̃_i to machine precision down to λ = 0) is also scanned
*upwards* from the λ = 0 fixed point of fresh messages: that branch is the
Franz–Parisi potential of the bulk around W̃ (possibly S < 0), down to its spinodal
(``up_scan``; points of the two branches are told apart by ``branch``). Points where
BP did not converge are kept, flagged, and summarised in one
:class:`~wfm.errors.BPNotConvergedWarning`.

Requested distances (``distances=``): the λ grid is augmented with the λ that would
give each distance on a flat landscape (λ = atanh(1 − 2d)), the scan is run, and S
is interpolated at the requested d with a cubic Hermite spline in d that uses the
exact Legendre slope dS/dd = 2λ at every scan point. λ, φ, q are interpolated
linearly; a point is flagged converged only if both scan neighbours are. Distances
outside the scanned range give NaN. The raw scan is kept in ``result.scan``.

**Exact method.** Enumerates all 2^N weight vectors (:mod:`wfm.kernels.enumerate`,
N ≲ 30): d = k/N, S = ln(counts[k])/N (−inf where there is no solution), and the
total entropy ln(Σ counts)/N.

The measure is pure: arrays in, a :class:`LocalEntropyResult` out (no files; the API
stores ``to_arrays()``, ``descriptions()`` and ``attrs()``). Bad input raises
``ValueError`` with a one-line message.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field, replace

import numpy as np

from wfm._curves import describe
from wfm._math import binary_entropy
from wfm.errors import BPNotConvergedWarning
from wfm.models import Architecture

__all__ = [
    "BP_DEFAULTS",
    "LocalEntropyResult",
    "bp_defaults",
    "default_lambdas",
    "exact_free_entropy",
    "local_entropy",
]

METHODS = ("bp", "exact", "amp")
#: method -> the kernel family it runs (:mod:`wfm.backends`)
METHOD_KERNELS = {"bp": "bp", "exact": "enumerate", "amp": "amp"}

AMP_DAMPING = 0.5
"""Default damping of the ``"amp"`` method's iteration (the perceptron BP scan runs
undamped; undamped AMP did not converge at 10 of 34 couplings, all at d < 0.003, on a
N = 201, alpha = 0.4 instance)."""

BP_DEFAULTS = {
    "perceptron": {
        "max_sweeps": 400,
        "eps": 1e-5,
        "damping": 0.0,
        "shards": None,
        "randfact": 0.01,
        "derivative_step": 1e-3,
        "up_scan": "auto",
    },
    "machine": {
        "max_sweeps": 400,
        "eps": 1e-5,
        "damping": 0.3,
        "shards": 1,
        "randfact": 0.01,
        "derivative_step": 1e-3,
        "up_scan": "auto",
    },
}
"""Per-λ BP settings of each factor-graph family (``"perceptron"``; ``"machine"`` for
committee and parity machines, :attr:`wfm.models.ModelInfo.bp`): sweeps limit,
tolerance on the messages (magnetisation space), damping in field space (the machine
BP oscillates more than the perceptron's), shards (``None``:
:func:`wfm._numba.default_shards` of the number of patterns), scale of the random
initial messages, the step δ of the consistency check dφ/dλ ≈ (φ(λ+δ) − φ(λ−δ))/2δ
(BP re-converged at λ ± δ from the fixed point at λ; ``0``: differences along the
scan instead), and ``up_scan`` (``"auto"``: also scan λ upwards from 0 when the
downward scan stays frozen on the reference, as around an isolated typical solution;
``True``/``False``: always/never)."""

FROZEN_D = 1e-7
"""A scan point with d below this sits on the frozen branch (all m_i = W̃_i)."""

_PERCEPTRON = Architecture()  # the default network (frozen, so safe as a default)


def bp_defaults(arch: Architecture) -> dict:
    """A copy of the :data:`BP_DEFAULTS` of the family of ``arch``."""
    return dict(BP_DEFAULTS["machine" if arch.hidden else "perceptron"])


def default_lambdas(n_points=32, d_min=5e-4, d_max=0.45):
    """λ grid of the scan, largest first, ending at λ = 0.

    The λ of a flat landscape, λ = atanh(1 − 2d), for ``n_points - 1`` distances
    log-spaced in ``[d_min, d_max]`` (dense at small d, where the curve matters most),
    then λ = 0.
    """
    d = np.geomspace(d_min, d_max, n_points - 1)
    return np.append(np.arctanh(1.0 - 2.0 * d), 0.0)


@dataclass(frozen=True)
class LocalEntropyResult:
    """A local-entropy curve S(d) of one reference.

    Attributes
    ----------
    method : {"bp", "exact"}
    n : int
        Number of weights N.
    distance : ndarray
        Normalised Hamming distances d.
    local_entropy : ndarray
        Local entropy per weight S(d) (nats); −inf (exact) where no solution exists.
    coupling : ndarray
        Coupling λ of each point (NaN for the exact method).
    phi : ndarray
        Free entropy per weight φ(λ) (Bethe for BP; NaN for ``exact``).
    overlap : ndarray
        Overlap q = ⟨W·W̃⟩/N from the marginals.
    overlap_derivative : ndarray
        dφ/dλ by finite differences (BP); compare with ``overlap``.
    converged : ndarray of bool
        BP reached ``eps`` at that λ (always true for ``exact``).
    sweeps : ndarray of int
        BP sweeps spent at each λ.
    consistency : float
        max |q − dφ/dλ| over converged points (BP), 0 for ``exact``.
    total_entropy : float
        (1/N) ln #solutions: exact count, or the Bethe φ(λ=0) for BP.
    counts : ndarray or None
        Exact counts by Hamming distance (exact method).
    params : dict
        Scalars describing the calculation (alpha, kappa, eps, the architecture, ...).
    scan : LocalEntropyResult or None
        The raw λ scan when the result was interpolated at requested distances.
    branch : ndarray of int8 or None
        BP: 0 for points of the downward scan, 1 for the upward scan (see
        ``up_scan`` in :data:`BP_DEFAULTS`).
    """

    method: str
    n: int
    distance: np.ndarray
    local_entropy: np.ndarray
    coupling: np.ndarray
    phi: np.ndarray
    overlap: np.ndarray
    overlap_derivative: np.ndarray
    converged: np.ndarray
    sweeps: np.ndarray
    consistency: float
    total_entropy: float
    counts: np.ndarray | None = None
    params: dict = field(default_factory=dict)
    scan: LocalEntropyResult | None = None
    branch: np.ndarray | None = None

    @property
    def upper_bound(self) -> np.ndarray:
        """H₂(d) at the curve's distances."""
        return binary_entropy(self.distance)

    @property
    def all_converged(self) -> bool:
        return bool(np.all(self.converged))

    def at(self, distances) -> LocalEntropyResult:
        """This curve interpolated at ``distances`` (see the module docstring)."""
        return _interpolate(self, distances)

    def to_arrays(self) -> dict:
        """Per-point arrays for ``/local_entropy/<name>/`` (format-2 names)."""
        out = {
            "distance": np.asarray(self.distance, float),
            "local_entropy": np.asarray(self.local_entropy, float),
            "coupling": np.asarray(self.coupling, float),
            "phi": np.asarray(self.phi, float),
            "overlap": np.asarray(self.overlap, float),
            "overlap_derivative": np.asarray(self.overlap_derivative, float),
            "converged": np.asarray(self.converged, bool),
            "sweeps": np.asarray(self.sweeps, np.int64),
            "upper_bound": self.upper_bound,
        }
        if self.branch is not None:
            out["branch"] = np.asarray(self.branch, np.int8)
        if self.counts is not None:
            out["counts"] = np.asarray(self.counts, np.int64)
        return out

    def descriptions(self) -> dict:
        """``{dataset: (description, units)}`` for every array of :meth:`to_arrays`."""
        return describe(self.to_arrays())

    def attrs(self) -> dict:
        """Scalar attributes (method, N, consistency, total entropy, parameters)."""
        out = {
            "method": self.method,
            "N": int(self.n),
            "consistency": float(self.consistency),
            "total_entropy": float(self.total_entropy),
            "n_points": int(len(self.distance)),
            "n_not_converged": int(np.count_nonzero(~np.asarray(self.converged))),
        }
        for k, v in self.params.items():
            out[k] = "none" if v is None else v
        return out


# ------------------------------------------------------------------ public entry
def local_entropy(
    patterns,
    labels,
    reference,
    *,
    arch: Architecture = _PERCEPTRON,
    kappa=0.0,
    method="bp",
    lambdas=None,
    distances=None,
    rng=None,
    progress=False,
    device="cpu",
    **bp_params,
) -> LocalEntropyResult:
    """Local entropy S(W̃, d) of ``reference`` on one instance.

    Parameters
    ----------
    patterns : (P, N) array
        ±1 (int) or Gaussian patterns.
    labels : (P,) array
        Labels ±1.
    reference : array of ±1
        The reference W̃ (e.g. a learner's solution, or the teacher), of shape
        ``arch.weight_shape(N)`` or flat (``(K, n)`` blocks accepted for machines).
    arch : wfm.models.Architecture
        The network (default: the binary perceptron); committee and parity machines
        need ``kappa = 0``.
    kappa : float
        Margin of the stabilities (perceptron).
    method : {"bp", "exact", "amp"}
        Bethe estimate along a λ scan, exact enumeration (N ≲ 30 weights; N ≲ 40
        on cuda), or the same λ scan with BP in AMP form (binary perceptron with ±1
        patterns; O(N + P) memory besides the patterns, which may be a storage of
        :mod:`wfm.patterns`, so N = 10^4 - 10^5 is within reach).
    lambdas : array_like, optional
        Couplings of the BP scan, scanned in the given order (largest first is the
        sensible order); default :func:`default_lambdas`.
    distances : array_like, optional
        Return S at these distances (BP: Hermite interpolation along the scan,
        raw scan in ``.scan``; exact: the nearest grid points k/N).
    rng : numpy.random.Generator or int, optional
        Initial messages and factor order of BP (default seed 0: reproducible).
    progress : bool
        tqdm progress bar over the λ scan.
    device : {"cpu", "cuda"}
        Where the kernels run (:mod:`wfm.backends`).
    **bp_params
        Overrides of the :data:`BP_DEFAULTS` of the family of ``arch`` (``"amp"``:
        those of the perceptron; ``shards`` does not apply).

    Returns
    -------
    LocalEntropyResult
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}; got {method!r}")
    if method == "amp":
        if arch.hidden:
            raise ValueError(
                "the amp method is for the binary perceptron; use method='bp' for "
                "committee and parity machines"
            )
        from wfm.patterns import as_storage

        patterns = as_storage(patterns)  # ±1 patterns (or a storage) only
        labels, reference = _validate_amp(patterns, labels, reference, kappa)
    else:
        patterns, labels, reference = _validate(
            patterns, labels, reference, arch, kappa
        )
    if method == "exact":
        if bp_params:
            raise ValueError(
                f"the exact method takes no BP parameters, got {sorted(bp_params)}"
            )
        result = _exact_curve(patterns, labels, reference, arch, kappa, device)
        return result if distances is None else result.at(distances)
    if method == "amp":  # undamped AMP oscillates at large couplings (small d)
        bp_params = {"damping": AMP_DAMPING, **bp_params}
    p = _bp_params(arch, bp_params)
    if lambdas is None:
        lambdas = default_lambdas()
        if distances is not None:
            dd = np.clip(np.asarray(distances, float), 1e-6, 0.5)
            lambdas = np.unique(np.append(lambdas, np.arctanh(1.0 - 2.0 * dd)))[::-1]
    lambdas = np.asarray(lambdas, dtype=np.float64)
    if lambdas.ndim != 1 or lambdas.size < 1 or not np.all(np.isfinite(lambdas)):
        raise ValueError("lambdas must be a non-empty 1-D array of finite numbers")
    if not isinstance(rng, np.random.Generator):
        rng = np.random.default_rng(0 if rng is None else rng)
    result = _bp_curve(
        patterns, labels, reference, arch, kappa, lambdas, rng, progress, p,
        method, device,
    )  # fmt: skip
    return result if distances is None else result.at(distances)


def _validate_amp(store, labels, reference, kappa):
    """The checks of :func:`_validate` for ±1 patterns held by a storage."""
    p, n = store.shape
    labels = np.asarray(labels)
    reference = np.asarray(reference).reshape(-1)
    if labels.shape != (p,) or not np.all(np.abs(labels) == 1):
        raise ValueError(f"labels must be ({p},) ±1, got shape {labels.shape}")
    if reference.shape != (n,) or not np.all(np.abs(reference) == 1):
        raise ValueError(f"reference must be ({n},) ±1, got shape {reference.shape}")
    if not math.isfinite(kappa):
        raise ValueError(f"kappa must be finite, got {kappa}")
    return labels.astype(np.int8), reference


class _AMPScanState:
    """The part of the :class:`wfm.bpstate.BPState` interface the λ scan uses, on an
    AMP engine (:mod:`wfm.kernels.amp`, ``amp_cuda``): ``ext`` is a host array pushed
    to the engine before each iteration, a sweep is one damped AMP iteration, the
    free entropy is the TAP (Bethe) one in AMP form."""

    def __init__(self, store, labels, kappa, randfact, rng, device):
        from wfm.backends import kernels

        p, n = store.shape
        m = randfact * (2.0 * rng.random(n) - 1.0)
        z = np.zeros
        self.ext = z(n)
        self._pushed = None
        self.kappa = float(kappa)
        self.engine = kernels("amp", device).AMPEngine(
            store, labels, m, z(p), z(n), self.ext.copy(), z(n)
        )

    n_weights = property(lambda self: self.engine.shape[1])

    def _push(self):
        if self._pushed is None or not np.array_equal(self._pushed, self.ext):
            self._pushed = self.ext.copy()
            self.engine.load_state({"ext": self._pushed})

    def sweep(self, *, shards=None, damping=0.0):
        self._push()
        return self.engine.iteration(kappa=self.kappa, damping=damping).maxdiff

    def free_entropy(self):
        self._push()
        return self.engine.free_entropy(kappa=self.kappa)

    @property
    def magnetizations(self):
        return self.engine.state()["m"]

    def snapshot(self):
        st = self.engine.state()
        return {k: st[k] for k in ("m", "g", "B", "f")}

    def restore(self, snapshot):
        self.engine.load_state(snapshot)


def _validate(patterns, labels, reference, arch, kappa):
    """One-line ValueErrors for bad input; returns the arrays, reference flat."""
    if not isinstance(arch, Architecture):
        raise ValueError(f"arch must be a wfm.models.Architecture, got {arch!r}")
    if not arch.binary:
        raise ValueError("the local entropy needs binary weights (arch.binary)")
    patterns = np.asarray(patterns)
    labels = np.asarray(labels)
    reference = np.asarray(reference)
    if patterns.ndim != 2 or labels.shape != (patterns.shape[0],):
        raise ValueError(
            f"patterns must be (P, N) and labels (P,), got {patterns.shape} and "
            f"{labels.shape}"
        )
    if not np.all(np.abs(labels) == 1):
        raise ValueError("labels must be ±1")
    n_in = patterns.shape[1]
    if not math.isfinite(kappa):
        raise ValueError(f"kappa must be finite, got {kappa}")
    if arch.hidden:
        if kappa != 0.0:
            raise ValueError(
                f"kappa must be 0 for a committee/parity machine, got {kappa}"
            )
        if not arch.fully_connected and n_in % arch.k:
            raise ValueError(
                f"N must be a multiple of k={arch.k} for a tree machine, got {n_in}"
            )
    elif arch.k != 1:
        raise ValueError(f"arch.k must be 1 for a perceptron, got {arch.k}")
    n_w = arch.n_weights(n_in)
    shapes = {arch.weight_shape(n_in), (n_w,), (arch.k, arch.fan_in(n_in))}
    if reference.shape not in shapes:
        raise ValueError(
            f"reference must have shape {arch.weight_shape(n_in)} (or {n_w} entries "
            f"flat), got {reference.shape}"
        )
    if not np.all(np.abs(reference) == 1):
        raise ValueError("reference must be a ±1 array")
    return patterns, labels, reference.reshape(-1)


_BP_CONSTRAINTS = {
    "max_sweeps": (lambda v: v >= 1, ">= 1"),
    "eps": (lambda v: v > 0, "> 0"),
    "damping": (lambda v: 0 <= v < 1, "in [0, 1)"),
    "shards": (lambda v: v is None or v >= 1, ">= 1 or None"),
    "randfact": (lambda v: 0 <= v < 1, "in [0, 1)"),
    "derivative_step": (lambda v: v >= 0, ">= 0"),
    "up_scan": (lambda v: v in ("auto", True, False), "'auto', True or False"),
}


def _bp_params(arch, bp_params):
    """The BP settings of ``arch``'s family with ``bp_params`` applied, validated."""
    p = bp_defaults(arch)
    unknown = sorted(set(bp_params) - set(p))
    if unknown:
        raise ValueError(
            f"{unknown[0]} is not a BP parameter; accepted: {', '.join(p)}"
        )
    p.update(bp_params)
    for key, (ok, text) in _BP_CONSTRAINTS.items():
        if not ok(p[key]):
            raise ValueError(f"{key} must be {text}, got {p[key]!r}")
    return p


# -------------------------------------------------------------------------- BP
def _bp_curve(
    patterns, labels, reference, arch, kappa, lambdas, rng, progress, p,
    method="bp", device="cpu",
):  # fmt: skip
    """The BP λ scan (module docstring) on the BP state of ``arch`` (``method =
    "amp"``: on an AMP engine)."""
    from wfm._numba import default_shards
    from wfm.bpstate import new_bp_state

    def fresh_state():
        if method == "amp":
            return _AMPScanState(patterns, labels, kappa, p["randfact"], rng, device)
        return new_bp_state(
            patterns, labels, arch=arch, rng=rng, kappa=kappa, randfact=p["randfact"],
            device=device,
        )  # fmt: skip

    n_patterns = patterns.shape[0]
    shards = int(p["shards"] or default_shards(n_patterns))
    state = fresh_state()
    n = state.n_weights
    ref = reference.astype(np.float64).reshape(state.ext.shape)
    scan = _scan(state, ref, lambdas, p, shards, progress, "local entropy")
    branch = np.zeros(lambdas.size, np.int8)
    up = p["up_scan"]
    frozen = bool(0.5 * (1.0 - scan[1][np.argmin(lambdas)]) < FROZEN_D)
    if up is True or (up == "auto" and frozen):
        # the bulk around a frozen reference: fresh messages at lambda = 0, then up
        lam_up = np.unique(np.append(lambdas, 0.0))
        scan_up = _scan(
            fresh_state(), ref, lam_up, p, shards, progress, "local entropy up"
        )
        lambdas = np.concatenate([lambdas, lam_up])
        scan = tuple(np.concatenate([x, y]) for x, y in zip(scan, scan_up, strict=True))
        branch = np.concatenate([branch, np.ones(lam_up.size, np.int8)])
    phi, q, q_fd, converged, sweeps = scan
    s = phi - lambdas * q  # Legendre transform, S(d) = φ(λ) − λ q(λ)
    d = 0.5 * (1.0 - q)
    delta = float(p["derivative_step"])
    if delta <= 0:
        q_fd = np.concatenate(
            [_finite_difference(lambdas[branch == b], phi[branch == b]) for b in (0, 1)]
        )
    consistency = _consistency(q, q_fd, converged, local=delta > 0)
    n_bad = int(np.count_nonzero(~converged))
    if n_bad:
        worst = ", ".join(f"{v:.3g}" for v in lambdas[~converged][:5])
        more = ", ..." if n_bad > 5 else ""
        warnings.warn(
            f"BP did not converge (eps={p['eps']:g} in {p['max_sweeps']} sweeps) at "
            f"{n_bad} of {lambdas.size} couplings (lambda = {worst}{more});"
            " those points are kept and flagged converged=False",
            BPNotConvergedWarning,
            stacklevel=3,
        )
    at_zero = np.flatnonzero((lambdas == 0.0) & (d >= FROZEN_D))
    total = float(phi[at_zero[-1]]) if at_zero.size else math.nan
    params = {
        "kappa": float(kappa),
        "alpha": n_patterns / n,
        **_arch_attrs(arch),
        "eps": float(p["eps"]),
        "max_sweeps": int(p["max_sweeps"]),
        "damping": float(p["damping"]),
        "shards": shards,
        "randfact": float(p["randfact"]),
        # how overlap_derivative (and so `consistency`) was computed: 0 = differences
        # along the scan (coarse grids make it a truncation error), else BP at
        # lambda ± step
        "derivative_step": delta,
        "interpolated": False,
        "up_scan": bool(np.any(branch == 1)),
        "frozen_down_scan": frozen,
    }
    if method == "amp":
        params.pop("shards")
        params["device"] = device
    return LocalEntropyResult(
        method, n, d, s, lambdas, phi, q, q_fd, converged, sweeps, consistency,
        total, params=params, branch=branch,
    )  # fmt: skip


def _arch_attrs(arch):
    return {
        "k": int(arch.k),
        "hidden": bool(arch.hidden),
        "fully_connected": bool(arch.fully_connected),
        "parity": bool(arch.parity),
    }


def _scan(state, ref, lambdas, p, shards, progress, desc):
    """BP to convergence at each coupling in turn, warm-started; per-point arrays.

    ``state`` is any :class:`wfm.bpstate.BPState`; ``ref`` has the shape of its
    fields.
    """
    from tqdm.auto import tqdm

    k = lambdas.size
    phi, q = np.empty(k), np.empty(k)
    converged = np.zeros(k, bool)
    sweeps = np.zeros(k, np.int64)
    delta = float(p["derivative_step"])
    q_fd = np.full(k, np.nan)
    bar = tqdm(lambdas, disable=not progress, desc=desc, unit="λ", leave=False)
    for j, lam in enumerate(bar):
        state.ext[...] = lam * ref  # the coupling to the reference, [P1] eq. 4
        converged[j], sweeps[j] = _converge(state, p, shards, p["eps"])
        phi[j] = state.free_entropy()  # Bethe, includes sum_i ln 2cosh(U+λW̃)
        q[j] = float(np.mean(state.magnetizations * ref))
        if delta > 0:
            q_fd[j], extra = _local_derivative(state, ref, lam, delta, shards, p)
            sweeps[j] += extra
        bar.set_postfix(d=f"{(1 - q[j]) / 2:.3g}", ok=bool(converged[j]))
    bar.close()
    return phi, q, q_fd, converged, sweeps


def _converge(state, p, shards, eps):
    """Sweeps until the messages move less than ``eps``: (converged, sweeps)."""
    for n in range(1, int(p["max_sweeps"]) + 1):
        if state.sweep(shards=shards, damping=p["damping"]) < eps:
            return True, n
    return False, int(p["max_sweeps"])


def _local_derivative(state, ref, lam, delta, shards, p):
    """(φ(λ+δ) − φ(λ−δ))/2δ, BP re-converged at λ ± δ; messages restored after.

    Independent of the marginals, so it checks q = ∂φ/∂λ (the stationarity of the
    Bethe free entropy at a fixed point) point by point.
    """
    saved = state.snapshot()
    phis, extra = [], 0
    for sign in (1.0, -1.0):
        state.restore(saved)
        state.ext[...] = (lam + sign * delta) * ref
        extra += _converge(state, p, shards, 0.1 * p["eps"])[1]
        phis.append(state.free_entropy())
    state.restore(saved)
    state.ext[...] = lam * ref
    return (phis[0] - phis[1]) / (2.0 * delta), extra


def _finite_difference(lambdas, phi):
    """dφ/dλ along the scan (second-order, non-uniform grid); NaN if < 2 points."""
    if lambdas.size < 2:
        return np.full(lambdas.size, np.nan)
    order = np.argsort(lambdas)
    lam, ph = lambdas[order], phi[order]
    if np.any(np.diff(lam) <= 0):  # repeated λ: no derivative
        return np.full(lambdas.size, np.nan)
    out = np.empty_like(phi)
    out[order] = np.gradient(ph, lam, edge_order=2 if lam.size > 2 else 1)
    return out


def _consistency(q, q_fd, converged, local=True):
    """max |q − dφ/dλ| over converged points (and converged neighbours if along
    the scan)."""
    ok = converged & np.isfinite(q_fd)
    if not local:
        ok[1:-1] &= converged[:-2] & converged[2:]
    return float(np.max(np.abs(q - q_fd)[ok])) if np.any(ok) else math.nan


# ----------------------------------------------------------------------- exact
def _exact_curve(patterns, labels, reference, arch, kappa, device="cpu"):
    """S(d) = ln(counts[k])/N at d = k/N by exhaustive enumeration (N ≲ 30)."""
    from wfm.backends import kernels

    enum = kernels("enumerate", device)
    exact_local_entropy, exact_total_entropy = (
        enum.exact_local_entropy,
        enum.exact_total_entropy,
    )
    counts = enum.count_solutions_by_distance(
        patterns, labels, reference, arch=arch, kappa=kappa
    )
    n = counts.size - 1
    d, s = exact_local_entropy(counts, n)
    nan = np.full(d.size, np.nan)
    return LocalEntropyResult(
        "exact", n, d, s, nan, nan.copy(), 1.0 - 2.0 * d, nan.copy(),
        np.ones(d.size, bool), np.zeros(d.size, np.int64), 0.0,
        exact_total_entropy(counts, n), counts=counts,
        params={
            "kappa": float(kappa),
            "alpha": patterns.shape[0] / n,
            **_arch_attrs(arch),
            "n_solutions": int(counts.sum()),
            "interpolated": False,
        },
    )  # fmt: skip


def exact_free_entropy(counts, lambdas):
    """Exact φ(λ) = (1/N) ln Σ_k counts[k] e^{λ(N − 2k)} and q(λ) = dφ/dλ.

    The quantities BP estimates at each coupling, from exact counts (for tests).
    """
    counts = np.asarray(counts, dtype=np.float64)
    n = counts.size - 1
    k = np.arange(n + 1)
    lambdas = np.atleast_1d(np.asarray(lambdas, dtype=np.float64))
    with np.errstate(divide="ignore"):
        logc = np.log(counts)
    expo = logc[None, :] + lambdas[:, None] * (n - 2 * k)[None, :]
    top = expo.max(axis=1, keepdims=True)
    w = np.exp(expo - top)
    z = w.sum(axis=1)
    phi = (top[:, 0] + np.log(z)) / n
    q = (w * (n - 2 * k)[None, :]).sum(axis=1) / z / n
    return phi, q


# ---------------------------------------------------------------- interpolation
_POINT_FIELDS = (
    "distance",
    "local_entropy",
    "coupling",
    "phi",
    "overlap",
    "overlap_derivative",
    "converged",
)


def _interpolate(result, distances):
    distances = np.atleast_1d(np.asarray(distances, dtype=np.float64))
    if np.any((distances < 0) | (distances > 1)) or distances.ndim != 1:
        raise ValueError("distances must be a 1-D array of values in [0, 1]")
    if result.method == "exact":
        idx = np.rint(distances * result.n).astype(int)
        pick = {k: getattr(result, k)[idx] for k in _POINT_FIELDS}
        return _replace(result, pick, result.sweeps[idx])
    from scipy.interpolate import CubicHermiteSpline

    # monotone branch in d: keep points where d increases along the sorted order
    order = np.argsort(result.distance, kind="stable")
    d = result.distance[order]
    s, lam = result.local_entropy[order], result.coupling[order]
    keep = np.concatenate([[True], np.diff(d) > 1e-12])
    d, s, lam, order = d[keep], s[keep], lam[keep], order[keep]
    out = {k: np.full(distances.size, np.nan) for k in _POINT_FIELDS}
    out["distance"] = distances.copy()
    conv = np.zeros(distances.size, bool)
    inside = (distances >= d[0]) & (distances <= d[-1])
    if d.size >= 2 and np.any(inside):
        # dS/dd = 2λ exactly (Legendre pair), so the Hermite spline is O(h^4)
        spline = CubicHermiteSpline(d, s, 2.0 * lam)
        x = distances[inside]
        out["local_entropy"][inside] = spline(x)
        for key in ("coupling", "phi", "overlap"):
            out[key][inside] = np.interp(x, d, getattr(result, key)[order])
        j = np.clip(np.searchsorted(d, x), 1, d.size - 1)
        c = result.converged[order]
        conv[inside] = c[j - 1] & c[j]
    elif d.size == 1:
        hit = np.isclose(distances, d[0])
        out["local_entropy"][hit] = s[0]
    out["converged"] = conv
    return _replace(result, out, np.zeros(distances.size, np.int64))


def _replace(result, arrays, sweeps):
    arrays = {**arrays, "converged": np.asarray(arrays["converged"], bool)}
    params = {**result.params, "interpolated": True}
    # the branches of the scan are merged by the interpolation in d
    return replace(
        result, **arrays, sweeps=sweeps, params=params, scan=result, branch=None
    )
