"""Run configuration: frozen dataclasses, TOML loading, ``--set`` overrides, validation.

A run is described by a :class:`RunSpec` made of a :class:`ModelSpec`, a
:class:`DataSpec` and a :class:`LearnerSpec`. On disk (TOML) and in run files (JSON)
the layout is flat::

    seed = 0
    device = "cpu"

    [model]
    name = "perceptron-binary"
    n = 1001
    kappa = 0.0

    [data]
    kind = "random"        # random | gaussian | teacher
    alpha = 0.6

    [learner]
    name = "fbp"
    max_sweeps = 1000      # any key of the learner's DEFAULTS

Every spec validates itself on construction against the small constraint table
:data:`CONSTRAINTS` (plus a few cross-field rules) and raises
:class:`wfm.errors.ConfigError` with one message naming the field, e.g.
``"data.alpha must be > 0, got -1.0"``.
"""

from __future__ import annotations

import json
import math
import numbers
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from wfm.errors import ConfigError

__all__ = [
    "CONSTRAINTS",
    "DATA_KINDS",
    "DEVICES",
    "MACHINE_MODELS",
    "MODEL_NAMES",
    "SUPPORTED_MODELS",
    "DataSpec",
    "LearnerSpec",
    "ModelSpec",
    "RunSpec",
    "apply_overrides",
    "load_toml",
    "parse_override",
    "parse_value",
]

MODEL_NAMES = (
    "perceptron-binary",
    "perceptron-spherical",
    "committee-tree",
    "committee-full",
    "parity",
)
SUPPORTED_MODELS = ("perceptron-binary", "committee-tree", "committee-full", "parity")
#: two-layer machines (wfm.learners.fbp_machine); alpha counts patterns per weight
MACHINE_MODELS = ("committee-tree", "committee-full", "parity")
DATA_KINDS = ("random", "gaussian", "teacher")
DEVICES = ("cpu", "cuda")


# ----------------------------------------------------------------- constraints
def _is_int(v):
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


def _is_real(v):
    return isinstance(v, numbers.Real) and not isinstance(v, bool)


def _integer(lo):
    def check(v):
        if not _is_int(v):
            return f"must be an integer, got {v!r}"
        if v < lo:
            return f"must be >= {lo}, got {v}"
        return None

    return check


def _real(lo=None, lo_open=True):
    def check(v):
        if not _is_real(v):
            return f"must be a real number, got {v!r}"
        if not math.isfinite(v):
            return f"must be finite, got {v}"
        if lo is not None and (v <= lo if lo_open else v < lo):
            return f"must be {'>' if lo_open else '>='} {lo:g}, got {float(v)}"
        return None

    return check


def _one_of(choices):
    def check(v):
        if v not in choices:
            return f"must be one of {', '.join(choices)}; got {v!r}"
        return None

    return check


def _boolean(v):
    return None if isinstance(v, bool) else f"must be true or false, got {v!r}"


#: field -> check returning ``None`` or the message tail (after "<field> ").
CONSTRAINTS = {
    "model.name": _one_of(MODEL_NAMES),
    "model.n": _integer(1),
    "model.k": _integer(1),
    "model.kappa": _real(),
    "data.kind": _one_of(DATA_KINDS),
    "data.alpha": _real(0.0),
    "data.store_data": _boolean,
    "seed": _integer(0),
    "device": _one_of(DEVICES),
}


def _check(name, value):
    msg = CONSTRAINTS[name](value)
    if msg is not None:
        raise ConfigError(f"{name} {msg}")


# ----------------------------------------------------------------------- specs
@dataclass(frozen=True)
class ModelSpec:
    """The architecture.

    Attributes
    ----------
    name : str
        One of :data:`MODEL_NAMES`; those of :data:`SUPPORTED_MODELS` are
        implemented (the machines through :mod:`wfm.learners.fbp_machine`).
    n : int
        Number of inputs (weights) ``N``.
    k : int
        Hidden units (committee machines: odd; tree machines: ``n`` divisible by
        ``k``, blocks of ``n/k`` inputs); 1 for perceptrons.
    kappa : float
        Margin: a pattern counts as learned when its stability is ``> kappa``.
    """

    name: str = "perceptron-binary"
    n: int = 1001
    k: int = 1
    kappa: float = 0.0

    def __post_init__(self):
        _check("model.name", self.name)
        if self.name not in SUPPORTED_MODELS:
            raise ConfigError(
                f"model.name {self.name!r} is known but not yet supported; "
                f"supported: {', '.join(SUPPORTED_MODELS)}"
            )
        for key in ("n", "k", "kappa"):
            _check(f"model.{key}", getattr(self, key))
        object.__setattr__(self, "kappa", float(self.kappa))
        if self.name.startswith("perceptron") and self.k != 1:
            raise ConfigError(f"model.k must be 1 for {self.name}, got {self.k}")
        if self.name.startswith("committee") and self.k % 2 == 0:
            raise ConfigError(f"model.k must be odd for {self.name}, got {self.k}")
        if self.name in ("committee-tree", "parity") and self.n % self.k:
            raise ConfigError(
                f"model.n must be divisible by model.k for {self.name}, got "
                f"n = {self.n}, k = {self.k}"
            )
        if self.name in MACHINE_MODELS and self.kappa != 0.0:
            raise ConfigError(
                f"model.kappa must be 0 for {self.name}, got {self.kappa}"
            )

    @property
    def n_weights(self) -> int:
        """Number of weights: ``k n`` for committee-full, ``n`` otherwise."""
        return self.k * self.n if self.name == "committee-full" else self.n


@dataclass(frozen=True)
class DataSpec:
    """The pattern ensemble.

    Attributes
    ----------
    kind : str
        ``"random"`` (±1 patterns, random labels: the storage problem),
        ``"gaussian"`` (Gaussian patterns, random labels) or ``"teacher"`` (±1
        patterns labelled by a random binary teacher).
    alpha : float
        Load per weight: ``P = round(alpha N)``, ``P = round(alpha K N)`` for
        committee-full (``K N`` weights).
    store_data : bool
        Store patterns and labels in the run file (otherwise only the seed; they are
        regenerated on reading).
    """

    kind: str = "random"
    alpha: float = 0.6
    store_data: bool = True

    def __post_init__(self):
        for key in ("kind", "alpha", "store_data"):
            _check(f"data.{key}", getattr(self, key))
        object.__setattr__(self, "alpha", float(self.alpha))


def _learner_defaults(name):
    from wfm.learners import LEARNER_NAMES, get_learner

    if name not in LEARNER_NAMES:
        raise ConfigError(
            f"learner.name must be one of {', '.join(LEARNER_NAMES)}; got {name!r}"
        )
    try:
        module = get_learner(name)
    except ImportError as exc:
        raise ConfigError(f"learner.name {name!r} is not available: {exc}") from None
    return module, dict(module.DEFAULTS)


def _model_defaults(learner_name, model_name):
    """Learner defaults that replace the learner's own for ``model_name``, or None.

    fBP on committee/parity machines runs :mod:`wfm.learners.fbp_machine`, whose
    defaults (protocol speed, initial messages, machine-only keys) differ from the
    perceptron's; keys the user set are kept either way.
    """
    if learner_name == "fbp" and model_name in MACHINE_MODELS:
        from wfm.learners.fbp_machine import DEFAULTS

        return dict(DEFAULTS)
    return None


def _machine_default(learner_name, key):
    for model_name in MACHINE_MODELS:
        defaults = _model_defaults(learner_name, model_name) or {}
        if key in defaults:
            return defaults[key]
    return None


def _coerce_param(name, value, default):
    """Check ``value`` against the type of the learner's default value."""
    field_name = f"learner.{name}"
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise ConfigError(f"{field_name} must be true or false, got {value!r}")
    elif _is_int(default):
        if not _is_int(value):
            raise ConfigError(f"{field_name} must be an integer, got {value!r}")
        return int(value)
    elif _is_real(default):
        if not _is_real(value) or math.isnan(value):
            raise ConfigError(f"{field_name} must be a real number, got {value!r}")
        return float(value)
    elif isinstance(default, str) and not isinstance(value, str):
        raise ConfigError(f"{field_name} must be a string, got {value!r}")
    return value


@dataclass(frozen=True)
class LearnerSpec:
    """The learning algorithm and its parameters.

    Attributes
    ----------
    name : str
        A learner of :data:`wfm.learners.LEARNER_NAMES` (``"bp"``, ``"fbp"``, ...).
    params : dict
        Parameters, merged over the learner module's ``DEFAULTS`` on construction
        (so ``params`` always holds every parameter). Unknown names are an error.
    """

    name: str = "fbp"
    params: dict = field(default_factory=dict)

    def __post_init__(self):
        module, merged = _learner_defaults(self.name)
        params = dict(self.params)
        # the keys set by the user (not a field: RunSpec swaps in model defaults for
        # the others, see _model_defaults)
        object.__setattr__(self, "given", frozenset(params))
        accepted = set(merged)
        for model_name in MACHINE_MODELS:
            accepted |= set(_model_defaults(self.name, model_name) or ())
        unknown = sorted(set(params) - accepted)
        if unknown:
            raise ConfigError(
                f"learner.{unknown[0]} is not a parameter of learner {self.name!r}; "
                f"accepted: {', '.join(sorted(merged))}"
            )
        for key, value in params.items():
            default = merged.get(key, _machine_default(self.name, key))
            merged[key] = _coerce_param(key, value, default)
        validate = getattr(module, "validate_params", None)
        if validate is not None:
            try:
                validate(merged)
            except ConfigError:
                raise
            except ValueError as exc:
                raise ConfigError(f"learner.{exc}") from None
        object.__setattr__(self, "params", merged)


@dataclass(frozen=True)
class RunSpec:
    """Everything that defines a run; a run is reproducible from its ``RunSpec``.

    Attributes
    ----------
    model : ModelSpec
    data : DataSpec
    learner : LearnerSpec
    seed : int
        Root seed: ``SeedSequence(seed).spawn`` gives the data and learner streams.
    device : str
        ``"cpu"`` or ``"cuda"``.
    """

    model: ModelSpec = field(default_factory=ModelSpec)
    data: DataSpec = field(default_factory=DataSpec)
    learner: LearnerSpec = field(default_factory=LearnerSpec)
    seed: int = 0
    device: str = "cpu"

    def __post_init__(self):
        _check("seed", self.seed)
        _check("device", self.device)
        object.__setattr__(self, "seed", int(self.seed))
        self._apply_model_defaults()
        binary_inputs = self.data.kind in ("random", "teacher")
        if self.model.name == "perceptron-binary" and binary_inputs:
            if self.model.n % 2 == 0:
                raise ConfigError(
                    "model.n must be odd for perceptron-binary with ±1 patterns, "
                    f"got {self.model.n}"
                )
        if self.model.name in MACHINE_MODELS and binary_inputs:
            fan_in = (
                self.model.n
                if self.model.name == "committee-full"
                else (self.model.n // self.model.k)
            )
            if fan_in % 2 == 0:
                raise ConfigError(
                    f"the inputs per hidden unit must be odd for {self.model.name} "
                    f"with ±1 patterns (no hidden ties), got {fan_in}"
                )
        if self.n_patterns < 1:
            raise ConfigError(
                f"data.alpha * model.n must give at least one pattern, got "
                f"{self.data.alpha} * {self.model.n}"
            )

    def _apply_model_defaults(self):
        learner = self.learner
        given = getattr(learner, "given", frozenset(learner.params))
        defaults = _model_defaults(learner.name, self.model.name)
        if defaults is None:
            _, own = _learner_defaults(learner.name)
            foreign = sorted(given - set(own))
            if foreign:
                raise ConfigError(
                    f"learner.{foreign[0]} is not a parameter of learner "
                    f"{learner.name!r} for model {self.model.name!r}; accepted: "
                    f"{', '.join(sorted(own))}"
                )
            return
        params = {**defaults, **{k: learner.params[k] for k in given}}
        if params != learner.params:
            spec = LearnerSpec(learner.name, params)
            object.__setattr__(spec, "given", given)
            object.__setattr__(self, "learner", spec)

    @property
    def n_patterns(self) -> int:
        """``P = round(alpha N_w)``, ``N_w`` the number of weights (``K N`` for
        committee-full, as in BinaryCommitteeMachineFBP.jl; ``N`` otherwise)."""
        return int(round(self.data.alpha * self.model.n_weights))

    # ------------------------------------------------------------ conversions
    def to_dict(self) -> dict:
        """The flat TOML/JSON layout (see the module docstring)."""
        return {
            "seed": self.seed,
            "device": self.device,
            "model": {
                "name": self.model.name,
                "n": self.model.n,
                "k": self.model.k,
                "kappa": self.model.kappa,
            },
            "data": {
                "kind": self.data.kind,
                "alpha": self.data.alpha,
                "store_data": self.data.store_data,
            },
            "learner": {"name": self.learner.name, **self.learner.params},
        }

    def to_json(self) -> str:
        """JSON of :meth:`to_dict` (``inf`` is written as ``Infinity``)."""
        return json.dumps(self.to_dict(), sort_keys=False)

    @classmethod
    def from_dict(cls, config: dict) -> RunSpec:
        """Build and validate a spec from the flat layout; missing keys -> defaults."""
        if not isinstance(config, dict):
            raise ConfigError(f"config must be a table, got {type(config).__name__}")
        unknown = sorted(set(config) - _TOP_KEYS)
        if unknown:
            raise ConfigError(
                f"{unknown[0]} is not a config key; accepted top-level keys: "
                f"{', '.join(sorted(_TOP_KEYS))}"
            )
        sections = {}
        for section, spec_cls in (("model", ModelSpec), ("data", DataSpec)):
            table = config.get(section, {})
            if not isinstance(table, dict):
                raise ConfigError(f"{section} must be a table, got {table!r}")
            allowed = set(spec_cls.__dataclass_fields__)
            bad = sorted(set(table) - allowed)
            if bad:
                raise ConfigError(
                    f"{section}.{bad[0]} is not a config key; accepted: "
                    f"{', '.join(sorted(allowed))}"
                )
            sections[section] = spec_cls(**table)
        learner = dict(config.get("learner", {}))
        name = learner.pop("name", LearnerSpec.name)
        return cls(
            model=sections["model"],
            data=sections["data"],
            learner=LearnerSpec(name=name, params=learner),
            seed=config.get("seed", 0),
            device=config.get("device", "cpu"),
        )

    @classmethod
    def from_json(cls, text: str) -> RunSpec:
        """Inverse of :meth:`to_json`."""
        try:
            config = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"config JSON is invalid: {exc}") from None
        return cls.from_dict(config)

    @classmethod
    def from_toml(cls, path, overrides=()) -> RunSpec:
        """Load a TOML file and apply ``key=value`` overrides."""
        return cls.from_dict(apply_overrides(load_toml(path), overrides))


_TOP_KEYS = {"seed", "device", "model", "data", "learner"}


# ------------------------------------------------------------------- loading
def load_toml(path) -> dict:
    """Read a TOML run config into the flat layout dict (not yet validated).

    Raises
    ------
    ConfigError
        If the file cannot be read or is not valid TOML.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or exc
        raise ConfigError(f"cannot read config file {str(path)!r}: {reason}") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(
            f"config file {str(path)!r} is not valid TOML: {exc}"
        ) from None


def parse_value(text: str):
    """Parse an override value as a TOML value; a bare word stays a string.

    ``"0.5"`` -> 0.5, ``"3"`` -> 3, ``"true"`` -> True, ``"inf"`` -> inf,
    ``"[0.1, 0.2]"`` -> list, ``".6"`` -> 0.6, ``"fbp"`` -> ``"fbp"``.
    """
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        pass
    try:  # numbers TOML is stricter about, e.g. ".6" or "1."
        return float(text)
    except ValueError:
        return text


def parse_override(item: str) -> tuple[str, object]:
    """Split ``"key=value"`` into the key and the parsed value."""
    key, sep, value = item.partition("=")
    key = key.strip()
    if not sep or not key:
        raise ConfigError(f"override must look like key=value, got {item!r}")
    return key, parse_value(value.strip())


def _known_keys(config: dict) -> dict[str, list[str]]:
    """bare key -> dotted keys it may mean, for the learner named in ``config``."""
    keys = {"seed": ["seed"], "device": ["device"]}
    for section, spec_cls in (("model", ModelSpec), ("data", DataSpec)):
        for name in spec_cls.__dataclass_fields__:
            keys.setdefault(name, []).append(f"{section}.{name}")
    keys.setdefault("name", []).append("learner.name")
    learner_name = config.get("learner", {}).get("name", LearnerSpec.name)
    try:
        _, defaults = _learner_defaults(learner_name)
    except ConfigError:
        defaults = {}
    for name in defaults:
        keys.setdefault(name, []).append(f"learner.{name}")
    return keys


def apply_overrides(config: dict, overrides) -> dict:
    """Return a copy of ``config`` with ``key=value`` overrides applied.

    Keys are dotted (``learner.damping=0.5``, ``model.n=501``) or bare when unique
    (``alpha=0.7``, ``n=501``, ``seed=3``, ``damping=0.5``). Values are parsed as TOML
    (:func:`parse_value`). Dotted overrides are applied first, so a changed
    ``learner.name`` decides which bare learner parameters exist.
    """
    out = {k: (dict(v) if isinstance(v, dict) else v) for k, v in config.items()}
    parsed = [parse_override(o) if isinstance(o, str) else tuple(o) for o in overrides]

    def put(dotted, value):
        section, _, key = dotted.rpartition(".")
        if section:
            if section not in ("model", "data", "learner"):
                raise ConfigError(
                    f"{dotted} is not a config key; sections: model, data, learner"
                )
            out.setdefault(section, {})[key] = value
        else:
            out[key] = value

    for key, value in parsed:
        if "." in key or key in ("seed", "device"):
            put(key, value)
    known = _known_keys(out)
    for key, value in parsed:
        if "." in key or key in ("seed", "device"):
            continue
        targets = known.get(key)
        if not targets:
            raise ConfigError(
                f"{key} is not a config key; accepted: {', '.join(sorted(known))}"
            )
        if len(targets) > 1:
            raise ConfigError(f"{key} is ambiguous; use one of {', '.join(targets)}")
        put(targets[0], value)
    return out
