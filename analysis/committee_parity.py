"""Committee and parity machines compared at the same fBP protocol end point.

fBP stops as soon as sign(H) solves the instance, so the number of replicas y it
reached differs by architecture (1.9, 2.9, 7.7 for K = 1, 3, 5 at alpha = 0.3 in one
measurement): a larger y focuses harder on dense regions. This script controls for
it: S(d)/H2(d) of every solution against its stopping ``final_y``, a straight line
per architecture, and each architecture's value read off its line at a common y
(the median stopping y of all solutions), with the spread of the residuals.

    wfm sweep runs/sweeps/committee_tree.toml --out results/committee
    wfm sweep runs/sweeps/parity.toml --out results/parity
    wfm sweep-measure local-entropy results/committee/*.h5 results/parity/*.h5
    python analysis/committee_parity.py results/committee results/parity \
        --out docs/committee_parity.png
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common  # noqa: E402
import numpy as np  # noqa: E402


def points(folders, distance) -> list[dict]:
    """One row per solved fBP run: architecture, K, N, alpha, final y, S/H2(d)."""
    out = []
    for r in _common.runs(folders, ["solved==true", "learner.name==fbp"]):
        if not _common.has_group(r["path"]) or "solution.final_y" not in r:
            continue
        ratio = float(_common.ratio_at(r["path"], [distance])[0])
        out.append({
            "architecture": f"{r['model.name']} K={r['model.k']}",
            "k": r["model.k"], "n": r["model.n"], "alpha": r["data.alpha"],
            "seed": r["seed"], "final_y": float(r["solution.final_y"]),
            "distance": distance, "ratio": ratio,
        })  # fmt: skip
    return out


def at_common_y(rows) -> list[dict]:
    """Per architecture: a line ratio = a + b (y - y0) through its points, read at
    the common y0 (median final y of all rows); SE from the residuals."""
    ok = [r for r in rows if np.isfinite(r["ratio"])]
    if not ok:
        return []
    y0 = float(np.median([r["final_y"] for r in ok]))
    out = []
    for arch in sorted({r["architecture"] for r in ok}):
        sel = [r for r in ok if r["architecture"] == arch]
        y = np.array([r["final_y"] for r in sel]) - y0
        v = np.array([r["ratio"] for r in sel])
        if len(sel) >= 3 and np.ptp(y) > 0:
            slope, a = np.polyfit(y, v, 1)
            resid = v - (a + slope * y)
            se = float(
                np.sqrt(
                    resid.var(ddof=2)
                    * (1 / len(v) + y.mean() ** 2 / (((y - y.mean()) ** 2).sum()))
                )
            )
        else:
            slope, a = float("nan"), float(v.mean())
            se = float(v.std(ddof=1) / np.sqrt(len(v))) if len(v) > 1 else float("nan")
        out.append({
            "architecture": arch, "runs": len(sel), "common_y": y0,
            "ratio_at_common_y": float(a), "se": se, "slope_per_y": float(slope),
            "mean_final_y": float(np.mean([r["final_y"] for r in sel])),
            "mean_ratio": float(v.mean()), "distance": sel[0]["distance"],
        })  # fmt: skip
    return out


def plot(rows, summary, png):
    plt = _common.pyplot()
    fig, ax = plt.subplots(figsize=(5.8, 4.0), dpi=110)
    y0 = summary[0]["common_y"] if summary else None
    for s in summary:
        sel = [r for r in rows if r["architecture"] == s["architecture"]]
        line = ax.plot(
            [r["final_y"] for r in sel],
            [r["ratio"] for r in sel],
            "o",
            ms=4,
            label=f"{s['architecture']} ({s['runs']} runs)",
        )[0]
        if np.isfinite(s["slope_per_y"]):
            ys = np.linspace(
                min(r["final_y"] for r in sel), max(r["final_y"] for r in sel), 10
            )
            ax.plot(
                ys,
                s["ratio_at_common_y"] + s["slope_per_y"] * (ys - y0),
                "-",
                color=line.get_color(),
                lw=1,
            )
        ax.errorbar(
            [y0],
            [s["ratio_at_common_y"]],
            yerr=[s["se"]],
            fmt="s",
            color=line.get_color(),
            capsize=3,
            ms=5,
        )
    if y0 is not None:
        ax.axvline(y0, color="k", lw=0.5, ls=":")
    d = rows[0]["distance"] if rows else float("nan")
    ax.set_xlabel("y at which fBP stopped (final_y)")
    ax.set_ylabel(f"S(d)/H2(d) at d = {d:g}")
    ax.set_xscale("log")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    ax.set_title("architectures at the same protocol end point", fontsize=10)
    fig.tight_layout()
    fig.savefig(png)
    plt.close(fig)


def main(argv=None):
    p = _common.parser(__doc__.splitlines()[0], "results/figures/committee_parity.png")
    p.add_argument("--distance", type=float, default=0.02, help="d (default 0.02)")
    args = p.parse_args(argv)
    rows = points(args.results, args.distance)
    if not rows:
        p.error("no solved fbp runs with /local_entropy/solution in the folder(s)")
    summary = at_common_y(rows)
    png, csv = _common.outputs(args.out)
    _common.write_csv(rows, csv)
    _common.write_csv(summary, csv.with_name(csv.stem + "_summary.csv"))
    plot(rows, summary, png)
    for s in summary:
        print(
            f"{s['architecture']}: {s['runs']} runs, mean final y "
            f"{s['mean_final_y']:.2f}; S/H2(d={s['distance']:g}) at y = "
            f"{s['common_y']:.2f}: {s['ratio_at_common_y']:.3f} ± {s['se']:.3f} "
            f"(raw mean {s['mean_ratio']:.3f}, slope {s['slope_per_y']:.3f}/y)"
        )
    print(f"wrote {png} and {csv}")
    return rows, summary


if __name__ == "__main__":
    main()
