"""Figure: densest regions (large deviation, RS, y -> inf) of the perceptron, tree
committee and parity machines at equal load per weight, against H2(d), with measured
fBP solution curves (issue 14; README "Densest regions vs architecture").

Usage::

    python analysis/machines_local_entropy.py FILE.h5 [FILE.h5 ...] --out FIG.png

Every ``/theory/local_entropy_large-deviation*`` curve (written by ``wfm theory
local-entropy ... --kind large-deviation --out FILE.h5``) and every
``/local_entropy/solution`` curve (measured) of the files is drawn.  The points
with error bars are the README's architecture-comparison table (S/H2 of fBP solutions
by BP, N ~ 1000, alpha = 0.3, mean +- standard error over 4 seeds).
"""

from __future__ import annotations

import argparse

import numpy as np

# README, "Architecture comparison ([P1])": tree committee, alpha = 0.3, 4 fBP seeds
README_FBP = {
    "fBP K=3 (4 seeds)": (
        [0.01, 0.02, 0.05],
        [0.939, 0.942, 0.928],
        [0.015, 0.011, 0.006],
    ),
    "fBP K=5 (4 seeds)": (
        [0.01, 0.02, 0.05],
        [0.958, 0.953, 0.927],
        [0.009, 0.006, 0.004],
    ),
}


# README table "Densest regions vs architecture": S_LD/H2 at alpha = 0.3 from
# `wfm theory local-entropy --model M --k 3 --alpha 0.3 --kind large-deviation
# --distances 0.005 0.01 0.02 0.05 0.1 0.2` (minutes per curve on the shared machine,
# so the values are tabulated here rather than recomputed)
README_LD = {
    "LD, α=0.3, committee-tree K=3": (
        [0.01, 0.02, 0.05, 0.1, 0.2],
        [0.99999986, 0.99975338, 0.98080399, 0.92100716, 0.83703545],
    ),
    "LD, α=0.3, parity K=3": (
        [0.005, 0.01, 0.02, 0.05, 0.1, 0.2],
        [1.0, 0.99999999, 0.99989362, 0.97986299, 0.88489997, 0.74750114],
    ),
}


def main(argv=None):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from wfm._math import binary_entropy
    from wfm.plot import curves_from_file

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("files", nargs="+")
    ap.add_argument("--out", required=True)
    ap.add_argument("--d-max", type=float, default=0.2)
    args = ap.parse_args(argv)

    fig, ax = plt.subplots(figsize=(6.2, 4.3))
    ax.axhline(1.0, color="k", ls="--", lw=1.0, label="H₂(d) (all configurations)")
    curves = [c for path in args.files for c in curves_from_file(path)]
    for c in curves:
        if c["kind"] != "theory":
            continue
        d, s = c["d"], c["s"]
        keep = (d <= args.d_max) & np.isfinite(s)
        label = c["label"].replace("theory large-deviation", "LD")
        if "K=" not in label:
            label += ", perceptron"
        ax.plot(d[keep], s[keep] / binary_entropy(d[keep]), "o:", ms=3, label=label)
    for c in curves:
        if c["kind"] != "run":
            continue
        d, s, ok = c["d"], c["s"], c["converged"]
        keep = ok & (d >= 0.005) & (d <= args.d_max)  # no frozen d = 0 points
        order = np.argsort(d[keep])
        ratio = s[keep][order] / binary_entropy(d[keep][order])
        ax.plot(d[keep][order], ratio, "-", lw=1.5, label=c["label"].split(":")[0])
    for label, (d, r) in README_LD.items():
        ax.plot(d, r, "^:", ms=4, label=label)
    for label, (d, r, e) in README_FBP.items():
        ax.errorbar(d, r, yerr=e, fmt="s", ms=4, capsize=2, label=label)
    ax.set_xlim(0, args.d_max)
    ax.set_ylim(0.4, 1.02)
    ax.set_xlabel("distance d from the centre")
    ax.set_ylabel("S(d) / H₂(d)")
    ax.set_title("densest regions at α = 0.3 patterns per weight", fontsize=10)
    ax.legend(fontsize=6.5, loc="lower left")
    fig.tight_layout()
    fig.savefig(args.out, dpi=100)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
