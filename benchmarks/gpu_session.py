"""GPU measurements of issue 12 in one batch (run on the device machine).

    python benchmarks/gpu_session.py OUTDIR [stage ...]

Stages: tts (time to solution + local entropy, N = 1001 / 10^4 / 10^5, cpu and
cuda). Writes OUTDIR/<stage>.json as it goes. Benches and tests are run by their own
commands (``wfm bench ... --device cuda --json``, ``pytest tests/cuda``).
"""

import json
import sys
import time
from pathlib import Path

import numpy as np

from wfm.learners import learn
from wfm.measures.local_entropy import local_entropy
from wfm.patterns import random_instance


def solve(n, alpha, seed, device, storage="bits", dtype="float32", rate=0.001):
    p = int(round(alpha * n))
    store, labels = random_instance(seed, p, n, storage)
    t0 = time.perf_counter()
    r = learn(
        "amp",
        store,
        labels,
        seed=seed,
        device=device,
        params={"dtype": dtype, "rate": rate, "max_iters": 20000},
    )
    return store, labels, r, time.perf_counter() - t0


def h2(d):
    return -d * np.log(d) - (1 - d) * np.log(1 - d)


def tts(out, sizes):
    rows = []
    for n, alpha, seeds, devices, measure, *rate in sizes:
        rate = rate[0] if rate else 0.001
        for seed in seeds:
            for device in devices:
                store, labels, r, sec = solve(n, alpha, seed, device, rate=rate)
                row = {
                    "n": n,
                    "alpha": alpha,
                    "seed": seed,
                    "device": device,
                    "rate": rate,
                    "solved": r.train_errors == 0,
                    "iterations": r.iterations,
                    "seconds": sec,
                }
                if measure and r.train_errors == 0:
                    t0 = time.perf_counter()
                    le = local_entropy(
                        store,
                        labels,
                        r.weights,
                        method="amp",
                        distances=[0.01, 0.02],
                        device=device,
                        damping=0.5,
                    )
                    row["S_over_H2"] = (le.local_entropy / h2(le.distance)).tolist()
                    row["le_seconds"] = time.perf_counter() - t0
                rows.append(row)
                print(json.dumps(row), flush=True)
                (out / "tts.json").write_text(json.dumps(rows, indent=1))
    return rows


if __name__ == "__main__":
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    which = sys.argv[2] if len(sys.argv) > 2 else "small"
    if which == "small":
        sizes = [(1001, a, range(10), ("cuda", "cpu"), True) for a in (0.6, 0.7)]
        sizes += [(1001, 0.74, range(10), ("cuda",), False)]
    elif which == "mid":
        sizes = [(10001, 0.7, range(3), ("cuda", "cpu"), True)]
    else:
        sizes = [
            (100001, 0.7, range(2), ("cuda",), True),
            (100001, 0.7, range(2), ("cuda",), True, 0.003),
        ]
    tts(out, sizes)
