"""Run configuration: frozen dataclasses, TOML loading, ``--set`` overrides, validation.

A run is described by a :class:`RunSpec` made of a :class:`ModelSpec`, a
:class:`DataSpec` and a :class:`LearnerSpec`. On disk (TOML) and in run files (JSON)
the layout is flat::

    seed = 0
    device = "cpu"

    [model]
    name = "perceptron-binary"
    n = 1001
    k = 1
    kappa = 0.0

    [data]
    kind = "random"        # random | gaussian | teacher
    alpha = 0.6
    store_data = true

    [learner]
    name = "fbp"
    dr = 0.002             # any parameter the learner declares (wfm.learners)

Every field is a declared :class:`wfm.params.Param`, validated on construction with one
message naming it (``"data.alpha must be > 0, got -1.0"``). Model-level rules come from
the model registry (:mod:`wfm.models`), learner parameters from the learner registry
(:mod:`wfm.learners`) — both plain data: importing this module loads no numba.

A :class:`RunSpec` holds the *resolved* learner parameters: every parameter the learner
declares, the model's default where the user gave none. ``RunSpec.from_dict(
spec.to_dict()) == spec`` for every model and learner, so the config stored in a run
file reproduces the run.
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from wfm.errors import ConfigError
from wfm.learners.registry import get_learner
from wfm.models import DEFAULT_MODEL, get_model, model_names
from wfm.params import Param, at_least, between, greater, one_of

__all__ = [
    "DATA_KINDS",
    "REAL_DATA_KINDS",
    "DataSpec",
    "LearnerSpec",
    "ModelSpec",
    "RunSpec",
    "apply_overrides",
    "dotted_key",
    "load_toml",
    "parse_override",
    "parse_value",
]

DATA_KINDS = ("random", "gaussian", "teacher", "hashed")
#: read from files: scikit-learn's digits, MNIST-style IDX files (wfm.data)
REAL_DATA_KINDS = ("digits", "idx:PATH")


def _is_real(kind) -> bool:
    return kind == "digits" or (isinstance(kind, str) and kind.startswith("idx:"))


def _data_kind(v):
    if v in DATA_KINDS or _is_real(v) and v != "idx:":
        return None
    return f"must be one of {', '.join(DATA_KINDS + REAL_DATA_KINDS)}; got {v!r}"


_data_kind.text = "one of " + ", ".join(DATA_KINDS + REAL_DATA_KINDS)


def _classes(v):
    if v == "even-odd":
        return None
    a, sep, b = v.partition("-")
    if sep and a in "0123456789" and b in "0123456789" and len(a) == len(b) == 1:
        if a != b:
            return None
    return f"must be even-odd or a pair of distinct digits A-B, got {v!r}"


_classes.text = "even-odd or A-B (two digits)"

MODEL_PARAMS = (
    Param("name", "str", DEFAULT_MODEL, "the architecture", one_of(*model_names())),
    Param("n", "int", 1001, "number of inputs N", at_least(1)),
    Param("k", "int", 1, "hidden units K (1 for perceptrons)", at_least(1)),
    Param("kappa", "float", 0.0, "margin: learned when the stability is > kappa"),
)
DATA_PARAMS = (
    Param(
        "kind",
        "str",
        "random",
        "random ±1 patterns with random labels, Gaussian patterns, ±1 patterns "
        "labelled by a random teacher, random ±1 patterns and labels generated on "
        "the fly from a key (hashed: nothing N·P stored, for N up to 10^5+), or real "
        "data: digits (scikit-learn's 8x8 digits) or idx:PATH (MNIST-style IDX files)",
        _data_kind,
    ),  # fmt: skip
    Param("alpha", "float", 0.6, "load: patterns per weight", greater(0.0)),
    Param(
        "store_data",
        "bool",
        True,
        "store patterns and labels in the run file (else regenerated from the seed)",
    ),  # fmt: skip
)
#: fields of real data only (kept out of to_dict otherwise: generated runs' specs and
#: hashes stay as they were)
REAL_DATA_PARAMS = (
    Param(
        "classes",
        "str",
        "even-odd",
        "real data: the two-class task, even-odd (+1 even) or a digit pair A-B "
        "(+1 for A)",
        _classes,
    ),  # fmt: skip
    Param(
        "test_fraction",
        "float",
        0.25,
        "real data: share of the examples held out as the test set (unless IDX "
        "t10k files are given)",
        between(0.0, 1.0),
    ),  # fmt: skip
    Param(
        "max_patterns",
        "int",
        0,
        "real data: at most this many training patterns (0 = all)",
        at_least(0),
    ),  # fmt: skip
    Param(
        "inputs",
        "str",
        "standardize",
        "real data: features standardized (float) or their signs (±1)",
        one_of("standardize", "sign"),
    ),  # fmt: skip
)
TOP_PARAMS = (
    Param("seed", "int", 0, "root seed of every random stream", at_least(0)),
    Param("device", "str", "cpu", "where the kernels run", one_of("cpu", "cuda")),
)


def _validate_fields(obj, declared, section):
    for p in declared:
        where = f"{section}.{p.name}" if section else p.name
        value = p.validate(getattr(obj, p.name), where)
        object.__setattr__(obj, p.name, value)


# ----------------------------------------------------------------------- specs
@dataclass(frozen=True)
class ModelSpec:
    """The architecture.

    Attributes
    ----------
    name : str
        A model of the registry (:func:`wfm.models.model_names`).
    n : int
        Number of inputs ``N``.
    k : int
        Hidden units (committee machines: odd; tree machines: ``n`` divisible by
        ``k``); 1 for perceptrons.
    kappa : float
        Margin: a pattern counts as learned when its stability is ``> kappa``.
    """

    name: str = DEFAULT_MODEL
    n: int = 1001
    k: int = 1
    kappa: float = 0.0

    def __post_init__(self):
        _validate_fields(self, MODEL_PARAMS, "model")
        self.info.validate(self.n, self.k, self.kappa)

    @property
    def info(self):
        """The :class:`wfm.models.ModelInfo` registry entry."""
        return get_model(self.name)

    @property
    def arch(self):
        """The :class:`wfm.models.Architecture`."""
        return self.info.architecture(self.k)

    @property
    def n_weights(self) -> int:
        """Number of weights (``K N`` fully connected, ``N`` otherwise)."""
        return self.arch.n_weights(self.n)


@dataclass(frozen=True)
class DataSpec:
    """The pattern ensemble.

    Attributes
    ----------
    kind : str
        ``"random"`` (±1 patterns, random labels: the storage problem),
        ``"gaussian"`` (Gaussian patterns, random labels) or ``"teacher"`` (±1
        patterns labelled by a random teacher of the same architecture).
    alpha : float
        Load per weight: ``P = round(alpha N_w)``, ``N_w`` the number of weights.
    store_data : bool
        Store patterns and labels in the run file (otherwise only the seed; they are
        regenerated on reading).
    classes, test_fraction, max_patterns, inputs
        Real data only (``kind`` ``"digits"`` or ``"idx:PATH"``; ``alpha`` is then
        unused): the two-class task, the held-out share, a cap on training patterns,
        and the input encoding (:func:`wfm.data.real_dataset`).
    """

    kind: str = "random"
    alpha: float = 0.6
    store_data: bool = True
    classes: str = "even-odd"
    test_fraction: float = 0.25
    max_patterns: int = 0
    inputs: str = "standardize"

    def __post_init__(self):
        _validate_fields(self, DATA_PARAMS + REAL_DATA_PARAMS, "data")

    @property
    def real(self) -> bool:
        """Read from real data (digits, IDX files) rather than drawn."""
        return _is_real(self.kind)

    def to_dict(self) -> dict:
        """The ``[data]`` table (real-data fields only for real data)."""
        declared = DATA_PARAMS + (REAL_DATA_PARAMS if self.real else ())
        return {p.name: getattr(self, p.name) for p in declared}


@dataclass(frozen=True)
class LearnerSpec:
    """The learning algorithm and its parameters.

    Attributes
    ----------
    name : str
        A learner of the registry (:func:`wfm.learners.learner_names`).
    params : dict
        Parameter values. On its own a ``LearnerSpec`` holds what was given
        (validated against the learner's declaration); inside a :class:`RunSpec` it
        holds every parameter, resolved for the run's model.
    """

    name: str = "fbp"
    params: dict = field(default_factory=dict)

    def __post_init__(self):
        info = get_learner(self.name)
        if not isinstance(self.params, dict):
            raise ConfigError(f"learner params must be a table, got {self.params!r}")
        # validate what was given now (unknown names, types, constraints); defaults
        # are filled in by RunSpec, which knows the model
        given = {}
        by_name = {p.name: p for p in info.params}
        for key, value in self.params.items():
            if key not in by_name:
                raise ConfigError(
                    f"learner.{key} is not a parameter of learner {self.name!r}; "
                    f"accepted: {', '.join(by_name)}"
                )
            given[key] = by_name[key].validate(value, f"learner.{key}")
        object.__setattr__(self, "params", given)

    @property
    def info(self):
        """The :class:`wfm.learners.LearnerInfo` registry entry."""
        return get_learner(self.name)


@dataclass(frozen=True)
class RunSpec:
    """Everything that defines a run; a run is reproducible from its ``RunSpec``.

    Attributes
    ----------
    model : ModelSpec
    data : DataSpec
    learner : LearnerSpec
        Resolved: every parameter of the learner, defaults of the run's model.
    seed : int
        Root seed of the named random streams (:mod:`wfm.rng`).
    device : str
        ``"cpu"`` or ``"cuda"``.
    """

    model: ModelSpec = field(default_factory=ModelSpec)
    data: DataSpec = field(default_factory=DataSpec)
    learner: LearnerSpec = field(default_factory=LearnerSpec)
    seed: int = 0
    device: str = "cpu"

    def __post_init__(self):
        _validate_fields(self, TOP_PARAMS, "")
        object.__setattr__(self, "seed", int(self.seed))
        info = self.learner.info
        self.model.info.check_learner(self.learner.name)
        resolved = info.resolve(self.learner.params, self.model.info)
        object.__setattr__(self, "learner", _resolved(self.learner.name, resolved))
        if not self.data.real and self.data.kind not in self.model.info.data_kinds:
            kinds = ", ".join(self.model.info.data_kinds)
            raise ConfigError(
                f"data.kind {self.data.kind!r} does not support model "
                f"{self.model.name!r}; use one of {kinds}"
            )
        if self.data.kind == "hashed" and not info.pattern_storage:
            raise ConfigError(
                f"data.kind 'hashed' needs a learner that reads patterns on the fly "
                f"(amp); learner {info.name!r} needs them in memory: use data.kind "
                "'random'"
            )
        if self.data.kind in ("random", "teacher", "hashed"):  # ±1: no zero field
            fan_in = self.model.arch.fan_in(self.model.n)
            if fan_in % 2 == 0:
                what = (
                    "model.n"
                    if not self.model.arch.hidden
                    else ("the inputs per hidden unit")
                )
                raise ConfigError(
                    f"{what} must be odd for {self.model.name} with ±1 patterns "
                    f"(no zero fields), got {fan_in}"
                )
        if not self.data.real and self.n_patterns < 1:
            raise ConfigError(
                f"data.alpha * model.n must give at least one pattern, got "
                f"{self.data.alpha} * {self.model.n}"
            )

    @property
    def n_patterns(self) -> int:
        """``P = round(alpha N_w)``, ``N_w`` the number of weights."""
        return int(round(self.data.alpha * self.model.n_weights))

    @property
    def alpha_effective(self) -> float:
        """``P / N_w``: the load actually realised (``P`` is rounded)."""
        return self.n_patterns / self.model.n_weights

    # ------------------------------------------------------------ conversions
    def to_dict(self) -> dict:
        """The flat TOML/JSON layout (see the module docstring), fully resolved."""
        return {
            "seed": self.seed,
            "device": self.device,
            "model": {p.name: getattr(self.model, p.name) for p in MODEL_PARAMS},
            "data": self.data.to_dict(),
            "learner": {"name": self.learner.name, **self.learner.params},
        }

    def to_json(self) -> str:
        """JSON of :meth:`to_dict` (``inf`` is written as ``Infinity``)."""
        return json.dumps(self.to_dict())

    def short_hash(self, length: int = 8) -> str:
        """A short hash of the resolved spec (for default file names)."""
        text = json.dumps(self.to_dict(), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:length]

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
        config = _inputs_from_data(config)
        sections = {}
        for section, spec_cls, declared in (
            ("model", ModelSpec, MODEL_PARAMS),
            ("data", DataSpec, DATA_PARAMS + REAL_DATA_PARAMS),
        ):
            table = config.get(section, {})
            if not isinstance(table, dict):
                raise ConfigError(f"{section} must be a table, got {table!r}")
            allowed = [p.name for p in declared]
            bad = sorted(set(table) - set(allowed))
            if bad:
                raise ConfigError(
                    f"{section}.{bad[0]} is not a config key; accepted: "
                    f"{', '.join(allowed)}"
                )
            sections[section] = spec_cls(**table)
        learner = config.get("learner", {})
        if not isinstance(learner, dict):
            raise ConfigError(f"learner must be a table, got {learner!r}")
        learner = dict(learner)
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


def _inputs_from_data(config: dict) -> dict:
    """Real data without a given ``model.n``: ``n`` = the data's features, rounded
    up to a multiple of ``k`` for a tree machine (the extra inputs are zero)."""
    model, data = config.get("model", {}), config.get("data", {})
    if not (isinstance(model, dict) and isinstance(data, dict)):
        return config
    if "n" in model or not _is_real(data.get("kind")) or _data_kind(data["kind"]):
        return config
    from wfm.data import real_inputs

    n = real_inputs(data["kind"])
    info = get_model(model.get("name", DEFAULT_MODEL))
    k = model.get("k", 1)
    if info.hidden and not info.fully_connected and isinstance(k, int) and k > 0:
        n = -(-n // k) * k
    return {**config, "model": {**model, "n": n}}


def _resolved(name, params):
    spec = object.__new__(LearnerSpec)
    object.__setattr__(spec, "name", name)
    object.__setattr__(spec, "params", params)
    return spec


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
    for section, declared in (
        ("model", MODEL_PARAMS),
        ("data", DATA_PARAMS + REAL_DATA_PARAMS),
    ):
        for p in declared:
            keys.setdefault(p.name, []).append(f"{section}.{p.name}")
    keys.setdefault("name", []).append("learner.name")
    learner_name = config.get("learner", {}).get("name", LearnerSpec.name)
    try:
        declared = get_learner(learner_name).params
    except ConfigError:
        declared = ()
    for p in declared:
        keys.setdefault(p.name, []).append(f"learner.{p.name}")
    return keys


def dotted_key(config: dict, key: str) -> str:
    """The dotted key a bare or dotted ``key`` means for ``config`` (``alpha`` ->
    ``data.alpha``, ``dr`` -> ``learner.dr`` when the learner declares it), by the
    rules of :func:`apply_overrides`; ConfigError if unknown or ambiguous."""
    if "." in key or key in ("seed", "device"):
        section, _, leaf = key.rpartition(".")
        if section and section not in ("model", "data", "learner"):
            raise ConfigError(
                f"{key} is not a config key; sections: model, data, learner"
            )
        return key
    known = _known_keys(config)
    targets = known.get(key)
    if not targets:
        raise ConfigError(
            f"{key} is not a config key; accepted: {', '.join(sorted(known))}"
        )
    if len(targets) > 1:
        raise ConfigError(f"{key} is ambiguous; use one of {', '.join(targets)}")
    return targets[0]


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
