"""Plots read every curve through the format-2 dataset names (files and objects)."""

import numpy as np
import pytest

import wfm
from wfm.measures.local_entropy import local_entropy
from wfm.plot import curves_from_file, plot_local_entropy
from wfm.theory import LocalEntropyCurve


def _instance():
    rng = np.random.default_rng(0)
    x = (2 * rng.integers(0, 2, (5, 21)) - 1).astype(np.int8)
    w = (2 * rng.integers(0, 2, 21) - 1).astype(np.int8)
    return x, np.sign(x.astype(int) @ w).astype(np.int8), w


def _theory_curve():
    d = np.array([0.01, 0.05, 0.1])
    s = 0.8 * wfm.theory.binary_entropy(d)
    return LocalEntropyCurve(
        kind="typical", model="perceptron-binary", alpha=0.2, kappa=0.0,
        approximation="RS", distances=d, local_entropy=s,
        order_parameters={}, converged=np.array([True, True, False]),
        residual=np.zeros(3),
    )  # fmt: skip


@pytest.mark.parametrize("relative", [False, True])
def test_plot_results_and_theory_objects(tmp_path, relative):
    x, y, w = _instance()
    bp = local_entropy(x, y, w, lambdas=[3.0, 1.0, 0.0])
    exact = local_entropy(x, y, w, method="exact")
    out = plot_local_entropy(
        [bp, ("exact", exact), _theory_curve()], tmp_path / "f.png", relative=relative
    )
    assert out.stat().st_size > 1000


def test_curves_from_file_use_format2_names(tmp_path, small_spec):
    f = tmp_path / "run.h5"
    wfm.run(small_spec, out=f)
    x, y, w = _instance()
    r = local_entropy(x, y, w, lambdas=[3.0, 1.0, 0.0])
    wfm.store.append_group(
        f, "/local_entropy/solution", r.to_arrays(), r.attrs(), r.descriptions()
    )
    c = _theory_curve()
    wfm.store.append_group(
        f, "/theory/typical", c.to_arrays(), c.attrs(), c.descriptions()
    )
    curves = curves_from_file(f)
    assert [c["kind"] for c in curves] == ["run", "theory"]
    np.testing.assert_array_equal(curves[0]["d"], r.distance)
    np.testing.assert_array_equal(curves[0]["s"], r.local_entropy)
    np.testing.assert_array_equal(curves[0]["branch"], r.branch)
    assert plot_local_entropy(f, tmp_path / "f.png").stat().st_size > 1000


def test_format1_file_plots(tmp_path):
    """A format-1 run file (tests/data) draws: old names mapped, a mismatched branch
    array (format-1 stored the raw scan's beside interpolated points) ignored."""
    from pathlib import Path

    f1 = Path(__file__).parent / "data" / "format1_run.h5"
    (curve,) = curves_from_file(f1)
    assert len(curve["d"]) == len(curve["s"]) == 3
    assert plot_local_entropy(f1, tmp_path / "f1.png").stat().st_size > 1000
