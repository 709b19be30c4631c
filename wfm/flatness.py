"""The flatness–generalisation table of stored minimisers ([P1], science.md §5).

One row per run: its test error and its flatness by every measure that was stored in
it — local entropy ``S(d)/H2(d)`` (``/local_entropy/solution``), local energy
``delta E`` (``/local_energy``), top Hessian eigenvalue and trace (``/hessian``).
:func:`rank_correlations` gives the Spearman rank correlation of every pair of
columns with a bootstrap over runs (resampling runs with replacement: the
uncertainty that comes from having few minimisers, which dominates here);
:func:`write_outputs` writes the CSV tables and the scatter figure. The API
(:func:`wfm.api.analyze_flatness`) opens the files and calls these.

Signs: flatter means *larger* local entropy but *smaller* local energy, top
eigenvalue and trace, so "flatter generalises better" reads as a negative
correlation of local entropy with the test error and positive ones for the others.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np

from wfm._math import binary_entropy

__all__ = ["MEASURES", "rank_correlations", "row_of_run", "write_outputs"]

#: the columns correlated, with their axis labels
MEASURES = {
    "test_error": "test error",
    "local_entropy": "local entropy S(d)/H2(d)",
    "local_energy": "local energy dE",
    "top_eigenvalue": "top Hessian eigenvalue",
    "trace": "Hessian trace",
}

COLUMNS = (
    "path", "label", "learner", "seed", "n_weights", "train_errors", "test_error",
    "test_error_stderr",
    "local_entropy", "distance", "local_energy", "local_energy_stderr", "sigma",
    "top_eigenvalue", "trace", "trace_stderr", "hessian_loss", "hessian_gamma",
)  # fmt: skip


def _label(spec) -> str:
    name = spec.learner.name
    params = spec.learner.params
    if "loss" in params and "gamma" in params:
        g = params["gamma"]
        if isinstance(g, (list, tuple)):
            g = f"{g[0]}({','.join(f'{v:g}' for v in g[1:])})"
        name += f" gamma={g}"
    if "rho" in params:
        name += f" rho={params['rho']:g}"
    return name


def _local_entropy_at(run, distance):
    if "/local_entropy/solution" not in run.extra_groups():
        return math.nan
    g = run.group("/local_entropy/solution")
    d = np.asarray(g.arrays["distance"], dtype=float)
    s = np.asarray(g.arrays["local_entropy"], dtype=float)
    ok = np.asarray(g.arrays.get("converged", np.ones(d.size)), bool) & np.isfinite(s)
    d, s = d[ok], s[ok]
    if d.size < 2 or not d.min() <= distance <= d.max():
        return math.nan
    order = np.argsort(d)
    return float(np.interp(distance, d[order], s[order]) / binary_entropy(distance))


def row_of_run(run, test_error, *, distance=0.02, sigma=None, n_test=None) -> dict:
    """The table row of one stored run (``run``: :class:`wfm.api.StoredRun`);
    ``n_test`` test patterns give the binomial standard error of the test error."""
    spec = run.config
    groups = set(run.extra_groups())
    row = dict.fromkeys(COLUMNS, math.nan)
    row |= {
        "path": str(run.path),
        "label": _label(spec),
        "learner": spec.learner.name,
        "seed": spec.seed,
        "n_weights": spec.model.n_weights,
        "train_errors": int(run.solution.attrs["train_errors"]),
        "test_error": float(test_error),
        "test_error_stderr": (
            math.sqrt(test_error * (1 - test_error) / n_test) if n_test else math.nan
        ),
        "local_entropy": _local_entropy_at(run, distance),
        "distance": distance,
    }
    if "/local_energy" in groups:
        g = run.group("/local_energy")
        sig = np.asarray(g.arrays["sigma"], dtype=float)
        j = sig.size // 2 if sigma is None else int(np.argmin(np.abs(sig - sigma)))
        if sigma is None or math.isclose(sig[j], sigma, rel_tol=1e-9):
            row |= {
                "local_energy": float(g.arrays["delta_error"][j]),
                "local_energy_stderr": float(g.arrays["delta_error_stderr"][j]),
                "sigma": float(sig[j]),
            }
    if "/hessian" in groups:
        a = run.group("/hessian").attrs
        row |= {
            "top_eigenvalue": float(a.get("top_eigenvalue", math.nan)),
            "trace": float(a.get("trace", math.nan)),
            "trace_stderr": float(a.get("trace_stderr", math.nan)),
            "hessian_loss": a.get("loss", math.nan),
            "hessian_gamma": float(a.get("gamma", math.nan)),
        }
    return row


def _spearman(a, b):
    from scipy.stats import spearmanr

    if np.unique(a).size < 2 or np.unique(b).size < 2:
        return math.nan
    return float(spearmanr(a, b).statistic)


def rank_correlations(rows, *, bootstrap=1000, seed=0) -> list:
    """Spearman correlation of every pair of :data:`MEASURES` over the runs.

    Runs missing either column are left out of that pair. Uncertainty: ``bootstrap``
    resamples of the runs with replacement (standard deviation and 16-84 %
    percentiles of the resampled correlation).

    Returns
    -------
    list of dict
        ``x, y, n, spearman, bootstrap_std, ci16, ci84``.
    """
    rng = np.random.default_rng(seed)
    names = list(MEASURES)
    out = []
    for i, x in enumerate(names):
        for y in names[i + 1 :]:
            a = np.array([float(r[x]) for r in rows])
            b = np.array([float(r[y]) for r in rows])
            ok = np.isfinite(a) & np.isfinite(b)
            a, b = a[ok], b[ok]
            entry = {"x": x, "y": y, "n": int(a.size)}
            entry |= dict.fromkeys(
                ("spearman", "bootstrap_std", "ci16", "ci84"), math.nan
            )
            if a.size >= 3:
                entry["spearman"] = _spearman(a, b)
                boots = []
                for _ in range(bootstrap):
                    idx = rng.integers(0, a.size, a.size)
                    boots.append(_spearman(a[idx], b[idx]))
                boots = np.array(boots)
                boots = boots[np.isfinite(boots)]
                if boots.size > 1:
                    entry |= {
                        "bootstrap_std": float(boots.std(ddof=1)),
                        "ci16": float(np.percentile(boots, 16)),
                        "ci84": float(np.percentile(boots, 84)),
                    }
            out.append(entry)
    return out


def _write_csv(path, rows, columns):
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=list(columns))
        w.writeheader()
        for r in rows:
            w.writerow({k: r[k] for k in columns})


def write_outputs(rows, correlations, out_dir) -> list:
    """``flatness.csv``, ``correlations.csv`` and ``flatness.png`` in ``out_dir``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir = Path(out_dir)
    table, corr, fig_path = (
        out_dir / "flatness.csv", out_dir / "correlations.csv", out_dir / "flatness.png"
    )  # fmt: skip
    _write_csv(table, rows, COLUMNS)
    _write_csv(corr, correlations, ("x", "y", "n", "spearman", "bootstrap_std",
                                    "ci16", "ci84"))  # fmt: skip
    measures = [m for m in MEASURES if m != "test_error"]
    by_pair = {(c["x"], c["y"]): c for c in correlations}
    fig, axes = plt.subplots(1, len(measures), figsize=(4.2 * len(measures), 3.8))
    labels = sorted({r["label"] for r in rows})
    colours = plt.cm.tab10(np.linspace(0, 1, 10))
    errs = {"local_energy": "local_energy_stderr", "trace": "trace_stderr"}
    for ax, m in zip(axes, measures, strict=True):
        for c, lab in enumerate(labels):
            sel = [r for r in rows if r["label"] == lab]
            xs = np.array([float(r[m]) for r in sel])
            ys = np.array([float(r["test_error"]) for r in sel])
            xe = np.array([float(r[errs[m]]) for r in sel]) if m in errs else None
            ye = np.array([float(r["test_error_stderr"]) for r in sel])
            ax.errorbar(xs, ys, xerr=xe, yerr=ye, fmt="o", color=colours[c % 10],
                        label=lab, capsize=2)  # fmt: skip
        cc = by_pair[("test_error", m)]
        ax.set_title(
            f"Spearman {cc['spearman']:.2f} ± {cc['bootstrap_std']:.2f} (n={cc['n']})",
            fontsize=9,
        )
        ax.set_xlabel(MEASURES[m])
        ax.set_ylabel("test error")
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(fig_path, dpi=120)
    plt.close(fig)
    return [table, corr, fig_path]
