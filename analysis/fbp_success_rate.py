"""fBP success rate vs alpha for each N, with 95 % Wilson intervals: the algorithmic
threshold of focusing BP on random binary perceptrons.

    wfm sweep runs/sweeps/fbp_alpha.toml --out results/fbp_alpha
    python analysis/fbp_success_rate.py results/fbp_alpha \
        --out docs/fbp_success_rate.png

Reads the folder with ``wfm.table`` (attributes only) and writes the PNG and a CSV
(n, alpha, count, solved, success_rate, wilson_low, wilson_high, median sweeps and
wall time).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common  # noqa: E402

import wfm  # noqa: E402

AGG = (
    "count,solved,success_rate,wilson_low,wilson_high,median(iterations),"
    "median(wall_time_s)"
)


def success_table(folders, where=None) -> list[dict]:
    """One row per (N, alpha): counts, success rate and its Wilson interval."""
    rows = []
    for folder in folders:
        clauses = ["learner.name==fbp", "status==complete", *([where] if where else [])]
        rows += wfm.table(folder, where=clauses, group_by="n,alpha", agg=AGG)
    return sorted(rows, key=lambda r: (r["n"], r["alpha"]))


def plot(rows, png):
    plt = _common.pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 3.8), dpi=110)
    for n in sorted({r["n"] for r in rows}):
        sel = [r for r in rows if r["n"] == n]
        a = [r["alpha"] for r in sel]
        p = [r["success_rate"] for r in sel]
        # clipped at 0: the bounds are rounded a few ulp past p at p = 0 and 1
        lo = [max(0.0, r["success_rate"] - r["wilson_low"]) for r in sel]
        hi = [max(0.0, r["wilson_high"] - r["success_rate"]) for r in sel]
        runs = min(r["count"] for r in sel), max(r["count"] for r in sel)
        label = (
            f"N = {n} ({runs[0]}–{runs[1]} seeds)"
            if runs[0] != runs[1]
            else (f"N = {n} ({runs[0]} seeds)")
        )
        ax.errorbar(a, p, yerr=[lo, hi], marker="o", ms=4, capsize=3, label=label)
    ax.set_xlabel("α = P / N")
    ax.set_ylabel("fraction solved by fBP")
    ax.set_ylim(-0.03, 1.03)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title("fBP success rate (95 % Wilson intervals)", fontsize=10)
    fig.tight_layout()
    fig.savefig(png)
    plt.close(fig)


def main(argv=None):
    p = _common.parser(__doc__.splitlines()[0], "results/figures/fbp_success_rate.png")
    p.add_argument("--where", help="extra filter, e.g. 'alpha>=0.6'")
    args = p.parse_args(argv)
    rows = success_table(args.results, args.where)
    if not rows:
        p.error("no complete fbp runs in " + ", ".join(args.results))
    png, csv = _common.outputs(args.out)
    _common.write_csv(rows, csv)
    plot(rows, png)
    for r in rows:
        print(
            f"N={r['n']} alpha={r['alpha']:g}: {r['solved']}/{r['count']} solved "
            f"[{r['wilson_low']:.2f}, {r['wilson_high']:.2f}], median sweeps "
            f"{r['median(iterations)']:g}"
        )
    print(f"wrote {png} and {csv}")
    return rows


if __name__ == "__main__":
    main()
