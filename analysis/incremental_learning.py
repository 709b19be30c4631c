"""Incremental learning from a flat vs a typical solution: forgetting of the base
patterns against the local entropy of the base solution.

Base task: P0 = alpha N patterns labelled by a teacher (teacher-student runs). Two
base solutions of the same P0: the fBP solution (flat: S/H2 close to 1 at small d)
and the teacher itself (a typical, isolated solution of the same patterns). New
task: P1 = alpha1 N fresh random patterns with random labels, learned by fBP with an
external field lambda * W0 on every weight (the local-entropy coupling of [P1]
eq. 4; ``wfm.learners.learn(..., external_field=...)``): lambda = 0 learns freely,
larger lambda keeps the new solution W1 closer to the base W0. Reported per base and
lambda: whether P1 was learned, the distance d(W0, W1) and the forgetting (fraction
of P0 that W1 misclassifies), mean over seeds; and the base's measured S/H2.

    wfm sweep runs/sweeps/incremental_base.toml --out results/incremental
    wfm sweep-measure local-entropy results/incremental/*.h5
    wfm sweep-measure local-entropy results/incremental/*.h5 --reference teacher
    python analysis/incremental_learning.py results/incremental \
        --out docs/incremental_learning.png
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common  # noqa: E402
import numpy as np  # noqa: E402

import wfm  # noqa: E402

LAMBDAS = (0.0, 0.1, 0.2, 0.3, 0.5, 0.8)
BASES = {"fBP solution": "solution", "teacher (typical)": "teacher"}


def new_task(n, n_new, seed):
    """P1 random ±1 patterns and labels, from their own stream of the run's seed."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, 13]))
    xi = rng.choice(np.array([-1, 1], np.int8), size=(n_new, n))
    return xi, rng.choice(np.array([-1, 1], np.int8), size=n_new)


def errors(w, xi, labels):
    return int(np.count_nonzero(labels * (xi.astype(np.float64) @ w) <= 0))


def experiment(folders, alpha_new, lambdas=LAMBDAS, distance=0.02) -> list[dict]:
    rows = []
    runs = _common.runs(folders, ["solved==true", "data.kind==teacher"])
    for r in runs:
        run = wfm.open_run(r["path"])
        xi0, y0 = run.patterns, run.labels
        n = xi0.shape[1]
        xi1, y1 = new_task(n, max(1, round(alpha_new * n)), r["seed"])
        for base, ref in BASES.items():
            w0 = np.asarray(run.weights if ref == "solution" else run.teacher, float)
            group = f"/local_entropy/{ref}"
            ratio = (
                float(_common.ratio_at(r["path"], [distance], group)[0])
                if _common.has_group(r["path"], group)
                else float("nan")
            )
            for lam in lambdas:
                res = wfm.learners.learn(
                    "fbp", xi1, y1, seed=r["seed"], external_field=lam * w0
                )
                w1 = np.asarray(res.weights, float)
                rows.append({
                    "seed": r["seed"], "n": n, "alpha_base": r["data.alpha"],
                    "alpha_new": alpha_new, "base": base, "lambda": lam,
                    "base_ratio": ratio, "base_ratio_distance": distance,
                    "new_errors": int(res.train_errors),
                    "distance": float(np.mean(w1 != w0)),
                    "forgetting": errors(w1, xi0, y0) / len(y0),
                })  # fmt: skip
    return rows


def summary(rows) -> list[dict]:
    out = []
    for base in BASES:
        for lam in sorted({r["lambda"] for r in rows}):
            sel = [r for r in rows if r["base"] == base and r["lambda"] == lam]
            if not sel:
                continue
            f = _common.mean_sd([r["forgetting"] for r in sel])
            d = _common.mean_sd([r["distance"] for r in sel])
            b = _common.mean_sd([r["base_ratio"] for r in sel])
            out.append({
                "base": base, "lambda": lam, "runs": len(sel),
                "new_task_solved": sum(r["new_errors"] == 0 for r in sel),
                "distance_mean": d[0], "distance_sd": d[1],
                "forgetting_mean": f[0], "forgetting_sd": f[1],
                "base_ratio_mean": b[0],
            })  # fmt: skip
    return out


def plot(rows, summ, png):
    plt = _common.pyplot()
    fig, ax = plt.subplots(figsize=(5.6, 4.0), dpi=110)
    for base in BASES:
        sel = [r for r in rows if r["base"] == base]
        s = [x for x in summ if x["base"] == base]
        if not s:
            continue
        ratio = s[0]["base_ratio_mean"]
        label = base + (f" (S/H2 = {ratio:.2f} at d = "
                        f"{sel[0]['base_ratio_distance']:g})" if np.isfinite(ratio)
                        else "")  # fmt: skip
        line = ax.plot(
            [r["distance"] for r in sel],
            [r["forgetting"] for r in sel],
            ".",
            alpha=0.35,
        )[0]
        ax.errorbar(
            [x["distance_mean"] for x in s],
            [x["forgetting_mean"] for x in s],
            xerr=[x["distance_sd"] for x in s],
            yerr=[x["forgetting_sd"] for x in s],
            fmt="o-",
            color=line.get_color(),
            capsize=2,
            ms=4,
            label=label,
        )
    ax.set_xlabel("distance d(W0, W1) moved to learn the new patterns")
    ax.set_ylabel("forgetting: fraction of base patterns lost")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    ax.set_title("incremental learning from a flat vs a typical solution", fontsize=10)
    fig.tight_layout()
    fig.savefig(png)
    plt.close(fig)


def main(argv=None):
    p = _common.parser(__doc__.splitlines()[0], "results/figures/incremental.png")
    p.add_argument("--alpha-new", type=float, default=0.1,
                   help="new patterns per weight (default 0.1)")  # fmt: skip
    p.add_argument("--lambdas", type=float, nargs="+", default=list(LAMBDAS),
                   help="couplings to the base solution (0 = free)")  # fmt: skip
    args = p.parse_args(argv)
    rows = experiment(args.results, args.alpha_new, args.lambdas)
    if not rows:
        p.error("no solved teacher-student runs in the folder(s)")
    summ = summary(rows)
    png, csv = _common.outputs(args.out)
    _common.write_csv(rows, csv)
    _common.write_csv(summ, csv.with_name(csv.stem + "_summary.csv"))
    plot(rows, summ, png)
    for s in summ:
        print(
            f"{s['base']}, lambda {s['lambda']:g}: new task {s['new_task_solved']}/"
            f"{s['runs']}, d = {s['distance_mean']:.3f}, forgetting "
            f"{s['forgetting_mean']:.3f} ± {s['forgetting_sd']:.3f}"
        )
    print(f"wrote {png} and {csv}")
    return rows, summ


if __name__ == "__main__":
    main()
