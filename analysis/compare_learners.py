"""Comparison table of issue 10: every learner on the binary perceptron and on digits.

Binary perceptron (random storage problem), N = 501, alpha = 0.5, 0.6 (the issue's)
and 0.4 (where the gradient learners solve), seeds 0-2:
final training errors, wall time and the BP local entropy S/H2 of the solution at
d = 0.01, 0.02, 0.05 (measured only for solutions). Digits (scikit-learn's 8x8, task
3-8, split by the seed), spherical perceptron: train/test error and wall time.
Learners run with their defaults, gradient learners capped at ``EPOCHS`` epochs.

Run once (results are appended to ``analysis/compare_learners.json``, finished runs
are skipped on restart)::

    PYTHONPATH=. python analysis/compare_learners.py [OUT_DIR]
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import wfm
from wfm.config import RunSpec

N, ALPHAS, SEEDS, DISTANCES = 501, (0.5, 0.6, 0.4), (0, 1, 2), (0.01, 0.02, 0.05)
EPOCHS = 2000
BINARY = ("fbp", "rsgd", "sgd-ce", "sam", "sa-gd", "esgd", "swa", "rpgd")
DIGITS = ("sgd-ce", "sam", "sa-gd", "esgd", "swa", "rpgd")
GRADIENT = {"sgd-ce", "sam", "sa-gd", "esgd", "swa", "rpgd"}
RESULTS = Path(__file__).with_name("compare_learners.json")


def h2(d):
    return -d * math.log(d) - (1 - d) * math.log(1 - d)


def binary_run(out, learner, alpha, seed):
    params = {"epochs": EPOCHS} if learner in GRADIENT else {}
    spec = RunSpec.from_dict(
        {
            "model": {"name": "perceptron-binary", "n": N},
            "data": {"kind": "random", "alpha": alpha},
            "learner": {"name": learner, **params},
            "seed": seed,
        }
    )
    path = out / f"bin_{learner}_a{alpha}_s{seed}.h5"
    run = wfm.run(spec, path, force=True)
    sol = run.solution.attrs
    row = {
        "task": "binary", "learner": learner, "alpha": alpha, "seed": seed,
        "train_errors": int(sol["train_errors"]),
        "wall_time_s": float(sol["wall_time_s"]), "iterations": int(sol["iterations"]),
    }  # fmt: skip
    if sol["train_errors"] == 0:
        _, res = wfm.local_entropy_of_run(path, distances=list(DISTANCES))
        row["s_over_h2"] = [
            float(s) / h2(d) if c else None
            for s, d, c in zip(res.local_entropy, DISTANCES, res.converged, strict=True)
        ]
    return row


def digits_run(out, learner, seed):
    spec = RunSpec.from_dict(
        {
            "model": {"name": "perceptron-spherical"},
            "data": {"kind": "digits", "classes": "3-8"},
            "learner": {"name": learner, "epochs": 500},
            "seed": seed,
        }
    )
    run = wfm.run(spec, out / f"dig_{learner}_s{seed}.h5", force=True)
    sol = run.solution.attrs
    n_train = run.group("data").attrs["n_train"]
    return {
        "task": "digits-3-8", "learner": learner, "seed": seed,
        "train_error": int(sol["train_errors"]) / n_train,
        "test_error": float(sol["test_error"]),
        "wall_time_s": float(sol["wall_time_s"]), "iterations": int(sol["iterations"]),
    }  # fmt: skip


def main(out="/tmp/wfm_compare"):
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rows = json.loads(RESULTS.read_text()) if RESULTS.exists() else []
    done = {(r["task"], r["learner"], r.get("alpha"), r["seed"]) for r in rows}
    jobs = [("digits-3-8", lr, None, s) for s in SEEDS for lr in DIGITS]
    jobs += [("binary", lr, a, s) for a in ALPHAS for s in SEEDS for lr in BINARY]
    for task, learner, alpha, seed in jobs:
        if (task, learner, alpha, seed) in done:
            continue
        if task == "binary":
            row = binary_run(out, learner, alpha, seed)
        else:
            row = digits_run(out, learner, seed)
        rows.append(row)
        RESULTS.write_text(json.dumps(rows, indent=1))
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:])
