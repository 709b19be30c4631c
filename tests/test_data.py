"""Tests of wfm.data: shapes, dtypes, values, reproducibility, teacher labels."""

import numpy as np
import pytest

from wfm.data import generate, signed_patterns
from wfm.models.perceptron import output
from wfm.rng import stream


@pytest.mark.parametrize("kind", ["random", "gaussian", "teacher"])
def test_shapes_and_dtypes(kind):
    d = generate(kind, 0.6, 101, np.random.default_rng(0))
    p = round(0.6 * 101)
    assert d.patterns.shape == (p, 101)
    assert d.labels.shape == (p,) and d.labels.dtype == np.int8
    assert set(np.unique(d.labels)) <= {-1, 1}
    if kind == "gaussian":
        assert d.patterns.dtype == np.float32
        assert abs(d.patterns.std() - 1.0) < 0.05
    else:
        assert d.patterns.dtype == np.int8
        assert set(np.unique(d.patterns)) == {-1, 1}
    assert (d.teacher is not None) == (kind == "teacher")


def test_random_labels_and_patterns_are_balanced():
    d = generate("random", 2.0, 501, np.random.default_rng(1))
    assert abs(d.patterns.mean()) < 0.01
    assert abs(d.labels.mean()) < 0.1


def test_teacher_labels_are_teacher_output():
    d = generate("teacher", 0.5, 201, np.random.default_rng(2))
    assert d.teacher.dtype == np.int8 and d.teacher.shape == (201,)
    assert set(np.unique(d.teacher)) == {-1, 1}
    np.testing.assert_array_equal(d.labels, output(d.teacher, d.patterns))
    # explicit loop: sign of the integer field (odd N, never zero)
    for mu in range(5):
        field = int(sum(int(d.teacher[i]) * int(d.patterns[mu, i]) for i in range(201)))
        assert d.labels[mu] == (1 if field > 0 else -1)


def test_reproducible_from_seed_and_streams_independent():
    a = generate("random", 0.5, 51, stream(4, "data"))
    b = generate("random", 0.5, 51, stream(4, "data"))
    c = generate("random", 0.5, 51, stream(5, "data"))
    np.testing.assert_array_equal(a.patterns, b.patterns)
    np.testing.assert_array_equal(a.labels, b.labels)
    assert not np.array_equal(a.patterns, c.patterns)
    data_rng, learner_rng = stream(4, "data"), stream(4, "learner")
    assert data_rng.integers(2**62) != learner_rng.integers(2**62)


def test_signed_patterns():
    d = generate("random", 0.5, 51, np.random.default_rng(0))
    s = signed_patterns(d.patterns, d.labels)
    assert s.dtype == np.int8
    np.testing.assert_array_equal(s, d.patterns * d.labels[:, None])
    g = generate("gaussian", 0.5, 50, np.random.default_rng(0))
    sg = signed_patterns(g.patterns, g.labels)
    assert sg.dtype == np.float64
    np.testing.assert_allclose(sg[3], g.labels[3] * g.patterns[3].astype(np.float64))


@pytest.mark.parametrize(
    ("model", "k", "shape"),
    [
        ("committee-tree", 3, (63,)),
        ("committee-full", 3, (3, 63)),
        ("parity", 3, (63,)),
    ],
)
def test_machine_teacher_labels_are_the_registry_output(model, k, shape):
    from wfm.models import get_model

    d = generate("teacher", 0.3, 63, np.random.default_rng(3), model, k)
    info = get_model(model)
    assert d.teacher.shape == shape
    np.testing.assert_array_equal(
        d.labels, info.output(d.teacher, d.patterns, info.architecture(k))
    )
    assert info.train_errors(d.teacher, d.patterns, d.labels, info.architecture(k)) == 0
