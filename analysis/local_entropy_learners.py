"""Local-entropy curves S(d)/H2(d) of the solutions of each learner, mean and spread
over seeds, against the typical (Franz-Parisi) and large-deviation theory curves.

    wfm sweep runs/sweeps/local_entropy_learners.toml --out results/le_learners
    wfm sweep-measure local-entropy results/le_learners/*.h5
    python analysis/local_entropy_learners.py results/le_learners \
        --out docs/local_entropy_learners.png

Only solved runs of the binary perceptron are used (the local entropy of a
configuration with training errors is not the paper's quantity). One panel per alpha.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common  # noqa: E402
import numpy as np  # noqa: E402

import wfm  # noqa: E402

DISTANCES = np.array([0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.2])


def learner_curves(folders, distances=DISTANCES) -> list[dict]:
    """Rows (alpha, learner, d, mean, sd, n) of S/H2 over the solved runs."""
    records = _common.runs(folders, "solved==true")
    groups: dict[tuple, list] = {}
    for r in records:
        if not _common.has_group(r["path"]):
            continue
        key = (r["data.alpha"], r["learner.name"])
        groups.setdefault(key, []).append(_common.ratio_at(r["path"], distances))
    rows = []
    for (alpha, learner), curves in sorted(groups.items()):
        curves = np.array(curves)
        for j, d in enumerate(distances):
            mean, sd, n = _common.mean_sd(curves[:, j])
            rows.append({"alpha": alpha, "curve": learner, "distance": float(d),
                         "ratio_mean": mean, "ratio_sd": sd, "n": n})  # fmt: skip
    return rows


def theory_curves(alphas, distances=DISTANCES) -> list[dict]:
    """Typical (Franz-Parisi) and large-deviation S/H2 from wfm.theory."""
    rows = []
    for alpha in alphas:
        for kind in ("typical", "large-deviation"):
            _, arrays, _, _ = wfm.theory_result(
                "local-entropy", alpha=alpha, kind=kind, distances=distances
            )
            ratio = arrays["local_entropy"] / arrays["upper_bound"]
            for d, r, ok in zip(distances, ratio, arrays["converged"], strict=True):
                rows.append({"alpha": alpha, "curve": f"theory {kind}",
                             "distance": float(d),
                             "ratio_mean": float(r) if ok else float("nan"),
                             "ratio_sd": 0.0, "n": 0})  # fmt: skip
    return rows


def plot(rows, png):
    plt = _common.pyplot()
    alphas = sorted({r["alpha"] for r in rows})
    fig, axes = plt.subplots(
        1, len(alphas), figsize=(4.6 * len(alphas), 3.8), dpi=110, squeeze=False
    )
    for ax, alpha in zip(axes[0], alphas, strict=True):
        sel = [r for r in rows if r["alpha"] == alpha]
        for curve in sorted({r["curve"] for r in sel}):
            c = [r for r in sel if r["curve"] == curve]
            d = np.array([r["distance"] for r in c])
            m = np.array([r["ratio_mean"] for r in c])
            s = np.array([r["ratio_sd"] for r in c])
            if curve.startswith("theory"):
                ax.plot(d, m, "--", color="k" if "typical" in curve else "gray",
                        label=curve)  # fmt: skip
            else:
                n = max(r["n"] for r in c)
                line = ax.plot(d, m, "o-", ms=3, label=f"{curve} ({n} seeds)")[0]
                ax.fill_between(d, m - s, m + s, color=line.get_color(), alpha=0.2)
        ax.axhline(1.0, color="k", lw=0.5)
        ax.set_xscale("log")
        ax.set_xlabel("distance d")
        ax.set_ylabel("S(d) / H2(d)")
        ax.set_title(f"α = {alpha:g}", fontsize=10)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(png)
    plt.close(fig)


def main(argv=None):
    p = _common.parser(__doc__.splitlines()[0], "results/figures/le_learners.png")
    args = p.parse_args(argv)
    rows = learner_curves(args.results)
    if not rows:
        p.error("no solved runs with /local_entropy/solution in the folder(s)")
    rows += theory_curves(sorted({r["alpha"] for r in rows}))
    png, csv = _common.outputs(args.out)
    _common.write_csv(rows, csv)
    plot(rows, png)
    for r in rows:
        if r["distance"] in (0.01, 0.05):
            print(
                f"alpha={r['alpha']:g} {r['curve']}: d={r['distance']:g} "
                f"S/H2 = {r['ratio_mean']:.3f} ± {r['ratio_sd']:.3f} (n={r['n']})"
            )
    print(f"wrote {png} and {csv}")
    return rows


if __name__ == "__main__":
    main()
