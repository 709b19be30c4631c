"""Hessian spectra of a loss at a point: exact, top-k Lanczos, Hutchinson trace, SLQ.

Flatness by curvature (science.md §5): the largest Hessian eigenvalue is the
*sharpness* (Keskar et al. 2017; the quantity SAM, Foret et al. 2021, controls), the
trace a *flatness* (the quantity random-perturbation descent lowers: ``E L(w + rho
g) ~ L + rho^2 tr H / (2 d)``, Ahn, Jadbabaie, Sra). Every estimator here sees the
Hessian only through a product ``matvec(v) -> H v`` on flat vectors of length ``n``
(:func:`wfm.kernels.hessian.hvp` for the nets, :func:`wfm.models.deep_linear.hvp`
for the analytic test model), so it is pure: arrays in, a result dataclass out.

* :func:`exact_spectrum` — the dense Hessian (``n`` products, or given) and
  ``numpy.linalg.eigh``; for ``n`` up to a few thousand.
* :func:`top_eigenvalues` — the ``k`` largest (algebraic) eigenvalues by implicitly
  restarted Lanczos (ARPACK through ``scipy.sparse.linalg.eigsh`` over a
  ``LinearOperator``); the residuals ``|H u - lambda u|`` are computed afterwards and
  returned, so convergence is checked, not assumed.
* :func:`hutchinson_trace` — ``tr H = E[z^T H z]`` for Rademacher ``z`` (Hutchinson
  1990), the mean of ``probes`` samples with its standard error.
* :func:`slq_density` — spectral density by stochastic Lanczos quadrature (Golub &
  Meurant; Ubaru, Chen & Saad 2017; Ghorbani, Krishnan & Xiao 2019): for each
  Rademacher probe ``v/|v|``, ``m`` Lanczos steps (full reorthogonalisation) give a
  tridiagonal ``T`` whose eigenvalues ``theta_k`` and squared first eigenvector
  components ``tau_k`` are a Gauss quadrature of the probe's spectral measure;
  averaging ``sum_k tau_k N(x; theta_k, width^2)`` over probes estimates the
  Gaussian-smoothed density ``(1/n) sum_i N(x; lambda_i, width^2)``, which integrates
  to 1.

Randomness enters as a ``numpy.random.Generator`` (the API passes the run's
``hessian`` stream). Bad input raises ``ValueError`` with one line.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from tqdm.auto import tqdm

__all__ = [
    "DensityResult",
    "SpectrumResult",
    "TopEigenvaluesResult",
    "TraceResult",
    "dense_from_matvec",
    "exact_spectrum",
    "hutchinson_trace",
    "slq_density",
    "top_eigenvalues",
]

#: the largest parameter count of an exact spectrum (a dense n x n float64 Hessian)
EXACT_MAX_PARAMS = 4000


@dataclass(frozen=True)
class SpectrumResult:
    """The full spectrum.

    Attributes
    ----------
    eigenvalues : ndarray
        All ``n`` eigenvalues, ascending.
    n_params : int
    matvecs : int
        Hessian-vector products spent building the matrix (0 if given dense).
    """

    eigenvalues: np.ndarray
    n_params: int
    matvecs: int

    @property
    def top(self) -> float:
        return float(self.eigenvalues[-1])

    @property
    def trace(self) -> float:
        return float(np.sum(self.eigenvalues))


@dataclass(frozen=True)
class TopEigenvaluesResult:
    """The ``k`` largest eigenvalues by Lanczos.

    Attributes
    ----------
    eigenvalues : ndarray
        Descending.
    residuals : ndarray
        ``|H u - lambda u|`` of each returned unit eigenvector ``u``.
    matvecs : int
        Hessian-vector products (ARPACK's and the residual check's).
    converged : bool
        ARPACK converged and every residual is within ``tolerance``.
    tolerance : float
        Residual bound of ``converged``: ``max(tol, 1e-8) * max(|lambda|, 1e-300)``
        times 100.
    n_params : int
    """

    eigenvalues: np.ndarray
    residuals: np.ndarray
    matvecs: int
    converged: bool
    tolerance: float
    n_params: int


@dataclass(frozen=True)
class TraceResult:
    """Hutchinson's estimate of ``tr H``.

    Attributes
    ----------
    estimate : float
        Mean of ``z^T H z`` over the probes.
    stderr : float
        Standard error of the mean (sample standard deviation / sqrt(probes)).
    probes : int
    samples : ndarray
        ``z^T H z`` of each probe.
    n_params : int
    """

    estimate: float
    stderr: float
    probes: int
    samples: np.ndarray
    n_params: int

    @property
    def converged(self) -> bool:
        """Always true: the estimate is unbiased at any number of probes."""
        return True


@dataclass(frozen=True)
class DensityResult:
    """Spectral density by stochastic Lanczos quadrature.

    Attributes
    ----------
    x : ndarray
        Grid of eigenvalues.
    density : ndarray
        Estimated smoothed density at ``x`` (mean over probes).
    density_stderr : ndarray
        Standard error over probes at each ``x``.
    nodes, weights : ndarray
        ``(probes, steps)`` quadrature nodes ``theta`` and weights ``tau`` (NaN /
        0 past an early Lanczos breakdown).
    width : float
        Standard deviation of the Gaussian kernel.
    probes, steps : int
    n_params : int
    """

    x: np.ndarray
    density: np.ndarray
    density_stderr: np.ndarray
    nodes: np.ndarray
    weights: np.ndarray
    width: float
    probes: int
    steps: int
    n_params: int
    params: dict = field(default_factory=dict)

    @property
    def integral(self) -> float:
        """Trapezoidal integral of ``density`` over the grid (1 up to the tails)."""
        return float(np.trapezoid(self.density, self.x))

    @property
    def trace_estimate(self) -> float:
        """``n sum_k tau_k theta_k`` averaged over probes (a Hutchinson estimate)."""
        w = np.nan_to_num(self.nodes) * self.weights
        return float(self.n_params * np.mean(np.sum(w, axis=1)))


def _check_n(n):
    if int(n) != n or n < 1:
        raise ValueError(f"n must be a positive integer, got {n}")
    return int(n)


def _rademacher(rng, n):
    return rng.integers(0, 2, size=n).astype(np.float64) * 2.0 - 1.0


def dense_from_matvec(matvec, n, *, progress=False) -> np.ndarray:
    """The ``n x n`` matrix of ``matvec`` (one product per column), symmetrised."""
    n = _check_n(n)
    out = np.empty((n, n))
    e = np.zeros(n)
    for j in tqdm(range(n), disable=not progress, desc="hessian columns", leave=False):
        e[j] = 1.0
        out[:, j] = matvec(e)
        e[j] = 0.0
    return 0.5 * (out + out.T)


def exact_spectrum(matvec=None, n=None, *, matrix=None, progress=False):
    """All eigenvalues, from a given dense ``matrix`` or from ``n`` products.

    Parameters
    ----------
    matvec : callable, optional
        ``v -> H v`` on flat float64 vectors of length ``n``.
    n : int, optional
    matrix : (n, n) array, optional
        The Hessian itself (then ``matvec`` is not used).
    progress : bool

    Returns
    -------
    SpectrumResult
    """
    if matrix is None:
        if matvec is None or n is None:
            raise ValueError("exact_spectrum needs matrix, or matvec and n")
        n = _check_n(n)
        if n > EXACT_MAX_PARAMS:
            raise ValueError(
                f"an exact spectrum needs n <= {EXACT_MAX_PARAMS} parameters, got {n}; "
                "use top_eigenvalues / hutchinson_trace / slq_density"
            )
        matrix, count = dense_from_matvec(matvec, n, progress=progress), n
    else:
        matrix = np.asarray(matrix, dtype=np.float64)
        if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1]:
            raise ValueError(f"matrix must be square, got shape {matrix.shape}")
        n, count = matrix.shape[0], 0
    return SpectrumResult(np.linalg.eigvalsh(matrix), int(n), count)


class _Counted:
    """``matvec`` with a call counter and an optional progress bar."""

    def __init__(self, matvec, desc, progress):
        self.matvec = matvec
        self.calls = 0
        self.bar = tqdm(disable=not progress, desc=desc, unit="Hv", leave=False)

    def __call__(self, v):
        self.calls += 1
        self.bar.update(1)
        return np.asarray(self.matvec(np.ascontiguousarray(np.ravel(v))), float).ravel()

    def close(self):
        self.bar.close()


def top_eigenvalues(
    matvec, n, k=20, *, tol=0.0, maxiter=None, ncv=None, rng=None, progress=False
):
    """The ``k`` largest eigenvalues by Lanczos (``eigsh``, ``which="LA"``).

    Parameters
    ----------
    matvec : callable
        ``v -> H v`` on flat vectors of length ``n``.
    n : int
    k : int
        ``1 <= k < n``.
    tol : float
        ARPACK's relative tolerance (0 = machine precision).
    maxiter : int, optional
        ARPACK restarts limit (default ``n * 10``).
    ncv : int, optional
        Lanczos vectors (default ``min(n, max(2 k + 1, 20))``).
    rng : numpy.random.Generator, optional
        Draws the starting vector (default: ``default_rng(0)``).
    progress : bool
        A counter of Hessian-vector products on stderr.

    Returns
    -------
    TopEigenvaluesResult
    """
    from scipy.sparse.linalg import ArpackNoConvergence, LinearOperator, eigsh

    n = _check_n(n)
    if int(k) != k or not 1 <= k < n:
        raise ValueError(f"k must be an integer in [1, {n - 1}] for n = {n}, got {k}")
    k = int(k)
    rng = np.random.default_rng(0) if rng is None else rng
    counted = _Counted(matvec, "lanczos", progress)
    op = LinearOperator((n, n), matvec=counted, dtype=np.float64)
    v0 = rng.normal(size=n)
    arpack_ok = True
    try:
        vals, vecs = eigsh(
            op, k=k, which="LA", tol=tol, maxiter=maxiter, ncv=ncv, v0=v0
        )  # fmt: skip
    except ArpackNoConvergence as exc:
        arpack_ok = False
        vals, vecs = exc.eigenvalues, exc.eigenvectors
    order = np.argsort(vals)[::-1]
    vals, vecs = vals[order], vecs[:, order]
    residuals = np.array(
        [
            np.linalg.norm(counted(vecs[:, i]) - vals[i] * vecs[:, i])
            for i in range(vals.size)
        ]
    )
    counted.close()
    scale = max(float(np.max(np.abs(vals))) if vals.size else 0.0, 1e-300)
    bound = 100.0 * max(tol, 1e-8) * scale
    converged = arpack_ok and vals.size == k and bool(np.all(residuals <= bound))
    return TopEigenvaluesResult(
        vals, residuals, counted.calls, converged, bound, n
    )  # fmt: skip


def hutchinson_trace(matvec, n, *, probes=100, rng=None, progress=False):
    """``tr H`` by Hutchinson's estimator with Rademacher probes.

    Parameters
    ----------
    matvec : callable
    n : int
    probes : int
        ``>= 2`` (the standard error needs two).
    rng : numpy.random.Generator, optional
    progress : bool

    Returns
    -------
    TraceResult
    """
    n = _check_n(n)
    if int(probes) != probes or probes < 2:
        raise ValueError(f"probes must be an integer >= 2, got {probes}")
    probes = int(probes)
    rng = np.random.default_rng(0) if rng is None else rng
    samples = np.empty(probes)
    for i in tqdm(range(probes), disable=not progress, desc="hutchinson",
                  leave=False):  # fmt: skip
        z = _rademacher(rng, n)
        samples[i] = float(z @ np.ravel(matvec(z)))
    stderr = float(np.std(samples, ddof=1) / math.sqrt(probes))
    return TraceResult(float(np.mean(samples)), stderr, probes, samples, n)


def _lanczos(matvec, v, steps):
    """``steps`` Lanczos steps from unit ``v`` with full reorthogonalisation;
    ``(alpha, beta)`` of the tridiagonal matrix (shorter after a breakdown)."""
    n = v.size
    basis = np.empty((steps, n))
    alpha, beta = [], []
    q = v
    b = 0.0
    for j in range(steps):
        basis[j] = q
        w = np.ravel(matvec(q)).astype(np.float64)
        a = float(q @ w)
        alpha.append(a)
        w = w - basis[: j + 1].T @ (basis[: j + 1] @ w)
        w = w - basis[: j + 1].T @ (basis[: j + 1] @ w)  # twice is enough (Kahan)
        b = float(np.linalg.norm(w))
        if j == steps - 1 or b <= 1e-12 * max(abs(a), 1.0):
            break
        beta.append(b)
        q = w / b
    return np.array(alpha), np.array(beta)


def slq_density(
    matvec, n, *, probes=10, steps=80, grid=None, width=None, rng=None, progress=False
):
    """Spectral density by stochastic Lanczos quadrature.

    Parameters
    ----------
    matvec : callable
    n : int
    probes : int
        Rademacher starting vectors (``>= 1``; the standard error needs ``>= 2``).
    steps : int
        Lanczos steps per probe (``1 <= steps``; capped at ``n``).
    grid : array_like or int, optional
        Eigenvalue grid, or its number of points (default 400) between the extreme
        nodes widened by ``5 width``.
    width : float, optional
        Gaussian kernel standard deviation (default: 1/100 of the node range).
    rng : numpy.random.Generator, optional
    progress : bool

    Returns
    -------
    DensityResult
    """
    from scipy.linalg import eigh_tridiagonal

    n = _check_n(n)
    if int(probes) != probes or probes < 1:
        raise ValueError(f"probes must be an integer >= 1, got {probes}")
    if int(steps) != steps or steps < 1:
        raise ValueError(f"steps must be an integer >= 1, got {steps}")
    probes, steps = int(probes), min(int(steps), n)
    rng = np.random.default_rng(0) if rng is None else rng
    nodes = np.full((probes, steps), np.nan)
    weights = np.zeros((probes, steps))
    for i in tqdm(range(probes), disable=not progress, desc="slq", leave=False):
        v = _rademacher(rng, n) / math.sqrt(n)
        alpha, beta = _lanczos(matvec, v, steps)
        theta, vecs = eigh_tridiagonal(alpha, beta)
        nodes[i, : theta.size] = theta
        weights[i, : theta.size] = vecs[0] ** 2
    lo, hi = np.nanmin(nodes), np.nanmax(nodes)
    if width is None:
        width = max(hi - lo, 1e-12 * max(abs(hi), 1.0)) / 100.0
    if not width > 0:
        raise ValueError(f"width must be > 0, got {width}")
    if grid is None or np.ndim(grid) == 0:
        x = np.linspace(lo - 5 * width, hi + 5 * width, 400 if grid is None else grid)
    else:
        x = np.asarray(grid, dtype=np.float64)
    z = (x[None, None, :] - np.nan_to_num(nodes)[:, :, None]) / width
    kernel = np.exp(-0.5 * z * z) / (width * math.sqrt(2 * math.pi))
    per_probe = np.sum(weights[:, :, None] * kernel, axis=1)
    density = per_probe.mean(axis=0)
    stderr = (
        per_probe.std(axis=0, ddof=1) / math.sqrt(probes)
        if probes > 1
        else np.full_like(density, np.nan)
    )
    return DensityResult(
        x, density, stderr, nodes, weights, float(width), probes, steps, n
    )  # fmt: skip
