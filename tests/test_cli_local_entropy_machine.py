"""`wfm local-entropy` on committee- and parity-machine run files (BP and exact)."""

import json

import numpy as np
import pytest

from wfm.measures.local_entropy import exact_free_entropy

CASES = [
    # model, N, K, alpha, extra run flags, max |phi_BP - phi_exact| at lambda >= 1
    ("committee-tree", 21, 3, 0.3, [], 0.01),
    ("parity", 21, 3, 0.2, ["--set", "learner.hidden_field=3"], 0.03),
    ("committee-full", 7, 3, 0.3, [], 0.02),
]


@pytest.mark.parametrize(("model", "n", "k", "alpha", "extra", "tol"), CASES)
def test_cli_machine_local_entropy(tmp_path, capsys, model, n, k, alpha, extra, tol):
    from wfm import open_run
    from wfm.cli import main

    f = tmp_path / f"{model}.h5"
    args = ["run", "--model", model, "--n", str(n), "--k", str(k)]
    args += ["--alpha", str(alpha), "--learner", "fbp", "--seed", "0", *extra]
    assert main([*args, "--out", str(f), "--quiet"]) == 0
    run = open_run(f)
    assert run.solution.attrs["train_errors"] == 0
    assert main(["local-entropy", str(f), "--quiet"]) == 0
    assert main(["local-entropy", str(f), "--method", "exact", "--quiet"]) == 0
    capsys.readouterr()
    dist = ["--distances", "0.02", "0.05", "--name", "at", "--json"]
    assert main(["local-entropy", str(f), *dist]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["group"] == "/local_entropy/at" and len(out["local_entropy"]) == 2

    run = open_run(f)
    n_w = n * k if model == "committee-full" else n
    bp = run.group("/local_entropy/solution")
    ex = run.group("/local_entropy/solution_exact")
    assert bp.attrs["method"] == "bp" and bp.attrs["N"] == n_w
    assert bp.attrs["model"] == model and bp.attrs["k"] == k
    assert ex.attrs["method"] == "exact" and ex.attrs["N"] == n_w
    for key in (
        "distance",
        "local_entropy",
        "coupling",
        "phi",
        "overlap",
        "converged",
        "upper_bound",
    ):
        assert key in bp.arrays
    conv = np.asarray(bp.arrays["converged"], bool)
    assert conv.mean() > 0.8
    s, h2 = np.asarray(bp.arrays["local_entropy"]), np.asarray(bp.arrays["upper_bound"])
    assert np.all(np.isfinite(s[conv])) and np.all(np.isfinite(bp.arrays["phi"]))
    assert np.all(s[conv] <= h2[conv] + 2e-3)
    counts = np.asarray(ex.arrays["counts"])
    assert counts.size == n_w + 1 and counts[0] == 1  # the reference is a solution
    assert np.all(
        ex.arrays["local_entropy"][np.isfinite(ex.arrays["local_entropy"])]
        <= ex.arrays["upper_bound"][np.isfinite(ex.arrays["local_entropy"])] + 1e-12
    )
    # BP vs exact at small d (large lambda): the free entropy phi(lambda)
    lam = np.asarray(bp.arrays["coupling"])
    phi_exact, q_exact = exact_free_entropy(counts, lam)
    near = conv & (lam >= 1.0)
    assert np.max(np.abs(np.asarray(bp.arrays["phi"])[near] - phi_exact[near])) < tol
    assert (
        np.max(np.abs(np.asarray(bp.arrays["overlap"])[near] - q_exact[near])) < 2 * tol
    )
