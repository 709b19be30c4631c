"""The model registry: entries, architectures, validation, reference functions."""

import numpy as np
import pytest

from wfm.errors import ConfigError
from wfm.models import (
    MODELS,
    Architecture,
    committee,
    get_model,
    model_names,
    parity,
    perceptron,
    reference_errors,
)


def test_names_are_the_cli_contract():
    assert model_names() == (
        "perceptron-binary", "perceptron-spherical", "committee-tree",
        "committee-full", "parity",
    )  # fmt: skip
    assert model_names(supported_only=True) == model_names()


def test_unknown_and_unsupported_models_are_config_errors():
    with pytest.raises(ConfigError, match="model.name must be one of"):
        get_model("perceptron-ternary")
    import dataclasses

    spherical = get_model("perceptron-spherical")
    unsupported = dataclasses.replace(spherical, supported=False)
    with pytest.raises(ConfigError, match="known but not yet supported"):
        unsupported.validate(11, 1, 0.0)


@pytest.mark.parametrize(
    ("name", "k", "n_weights", "shape", "fan_in"),
    [
        ("perceptron-binary", 1, 21, (21,), 21),
        ("committee-tree", 3, 21, (21,), 7),
        ("committee-full", 3, 63, (3, 21), 21),
        ("parity", 3, 21, (21,), 7),
    ],
)
def test_architecture(name, k, n_weights, shape, fan_in):
    arch = get_model(name).architecture(k)
    assert arch.n_weights(21) == n_weights
    assert arch.weight_shape(21) == shape
    assert arch.fan_in(21) == fan_in
    assert arch.parity == (name == "parity")


@pytest.mark.parametrize("name", ["committee-tree", "committee-full", "parity"])
def test_reference_output_and_errors_match_the_model_modules(name):
    rng = np.random.default_rng(0)
    info = get_model(name)
    arch = info.architecture(3)
    w = rng.choice([-1, 1], size=arch.weight_shape(21)).astype(np.int8)
    x = rng.choice([-1, 1], size=(30, 21)).astype(np.int8)
    y = rng.choice([-1, 1], size=30).astype(np.int8)
    if arch.parity:
        expected_out = parity.output(w, x, 3)
        expected_err = parity.train_errors(w, x, y, 3)
    else:
        expected_out = committee.output(w, x, 3, arch.fully_connected)
        expected_err = committee.train_errors(w, x, y, 3, arch.fully_connected)
    np.testing.assert_array_equal(info.output(w, x, arch), expected_out)
    assert info.train_errors(w, x, y, arch) == expected_err
    assert reference_errors(arch, w, x, y) == expected_err


def test_perceptron_reference_with_margin():
    rng = np.random.default_rng(1)
    w = rng.choice([-1, 1], size=21)
    x = rng.choice([-1, 1], size=(40, 21))
    y = rng.choice([-1, 1], size=40)
    arch = Architecture()
    for kappa in (0.0, 0.3):
        assert reference_errors(arch, w, x, y, kappa) == perceptron.train_errors(
            w, x, y, kappa
        )


def test_every_supported_model_declares_learners_that_exist():
    from wfm.learners import learner_names

    for info in MODELS.values():
        if info.supported:
            assert info.learners and set(info.learners) <= set(learner_names())
