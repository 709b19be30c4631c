"""Local entropy S(W̃, d) of a reference W̃: BP estimate and exact enumeration.

Definitions (science.md §3; Baldassi, Pittorino, Zecchina, PNAS 2020 [P1], eqs. 3-5;
Huang & Kabashima 2014 for the binary perceptron)::

    S(W̃, d) = (1/N) ln #{W solution : d(W, W̃) = d},     H₂(d) ≥ S(W̃, d),

with the normalised Hamming distance d = (1 − q)/2, q = W·W̃/N.

**BP method.** Couple every weight to the reference with an external field λ W̃_i,

    Z(λ) = Σ_W X(W) exp(λ W·W̃),   φ(λ) = (1/N) ln Z(λ),   q(λ) = ∂φ/∂λ = ⟨W·W̃⟩/N,

and Legendre-transform: S(d) = φ(λ) − λ q(λ), d(λ) = (1 − q(λ))/2, so that
dS/dd = 2λ. φ is the Bethe free entropy at the BP fixed point (it contains the
external term through ln 2cosh H_i); q is read from the BP marginals,
q = (1/N) Σ_i m_i W̃_i. At a BP fixed point the Bethe φ is stationary in the messages,
so dφ/dλ equals that q exactly: the finite-difference derivative of φ along the scan
is stored next to q as a built-in consistency check (a broken fixed point, a wrong
sign of λ or a wrong Legendre transform show up there).

The scan runs from large λ (d → 0) down to λ = 0 (the typical distance, where
S = φ(0) is the Bethe entropy of all solutions), each λ warm-started from the previous
messages. Points where BP did not converge are kept, flagged, and summarised in one
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
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field

import numpy as np

from wfm.errors import BPNotConvergedWarning

__all__ = [
    "LocalEntropyResult",
    "default_lambdas",
    "exact_free_entropy",
    "local_entropy",
    "local_entropy_bp",
    "local_entropy_exact",
]

METHODS = ("bp", "exact")

BP_DEFAULTS = {
    "max_sweeps": 400,
    "eps": 1e-5,
    "damping": 0.0,
    "shards": None,
    "randfact": 0.01,
    "derivative_step": 1e-3,
    "up_scan": "auto",
}
"""Per-λ BP settings: sweeps limit, tolerance on the messages (magnetisation
space), damping in field space, shards (``None``: 1 for P < 200, else 2), and the
step δ of the consistency check dφ/dλ ≈ (φ(λ+δ) − φ(λ−δ))/2δ (BP re-converged at
λ ± δ from the fixed point at λ; ``0``: differences along the scan instead), and
``up_scan`` (``"auto"``: also scan λ upwards from 0 when the downward scan stays
frozen on the reference, as around an isolated typical solution; ``True``/``False``:
always/never)."""

FROZEN_D = 1e-7
"""A scan point with d below this sits on the frozen branch (all m_i = W̃_i)."""


def binary_entropy(d):
    """H₂(d) = −d ln d − (1−d) ln(1−d) (nats), 0 at d = 0, 1; the upper bound of S."""
    from wfm.kernels.enumerate import binary_entropy as _h2

    return _h2(d)


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
    d : ndarray
        Normalised Hamming distances.
    s : ndarray
        Local entropy per weight S(d) (nats); −inf (exact) where no solution exists.
    lam : ndarray
        Coupling λ of each point (NaN for the exact method).
    phi : ndarray
        Free entropy per weight φ(λ) (Bethe for BP, exact for ``exact``).
    q : ndarray
        Overlap ⟨W·W̃⟩/N from the marginals.
    q_derivative : ndarray
        dφ/dλ by finite differences along the scan (BP); compare with ``q``.
    converged : ndarray of bool
        BP reached ``eps`` at that λ (always true for ``exact``).
    sweeps : ndarray of int
        BP sweeps spent at each λ.
    consistency : float
        max |q − dφ/dλ| over converged interior points (BP), 0 for ``exact``.
    total_entropy : float
        (1/N) ln #solutions: exact count, or the Bethe φ(λ=0) for BP.
    counts : ndarray or None
        Exact counts by Hamming distance (exact method).
    params : dict
        Scalars describing the calculation (alpha, kappa, eps, ...).
    scan : LocalEntropyResult or None
        The raw λ scan when the result was interpolated at requested distances.
    branch : ndarray of int8 or None
        BP: 0 for points of the downward scan, 1 for the upward scan (see
        ``up_scan`` in :data:`BP_DEFAULTS`).
    """

    method: str
    n: int
    d: np.ndarray
    s: np.ndarray
    lam: np.ndarray
    phi: np.ndarray
    q: np.ndarray
    q_derivative: np.ndarray
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
        return binary_entropy(self.d)

    @property
    def all_converged(self) -> bool:
        return bool(np.all(self.converged))

    def at(self, distances) -> LocalEntropyResult:
        """This curve interpolated at ``distances`` (see the module docstring)."""
        return _interpolate(self, distances)

    def to_arrays(self) -> dict:
        """Per-point arrays for ``/local_entropy/<name>/`` (design.md layout)."""
        out = {
            "d": np.asarray(self.d, float),
            "s": np.asarray(self.s, float),
            "lambda": np.asarray(self.lam, float),
            "phi": np.asarray(self.phi, float),
            "q": np.asarray(self.q, float),
            "q_derivative": np.asarray(self.q_derivative, float),
            "converged": np.asarray(self.converged, bool),
            "sweeps": np.asarray(self.sweeps, np.int64),
            "upper_bound": self.upper_bound,
        }
        if self.branch is not None:
            out["branch"] = np.asarray(self.branch, np.int8)
        if self.counts is not None:
            out["counts"] = np.asarray(self.counts, np.int64)
        return out

    def attrs(self) -> dict:
        """Scalar attributes (method, N, consistency, total entropy, parameters)."""
        out = {
            "method": self.method,
            "N": int(self.n),
            "consistency": float(self.consistency),
            "total_entropy": float(self.total_entropy),
            "n_points": int(len(self.d)),
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
    method="bp",
    lambdas=None,
    distances=None,
    kappa=0.0,
    rng=None,
    progress=False,
    **bp_params,
) -> LocalEntropyResult:
    """Local entropy S(W̃, d) of ``reference`` on a binary-perceptron instance.

    Parameters
    ----------
    patterns : (P, N) array
        ±1 (int) or Gaussian patterns.
    labels : (P,) array
        Labels ±1.
    reference : (N,) array of ±1
        The reference W̃ (e.g. a learner's solution, or the teacher).
    method : {"bp", "exact"}
        Bethe estimate along a λ scan, or exact enumeration (N ≲ 30).
    lambdas : array_like, optional
        Couplings of the BP scan, scanned in the given order (largest first is the
        sensible order); default :func:`default_lambdas`.
    distances : array_like, optional
        Return S at these distances (BP: Hermite interpolation along the scan,
        raw scan in ``.scan``; exact: the nearest grid points k/N).
    kappa : float
        Margin of the stabilities.
    rng : numpy.random.Generator or int, optional
        Initial messages and factor order of BP (default seed 0: reproducible).
    progress : bool
        tqdm progress bar over the λ scan.
    **bp_params
        Overrides of :data:`BP_DEFAULTS` (``max_sweeps``, ``eps``, ``damping``,
        ``shards``, ``randfact``).

    Returns
    -------
    LocalEntropyResult
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}; got {method!r}")
    patterns = np.asarray(patterns)
    labels = np.asarray(labels)
    reference = np.asarray(reference).ravel()
    if patterns.ndim != 2 or labels.shape != (patterns.shape[0],):
        raise ValueError(
            f"patterns must be (P, N) and labels (P,), got {patterns.shape} and "
            f"{labels.shape}"
        )
    if reference.shape != (patterns.shape[1],):
        raise ValueError(
            f"reference must have shape ({patterns.shape[1]},), got {reference.shape}"
        )
    if not np.all(np.abs(reference) == 1):
        raise ValueError("reference must be a ±1 vector")
    if method == "exact":
        if bp_params:
            raise ValueError(
                f"the exact method takes no BP parameters, got {sorted(bp_params)}"
            )
        result = local_entropy_exact(patterns, labels, reference, kappa=kappa)
        if distances is not None:
            result = result.at(distances)
        return result
    if lambdas is None:
        lambdas = default_lambdas()
        if distances is not None:
            dd = np.clip(np.asarray(distances, float), 1e-6, 0.5)
            lambdas = np.unique(np.append(lambdas, np.arctanh(1.0 - 2.0 * dd)))[::-1]
    result = local_entropy_bp(
        patterns,
        labels,
        reference,
        lambdas=lambdas,
        kappa=kappa,
        rng=rng,
        progress=progress,
        **bp_params,
    )
    if distances is not None:
        result = result.at(distances)
    return result


# -------------------------------------------------------------------------- BP
def local_entropy_bp(
    patterns,
    labels,
    reference,
    *,
    lambdas,
    kappa=0.0,
    rng=None,
    progress=False,
    **bp_params,
) -> LocalEntropyResult:
    """The BP λ scan (module docstring); use :func:`local_entropy`."""
    from wfm.learners._bpstate import BPState

    unknown = sorted(set(bp_params) - set(BP_DEFAULTS))
    if unknown:
        raise ValueError(
            f"{unknown[0]} is not a BP parameter; accepted: {', '.join(BP_DEFAULTS)}"
        )
    p = {**BP_DEFAULTS, **bp_params}
    lambdas = np.asarray(lambdas, dtype=np.float64)
    if lambdas.ndim != 1 or lambdas.size < 1 or not np.all(np.isfinite(lambdas)):
        raise ValueError("lambdas must be a non-empty 1-D array of finite numbers")
    if not isinstance(rng, np.random.Generator):
        rng = np.random.default_rng(0 if rng is None else rng)
    n_patterns, n = patterns.shape
    shards = p["shards"] or (1 if n_patterns < 200 else 2)
    ref = reference.astype(np.float64)
    scan = _scan(
        BPState.new(patterns, labels, rng=rng, kappa=kappa, randfact=p["randfact"]),
        ref, lambdas, p, shards, progress, "local entropy",
    )  # fmt: skip
    branch = np.zeros(lambdas.size, np.int8)
    # A reference whose neighbourhood BP sees as frozen (an isolated, typical
    # solution: every m_i = W~_i to machine precision) stays on that branch down to
    # lambda = 0. Then scan up from the lambda = 0 fixed point of fresh messages: that
    # branch is the Franz-Parisi potential of the bulk around W~ (possibly S < 0),
    # down to its spinodal. Points of both branches are kept (``branch`` = 0, 1).
    up = p["up_scan"]
    frozen = bool(0.5 * (1.0 - scan[1][np.argmin(lambdas)]) < FROZEN_D)
    if up is True or (up == "auto" and frozen):
        lam_up = np.unique(np.append(lambdas, 0.0))
        state_up = BPState.new(
            patterns, labels, rng=rng, kappa=kappa, randfact=p["randfact"]
        )
        scan_up = _scan(state_up, ref, lam_up, p, shards, progress, "local entropy up")
        lambdas = np.concatenate([lambdas, lam_up])
        scan = tuple(np.concatenate([x, y]) for x, y in zip(scan, scan_up, strict=True))
        branch = np.concatenate([branch, np.ones(lam_up.size, np.int8)])
    phi, q, q_fd, converged, sweeps = scan
    k = lambdas.size
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
            f"{n_bad} of {k} couplings (lambda = {worst}{more});"
            " those points are kept and flagged converged=False",
            BPNotConvergedWarning,
            stacklevel=3,
        )
    at_zero = np.flatnonzero((lambdas == 0.0) & (0.5 * (1.0 - q) >= FROZEN_D))
    total = float(phi[at_zero[-1]]) if at_zero.size else math.nan
    params = {
        "kappa": float(kappa),
        "alpha": n_patterns / n,
        "eps": float(p["eps"]),
        "max_sweeps": int(p["max_sweeps"]),
        "damping": float(p["damping"]),
        "shards": int(shards),
        # how q_derivative (and so `consistency`) was computed: 0 = differences along
        # the scan (coarse grids make it a truncation error), else BP at lambda ± step
        "derivative_step": float(p["derivative_step"]),
        "interpolated": False,
        "up_scan": bool(np.any(branch == 1)),
        "frozen_down_scan": frozen,
    }
    return LocalEntropyResult(
        "bp", n, d, s, lambdas, phi, q, q_fd, converged, sweeps, consistency, total,
        params=params, branch=branch,
    )  # fmt: skip


def _scan(state, ref, lambdas, p, shards, progress, desc):
    """BP to convergence at each coupling in turn, warm-started; per-point arrays."""
    from tqdm.auto import tqdm

    k = lambdas.size
    phi, q = np.empty(k), np.empty(k)
    converged = np.zeros(k, bool)
    sweeps = np.zeros(k, np.int64)
    delta = float(p["derivative_step"])
    q_fd = np.full(k, np.nan)
    bar = tqdm(lambdas, disable=not progress, desc=desc, unit="λ", leave=False)
    for j, lam in enumerate(bar):
        state.ext[:] = lam * ref  # the coupling to the reference, [P1] eq. 4
        while sweeps[j] < p["max_sweeps"]:
            sweeps[j] += 1
            if state.sweep(shards=shards, damping=p["damping"]) < p["eps"]:
                converged[j] = True
                break
        phi[j] = state.free_entropy()  # Bethe, includes sum_i ln 2cosh(U+λW̃)
        q[j] = float(np.mean(state.magnetizations * ref))
        if delta > 0:
            q_fd[j], extra = _local_derivative(state, ref, lam, delta, shards, p)
            sweeps[j] += extra
        bar.set_postfix(d=f"{(1 - q[j]) / 2:.3g}", ok=bool(converged[j]))
    bar.close()
    return phi, q, q_fd, converged, sweeps


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


def _local_derivative(state, ref, lam, delta, shards, p):
    """(φ(λ+δ) − φ(λ−δ))/2δ, BP re-converged at λ ± δ; messages restored after.

    Independent of the marginals, so it checks q = ∂φ/∂λ (the stationarity of the
    Bethe free entropy at a fixed point) point by point.
    """
    saved = (state.u.copy(), state.t.copy(), state.U.copy(), state.f.copy())
    phis, extra = [], 0
    for sign in (1.0, -1.0):
        state.u[:], state.t[:], state.U[:], state.f[:] = saved
        state.ext[:] = (lam + sign * delta) * ref
        for _ in range(int(p["max_sweeps"])):
            extra += 1
            if state.sweep(shards=shards, damping=p["damping"]) < 0.1 * p["eps"]:
                break
        phis.append(state.free_entropy())
    state.u[:], state.t[:], state.U[:], state.f[:] = saved
    state.ext[:] = lam * ref
    return (phis[0] - phis[1]) / (2.0 * delta), extra


def _consistency(q, q_fd, converged, local=True):
    """max |q − dφ/dλ| over converged points (and converged neighbours if along
    the scan)."""
    ok = converged & np.isfinite(q_fd)
    if not local:
        ok[1:-1] &= converged[:-2] & converged[2:]
    return float(np.max(np.abs(q - q_fd)[ok])) if np.any(ok) else math.nan


# ----------------------------------------------------------------------- exact
def local_entropy_exact(patterns, labels, reference, *, kappa=0.0):
    """S(d) = ln(counts[k])/N at d = k/N by exhaustive enumeration (N ≲ 30)."""
    from wfm.kernels.enumerate import (
        count_solutions_by_distance,
        exact_local_entropy,
        exact_total_entropy,
    )

    counts = count_solutions_by_distance(patterns, labels, reference, kappa=kappa)
    n = counts.size - 1
    d, s = exact_local_entropy(counts, n)
    nan = np.full(d.size, np.nan)
    return LocalEntropyResult(
        "exact",
        n,
        d,
        s,
        nan,
        nan.copy(),
        1.0 - 2.0 * d,
        nan.copy(),
        np.ones(d.size, bool),
        np.zeros(d.size, np.int64),
        0.0,
        exact_total_entropy(counts, n),
        counts=counts,
        params={
            "kappa": float(kappa),
            "alpha": patterns.shape[0] / n,
            "n_solutions": int(counts.sum()),
            "interpolated": False,
        },
    )


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
def _interpolate(result, distances):
    distances = np.atleast_1d(np.asarray(distances, dtype=np.float64))
    if np.any((distances < 0) | (distances > 1)) or distances.ndim != 1:
        raise ValueError("distances must be a 1-D array of values in [0, 1]")
    if result.method == "exact":
        idx = np.rint(distances * result.n).astype(int)
        pick = {
            k: getattr(result, k)[idx]
            for k in ("d", "s", "lam", "phi", "q", "q_derivative", "converged")
        }
        return _replace(result, pick, result.sweeps[idx])
    from scipy.interpolate import CubicHermiteSpline

    # monotone branch in d: keep points where d increases along the sorted order
    order = np.argsort(result.d, kind="stable")
    d, s, lam = result.d[order], result.s[order], result.lam[order]
    keep = np.concatenate([[True], np.diff(d) > 1e-12])
    d, s, lam, order = d[keep], s[keep], lam[keep], order[keep]
    out = {k: np.full(distances.size, np.nan) for k in ("d", "s", "lam", "phi", "q")}
    out["d"] = distances.copy()
    conv = np.zeros(distances.size, bool)
    inside = (distances >= d[0]) & (distances <= d[-1])
    if d.size >= 2 and np.any(inside):
        # dS/dd = 2λ exactly (Legendre pair), so the Hermite spline is O(h^4)
        spline = CubicHermiteSpline(d, s, 2.0 * lam)
        x = distances[inside]
        out["s"][inside] = spline(x)
        for key, arr in (("lam", result.lam), ("phi", result.phi), ("q", result.q)):
            out[key][inside] = np.interp(x, d, arr[order])
        j = np.clip(np.searchsorted(d, x), 1, d.size - 1)
        c = result.converged[order]
        conv[inside] = c[j - 1] & c[j]
    elif d.size == 1:
        hit = np.isclose(distances, d[0])
        out["s"][hit] = s[0]
    out["q_derivative"] = np.full(distances.size, np.nan)
    out["converged"] = conv
    return _replace(result, out, np.zeros(distances.size, np.int64))


def _replace(result, arrays, sweeps):
    from dataclasses import replace

    params = {**result.params, "interpolated": True}
    return replace(
        result,
        d=arrays["d"],
        s=arrays["s"],
        lam=arrays["lam"],
        phi=arrays["phi"],
        q=arrays["q"],
        q_derivative=arrays["q_derivative"],
        converged=np.asarray(arrays["converged"], bool),
        sweeps=sweeps,
        params=params,
        scan=result,
    )


# ------------------------------------------------------------------- run files
REFERENCES = ("solution", "teacher")


def local_entropy_of_run(
    path,
    *,
    method="bp",
    reference="solution",
    name=None,
    distances=None,
    lambdas=None,
    progress=False,
    **bp_params,
):
    """Measure the local entropy of a stored run and append it to the file.

    Parameters
    ----------
    path : path-like
        Run file ``F.h5`` (with ``/solution``; with ``/data/teacher`` for
        ``reference="teacher"``).
    method : {"bp", "exact"}
    reference : {"solution", "teacher"}
        The learner's solution, or the teacher of teacher–student data (a typical
        solution of the same instance, science.md §1).
    name : str, optional
        Group name under ``/local_entropy/`` (default: ``reference``, with
        ``_exact`` appended for the exact method).
    distances, lambdas : array_like, optional
        See :func:`local_entropy`.
    progress : bool
    **bp_params
        See :data:`BP_DEFAULTS`.

    Returns
    -------
    group : str
        ``"/local_entropy/<name>"``.
    result : LocalEntropyResult
    """
    from wfm.config import MACHINE_MODELS
    from wfm.errors import ConfigError
    from wfm.store import append_group, open_run

    if reference not in REFERENCES:
        raise ConfigError(
            f"reference must be one of {', '.join(REFERENCES)}; got {reference!r}"
        )
    if method not in METHODS:
        raise ConfigError(f"method must be one of {', '.join(METHODS)}; got {method!r}")
    run = open_run(path)
    if reference == "teacher":
        ref = run.teacher
        if ref is None:
            raise ConfigError(
                f"{path} has no teacher (data.kind is not 'teacher'); use "
                "--reference solution"
            )
    else:
        if "solution" not in run.groups:
            raise ConfigError(f"{path} has no /solution to measure")
        ref = run.weights
    kappa = run.config.model.kappa if run.config is not None else 0.0
    seed = run.config.seed if run.config is not None else 0
    model = run.config.model if run.config is not None else None
    measure, extra = local_entropy, {"kappa": kappa}
    if model is not None and model.name in MACHINE_MODELS:  # committee / parity
        from wfm.measures.local_entropy_machine import machine_local_entropy_measure

        measure = machine_local_entropy_measure
        extra = {"architecture": model.name, "k": int(model.k)}
    result = measure(
        run.patterns,
        run.labels,
        ref,
        method=method,
        distances=distances,
        lambdas=lambdas,
        rng=np.random.default_rng([seed, 4]),  # own stream, reproducible per run
        progress=progress,
        **extra,
        **bp_params,
    )
    name = name or (reference if method == "bp" else f"{reference}_exact")
    group = f"/local_entropy/{name}"
    attrs = {**result.attrs(), "reference": reference, "name": name}
    if run.config is not None:
        attrs["learner"] = run.config.learner.name
        attrs["data_kind"] = run.config.data.kind
    append_group(path, group, result.to_arrays(), attrs)
    return group, result
