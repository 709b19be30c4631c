"""The flatness–generalisation study of issue 11 ([P1], science.md §5), end to end.

Trains minimisers with every config of ``runs/flatness/`` (one learner/protocol each)
for several seeds, measures each solved minimiser — BP local entropy, local energy
(random flips: the weights are binary), top Hessian eigenvalues and trace of the ce
loss at gamma = 1 (continuous relaxation) — and writes the table, the rank
correlations with their bootstrap uncertainty and the scatter figure
(:func:`wfm.analyze_flatness`), plus the mean of each measure per protocol
(``by_protocol.csv``). Runs and measurements already in ``--out`` are reused.

    python analysis/flatness.py --out wfm-out/flatness --seeds 0 1 2 3

Only the public API (``wfm.*``) is used; every number comes from the run files.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import time
from pathlib import Path

import numpy as np

import wfm

HERE = Path(__file__).resolve().parent.parent
CONFIGS = sorted((HERE / "runs" / "flatness").glob("*.toml"))
DISTANCES = (0.01, 0.02, 0.05)
COLUMNS = ("test_error", "local_entropy", "local_energy", "top_eigenvalue", "trace")


def _groups(path):
    return set(wfm.open_run(path).extra_groups())


def train_and_measure(config, seed, out_dir, *, log=print):
    """Run one config at one seed (unless stored) and add the missing measures.

    Returns the path, or None when the learner left training errors (no minimiser:
    it is counted, not measured).
    """
    path = out_dir / f"{config.stem}_seed{seed}.h5"
    if not path.exists():
        spec = wfm.load_spec(config, [f"seed={seed}"])
        t0 = time.perf_counter()
        wfm.run(spec, out=path, force=True)
        log(f"  ran {path.name} in {time.perf_counter() - t0:.1f} s")
    run = wfm.open_run(path)
    if not run.solved:
        log(f"  {path.name}: {run.solution.attrs['train_errors']} training errors left")
        return None
    groups = _groups(path)
    if "/hessian" not in groups:
        wfm.hessian_of_run(path, top=10, trace=True, probes=100, relax_binary=True)
    if "/local_energy" not in groups:
        wfm.local_energy_of_run(path, draws=200)
    if "/local_entropy/solution" not in groups:
        wfm.local_entropy_of_run(path, distances=list(DISTANCES))
    return path


def by_protocol(rows):
    """Mean and standard error over seeds of every column, per protocol label."""
    out = []
    for label in sorted({r["label"] for r in rows}):
        sel = [r for r in rows if r["label"] == label]
        entry = {"label": label, "runs": len(sel)}
        for c in COLUMNS:
            v = np.array([float(r[c]) for r in sel])
            v = v[np.isfinite(v)]
            entry[c] = float(v.mean()) if v.size else math.nan
            entry[c + "_stderr"] = (
                float(v.std(ddof=1) / math.sqrt(v.size)) if v.size > 1 else math.nan
            )
        out.append(entry)
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="wfm-out/flatness", help="output folder")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3])
    parser.add_argument("--bootstrap", type=int, default=2000)
    args = parser.parse_args(argv)
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    solved, attempted = [], 0
    for config in CONFIGS:
        print(f"{config.name}:", flush=True)
        for seed in args.seeds:
            attempted += 1
            path = train_and_measure(config, seed, out_dir)
            if path is not None:
                solved.append(path)
    result = wfm.analyze_flatness(
        solved, out_dir, distance=0.02, bootstrap=args.bootstrap
    )
    table = by_protocol(result["rows"])
    with open(out_dir / "by_protocol.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=list(table[0]))
        w.writeheader()
        w.writerows(table)
    summary = {
        "attempted": attempted,
        "solved": len(solved),
        "by_protocol": table,
        "correlations": result["correlations"],
    }
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=1, default=str))
    print(f"\n{len(solved)}/{attempted} runs solved; per protocol (mean ± s.e.):")
    for e in table:
        cells = ", ".join(f"{c} {e[c]:.4g} ± {e[c + '_stderr']:.2g}" for c in COLUMNS)
        print(f"  {e['label']} ({e['runs']} runs): {cells}")
    print("Spearman rank correlations (bootstrap std over runs):")
    for c in result["correlations"]:
        print(
            f"  {c['x']:>14} vs {c['y']:<14} n={c['n']:>2} rho={c['spearman']:+.2f} "
            f"± {c['bootstrap_std']:.2f}  [{c['ci16']:+.2f}, {c['ci84']:+.2f}]"
        )
    print(f"wrote {', '.join(result['files'])}, by_protocol.csv, summary.json")


if __name__ == "__main__":
    main()
