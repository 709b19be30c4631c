"""Tests of wfm.config: every constraint, TOML loading, --set overrides, JSON."""

import math
from pathlib import Path

import pytest

from wfm.config import (
    DataSpec,
    LearnerSpec,
    ModelSpec,
    RunSpec,
    apply_overrides,
    load_toml,
    parse_override,
    parse_value,
)
from wfm.errors import ConfigError

RUNS = Path(__file__).resolve().parent.parent / "runs"


def build(fake_learner, **sections):
    """RunSpec.from_dict on a small valid config with ``sections`` merged in."""
    config = {
        "seed": 0,
        "model": {"n": 51},
        "data": {"alpha": 0.5},
        "learner": {"name": "fake"},
    }
    for key, value in sections.items():
        if isinstance(value, dict):
            config[key] = {**config.get(key, {}), **value}
        else:
            config[key] = value
    return RunSpec.from_dict(config)


# one (config change, expected message) per constraint
CASES = [
    ({"model": {"n": 0}}, "model.n must be >= 1, got 0"),
    ({"model": {"n": 5.5}}, "model.n must be an integer, got 5.5"),
    (
        {"model": {"n": 1000}},
        "model.n must be odd for perceptron-binary with ±1 patterns (no zero fields), "
        "got 1000",
    ),
    ({"model": {"k": 0}}, "model.k must be >= 1, got 0"),
    ({"model": {"k": 3}}, "model.k must be 1 for perceptron-binary, got 3"),
    ({"model": {"kappa": math.inf}}, "model.kappa must be finite, got inf"),
    ({"model": {"kappa": "big"}}, "model.kappa must be a real number, got 'big'"),
    (
        {"model": {"name": "perceptron-ternary"}},
        "model.name must be one of "
        "perceptron-binary, perceptron-spherical, committee-tree, committee-full, "
        "parity; got 'perceptron-ternary'",
    ),
    (
        {"model": {"name": "perceptron-spherical"}, "learner": {"name": "fbp"}},
        "learner 'fbp' does not support model 'perceptron-spherical'; use one of "
        "rsgd, sgd-ce, sam, sa-gd, esgd, swa, rpgd, fake",
    ),
    (
        {"model": {"name": "committee-full", "k": 4}},
        "model.k must be odd for committee-full, got 4",
    ),
    (
        {"model": {"name": "parity", "n": 100, "k": 3}},
        "model.n must be divisible by model.k for parity, got n = 100, k = 3",
    ),
    (
        {"model": {"name": "committee-tree", "n": 105, "k": 3, "kappa": 0.1}},
        "model.kappa must be 0 for committee-tree, got 0.1",
    ),
    (
        {"model": {"name": "committee-tree", "n": 102, "k": 3}},
        "the inputs per hidden unit must be odd for committee-tree with ±1 patterns "
        "(no zero fields), got 34",
    ),
    (
        {"model": {"width": 3}},
        "model.width is not a config key; accepted: name, n, k, kappa",
    ),
    ({"data": {"alpha": -1.0}}, "data.alpha must be > 0, got -1.0"),
    ({"data": {"alpha": 0}}, "data.alpha must be > 0, got 0.0"),
    (
        {"data": {"alpha": 0.001}},
        "data.alpha * model.n must give at least one pattern, got 0.001 * 51",
    ),
    (
        {"data": {"kind": "mnist"}},
        "data.kind must be one of random, gaussian, teacher, hashed, digits, "
        "idx:PATH; got 'mnist'",
    ),
    ({"data": {"store_data": 1}}, "data.store_data must be true or false, got 1"),
    ({"seed": -1}, "seed must be >= 0, got -1"),
    ({"seed": "abc"}, "seed must be an integer, got 'abc'"),
    ({"device": "tpu"}, "device must be one of cpu, cuda; got 'tpu'"),
    (
        {"colour": "red"},
        "colour is not a config key; accepted top-level keys: "
        "data, device, learner, model, seed",
    ),
    (
        {"learner": {"name": "sgd"}},
        "learner.name must be one of {learners}; got 'sgd'",
    ),
    (
        {"learner": {"dampin": 0.5}},
        "learner.dampin is not a parameter of learner "
        "'fake'; accepted: max_sweeps, damping, gamma, protocol, verbose, schedule",
    ),
    (
        {"learner": {"max_sweeps": 2.5}},
        "learner.max_sweeps must be an integer, got 2.5",
    ),
    (
        {"learner": {"damping": "lots"}},
        "learner.damping must be a real number, got 'lots'",
    ),
    ({"learner": {"protocol": 3}}, "learner.protocol must be a string, got 3"),
    (
        {"learner": {"verbose": "yes"}},
        "learner.verbose must be true or false, got 'yes'",
    ),
    ({"model": 3}, "model must be a table, got 3"),
    ({"learner": {"damping": 1.5}}, "learner.damping must be in [0, 1], got 1.5"),
    ({"learner": {"protocol": "x"}},
     "learner.protocol must be one of standard, pseudo; got 'x'"),
    ({"learner": {"name": "fbp", "dr": 0}}, "learner.dr must be in (0, 1), got 0.0"),
    ({"learner": {"name": "fbp", "protocol": "scoping"}},
     "learner.y must be > 0 for the scoping protocol, got 0.0"),
    ({"learner": {"name": "fbp", "protocol": "free"}},
     "learner.schedule must be a non-empty list of [gamma, y] pairs for protocol free"),
    ({"learner": {"name": "fbp", "schedule": [[1, 2, 3]]}},
     "learner.schedule must be a list of [gamma, y] pairs, got [[1, 2, 3]]"),
    ({"learner": {"name": "fbp", "randfact": 1.0}},
     "learner.randfact must be in [0, 1), got 1.0"),
    ({"learner": {"name": "entropy-mc", "lambda_factor": 1.0}},
     "learner.lambda_factor must be > 1, got 1.0"),
    ({"learner": {"name": "bp"}, "model": {"name": "parity", "n": 51, "k": 3}},
     "learner 'bp' does not support model 'parity'; use one of fbp, fake"),
]  # fmt: skip


@pytest.mark.parametrize(("change", "message"), CASES)
def test_each_constraint_has_its_message(fake_learner, change, message):
    with pytest.raises(ConfigError) as info:
        build(fake_learner, **change)
    import wfm.learners

    learners = ", ".join(wfm.learners.learner_names())  # grows as learners are added
    assert str(info.value) == message.format(learners=learners)
    assert "\n" not in str(info.value)


def test_valid_config_and_defaults(fake_learner):
    spec = build(fake_learner)
    assert spec.model == ModelSpec("perceptron-binary", 51, 1, 0.0)
    assert spec.data == DataSpec("random", 0.5, True)
    assert spec.learner.params == {p.name: p.default for p in fake_learner.params}
    assert spec.n_patterns == round(0.5 * 51)
    assert spec.alpha_effective == spec.n_patterns / 51
    # even n is fine for Gaussian patterns
    assert build(fake_learner, model={"n": 50}, data={"kind": "gaussian"}).model.n == 50


def test_params_resolved_in_runspec_and_coerced(fake_learner):
    given = LearnerSpec("fake", {"damping": 1, "max_sweeps": 3})
    assert given.params == {"damping": 1.0, "max_sweeps": 3}  # what was given
    assert isinstance(given.params["damping"], float)
    spec = RunSpec(model=ModelSpec(n=51), learner=given)
    assert spec.learner.params["gamma"] == math.inf  # resolved: every parameter
    assert list(spec.learner.params) == [p.name for p in fake_learner.params]


def test_per_model_defaults_and_given_values_survive(fake_learner):
    machine = ModelSpec("committee-tree", n=51, k=3)
    spec = RunSpec(model=machine, learner=LearnerSpec("fake"))
    assert spec.learner.params["damping"] == 0.25  # the machine family's default
    spec = RunSpec(model=machine, learner=LearnerSpec("fake", {"damping": 0.5}))
    assert spec.learner.params["damping"] == 0.5  # given beats the model default


def test_round_trip_reproduces_machine_defaults():
    # the bug of format 1: a spec rebuilt from its own dict got other defaults
    spec = RunSpec(
        model=ModelSpec("committee-tree", n=999, k=3), learner=LearnerSpec("fbp")
    )
    again = RunSpec.from_dict(spec.to_dict())
    assert again == spec
    assert again.learner.params["dr"] == spec.learner.params["dr"] == 0.005
    assert again.learner.params["randfact"] == 0.1


def test_json_round_trip(fake_learner):
    spec = build(
        fake_learner,
        model={"kappa": 0.25},
        data={"kind": "teacher", "store_data": False},
        learner={"damping": 0.1, "schedule": [0.1, 0.2]},
        seed=7,
    )
    again = RunSpec.from_json(spec.to_json())
    assert again == spec
    assert again.learner.params["gamma"] == math.inf
    with pytest.raises(ConfigError, match="config JSON is invalid"):
        RunSpec.from_json("{not json")


def test_short_hash_distinguishes_every_setting(fake_learner):
    a = build(fake_learner)
    b = build(fake_learner, learner={"damping": 0.3})
    assert a.short_hash() == build(fake_learner).short_hash()
    assert a.short_hash() != b.short_hash()


def test_toml_load_and_overrides(tmp_path, fake_learner):
    path = tmp_path / "run.toml"
    path.write_text(
        'seed = 1\n[model]\nname = "perceptron-binary"\nn = 101\n'
        '[data]\nalpha = 0.3\n[learner]\nname = "fake"\ndamping = 0.2\n'
    )
    spec = RunSpec.from_toml(path)
    assert (spec.seed, spec.model.n, spec.data.alpha) == (1, 101, 0.3)
    assert spec.learner.params["damping"] == 0.2
    spec = RunSpec.from_toml(
        path,
        [
            "alpha=0.7",
            "n=201",
            "seed=3",
            "learner.damping=0.5",
            "kind=teacher",
            "max_sweeps=4",
            "gamma=inf",
        ],
    )
    assert (spec.data.alpha, spec.model.n, spec.seed) == (0.7, 201, 3)
    assert spec.data.kind == "teacher"
    assert spec.learner.params["damping"] == 0.5
    assert spec.learner.params["max_sweeps"] == 4
    assert spec.learner.params["gamma"] == math.inf


def test_toml_file_errors(tmp_path):
    with pytest.raises(ConfigError, match=r"^cannot read config file .*missing\.toml"):
        load_toml(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[model\nn = 3\n")
    with pytest.raises(
        ConfigError, match=r"^config file .*bad\.toml' is not valid TOML"
    ):
        load_toml(bad)


def test_override_errors(fake_learner):
    base = {"learner": {"name": "fake"}}
    with pytest.raises(
        ConfigError, match=r"^name is ambiguous; use one of model\.name"
    ):
        apply_overrides(base, ["name=x"])
    with pytest.raises(ConfigError, match=r"^foo is not a config key; accepted: alpha"):
        apply_overrides(base, ["foo=1"])
    with pytest.raises(ConfigError, match=r"^override must look like key=value"):
        apply_overrides(base, ["alpha"])
    with pytest.raises(ConfigError, match=r"^optimizer\.lr is not a config key"):
        apply_overrides(base, ["optimizer.lr=1"])
    # a changed learner decides which bare keys exist
    out = apply_overrides({}, ["learner.name=fake", "max_sweeps=2"])
    assert out["learner"] == {"name": "fake", "max_sweeps": 2}


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("0.5", 0.5),
        ("3", 3),
        ("true", True),
        ("inf", math.inf),
        ("fbp", "fbp"),
        ('"a b"', "a b"),
        ("[1, 2]", [1, 2]),
        ("-1.0", -1.0),
        ("1e-3", 1e-3),
        (".6", 0.6),
        ("NaN-ish", "NaN-ish"),
    ],
)
def test_parse_value(text, value):
    assert parse_value(text) == value
    assert parse_override(f"k={text}") == ("k", value)


@pytest.mark.parametrize("path", sorted(RUNS.glob("*.toml")), ids=lambda p: p.name)
def test_shipped_configs_are_valid(path):
    spec = RunSpec.from_toml(path)
    assert RunSpec.from_dict(spec.to_dict()) == spec
    assert spec.model.n >= 1001  # the configs reproduce the README's N ~ 1000 runs
