"""fBP with an external field lambda W~ (Problem.external_field): the coupling of the
local entropy used as a constraint, for incremental learning (analysis/)."""

import numpy as np
import pytest

import wfm.learners as L


def test_zero_field_is_plain_fbp_and_a_field_pulls_to_the_reference(make_instance):
    xi, y = make_instance(101, 0.3, 0)
    ref = np.where(np.random.default_rng(1).random(101) < 0.5, -1.0, 1.0)
    plain = L.learn("fbp", xi, y, seed=0)
    zero = L.learn("fbp", xi, y, seed=0, external_field=np.zeros(101))
    np.testing.assert_array_equal(plain.weights, zero.weights)
    assert plain.iterations == zero.iterations
    distances = []
    for lam in (0.0, 0.3, 1.0):
        r = L.learn("fbp", xi, y, seed=0, external_field=lam * ref)
        assert r.train_errors == 0
        distances.append(np.mean(r.weights != ref))
    assert distances[0] > 0.35 and distances[2] < distances[1] < distances[0]


def test_learners_without_external_field_refuse_it(make_instance):
    xi, y = make_instance(51, 0.3, 0)
    with pytest.raises(ValueError, match="does not take an external_field"):
        L.learn("sgd-ce", xi, y, external_field=np.ones(51))
