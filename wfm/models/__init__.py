"""The model registry: every architecture wfm knows, declared as plain data.

A model entry (:class:`ModelInfo`) says everything the rest of the package needs to
know about an architecture — its weight domain, how many weights it has, what the
load alpha counts, its numpy reference output / error functions, which data kinds,
learners and measures support it — so that no other module dispatches on a model
name (style.md #14). Kernels and measures receive the structural description
:class:`Architecture` (unit count, connectivity, read-out), never a name.

Adding a model is one module with its numpy reference plus one :func:`register` call
below. Names are the ones of the CLI contract (design.md): ``perceptron-binary``,
``perceptron-spherical``, ``committee-tree``, ``committee-full``, ``parity``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from wfm.errors import ConfigError

__all__ = [
    "DEFAULT_MODEL",
    "MODELS",
    "Architecture",
    "ModelInfo",
    "architecture_of",
    "get_model",
    "model_names",
    "reference_errors",
    "register",
]


@dataclass(frozen=True)
class Architecture:
    """The structure of a network, as kernels and measures need it (no names).

    Attributes
    ----------
    k : int
        Hidden units (1 for a perceptron).
    hidden : bool
        A two-layer machine (committee or parity) rather than a perceptron.
    fully_connected : bool
        Every hidden unit sees all inputs (``K N`` weights); else disjoint blocks of
        ``N / K`` inputs (tree, ``N`` weights).
    parity : bool
        Output = product of the hidden signs (parity machine); else their majority.
    binary : bool
        Weights in {±1} (else real, spherical).
    """

    k: int = 1
    hidden: bool = False
    fully_connected: bool = False
    parity: bool = False
    binary: bool = True

    def n_weights(self, n: int) -> int:
        """Number of weights for ``n`` inputs."""
        return self.k * n if self.fully_connected else n

    def weight_shape(self, n: int) -> tuple[int, ...]:
        """Shape of a stored weight array: ``(K, N)`` fully connected, else ``(N,)``."""
        return (self.k, n) if self.fully_connected else (n,)

    def fan_in(self, n: int) -> int:
        """Inputs seen by one hidden unit (``n`` for a perceptron)."""
        return n if (self.fully_connected or not self.hidden) else n // self.k


@dataclass(frozen=True)
class ModelInfo:
    """One registry entry.

    Attributes
    ----------
    name : str
    description : str
        One line for help texts and plot labels.
    weight_domain : {"binary", "continuous"}
    hidden : bool, fully_connected : bool, parity : bool
        Structure (see :class:`Architecture`).
    fixed_k : int or None
        ``1`` for perceptrons (``model.k`` must be 1); ``None``: any odd ``k``
        (committees, for a vote without ties) or any ``k`` (parity).
    odd_k : bool
        ``model.k`` must be odd.
    margin : bool
        Supports a margin ``kappa != 0``.
    alpha_counts : str
        What the load alpha counts (documentation of the data convention).
    data_kinds : tuple of str
        Data kinds that support this model.
    supported : bool
        Implemented; a known but unsupported model is refused by the config with a
        clear message.
    family : {"perceptron", "machine"}
        Factor-graph family (BP-based learners and measures; per-family learner
        defaults are keyed by it).
    learners : tuple of str
        Learners that support this model.
    local_entropy_methods : tuple of str
        Methods of the local-entropy measure that support this model.
    hessian : bool
        The Hessian measures (:mod:`wfm.kernels.hessian`) differentiate this
        network: a perceptron or a committee with a smooth activation (binary weights
        as their continuous relaxation, on request). The parity machine's product of
        signs has no smooth counterpart in :mod:`wfm.models.nets`.
    output : callable
        ``output(weights, patterns, arch) -> (P,) int8`` numpy reference.
    train_errors : callable
        ``train_errors(weights, patterns, labels, arch, kappa) -> int`` numpy reference.
    """

    name: str
    description: str
    weight_domain: str
    output: Callable
    train_errors: Callable
    hidden: bool = False
    fully_connected: bool = False
    parity: bool = False
    fixed_k: int | None = None
    odd_k: bool = False
    margin: bool = True
    alpha_counts: str = "patterns per weight, P = round(alpha N)"
    data_kinds: tuple = ("random", "gaussian", "teacher")
    supported: bool = True
    family: str = "perceptron"
    learners: tuple = ()
    local_entropy_methods: tuple = ()
    hessian: bool = False
    extra: dict = field(default_factory=dict)

    @property
    def binary(self) -> bool:
        return self.weight_domain == "binary"

    def architecture(self, k: int = 1) -> Architecture:
        """The :class:`Architecture` of this model with ``k`` hidden units."""
        return Architecture(
            k=int(k), hidden=self.hidden, fully_connected=self.fully_connected,
            parity=self.parity, binary=self.binary,
        )  # fmt: skip

    def validate(self, n: int, k: int, kappa: float) -> None:
        """Structural constraints on ``(n, k, kappa)``; ConfigError naming the field."""
        if not self.supported:
            names = ", ".join(m.name for m in MODELS.values() if m.supported)
            raise ConfigError(
                f"model.name {self.name!r} is known but not yet supported; "
                f"supported: {names}"
            )
        if self.fixed_k is not None and k != self.fixed_k:
            raise ConfigError(
                f"model.k must be {self.fixed_k} for {self.name}, got {k}"
            )
        if self.odd_k and k % 2 == 0:
            raise ConfigError(f"model.k must be odd for {self.name}, got {k}")
        if self.hidden and not self.fully_connected and n % k:
            raise ConfigError(
                f"model.n must be divisible by model.k for {self.name}, got "
                f"n = {n}, k = {k}"
            )
        if not self.margin and kappa != 0.0:
            raise ConfigError(f"model.kappa must be 0 for {self.name}, got {kappa}")

    def check_learner(self, learner: str) -> None:
        """ConfigError unless ``learner`` supports this model."""
        if learner not in self.learners:
            raise ConfigError(
                f"learner {learner!r} does not support model {self.name!r}; use one "
                f"of {', '.join(self.learners) or '(none yet)'}"
            )


MODELS: dict[str, ModelInfo] = {}

DEFAULT_MODEL = "perceptron-binary"


def register(info: ModelInfo) -> ModelInfo:
    """Add ``info`` to the registry (a name is registered once)."""
    if info.name in MODELS:
        raise ValueError(f"model {info.name!r} is registered already")
    MODELS[info.name] = info
    return info


def model_names(supported_only: bool = False) -> tuple[str, ...]:
    """Registered model names (in registration order)."""
    return tuple(m.name for m in MODELS.values() if m.supported or not supported_only)


def get_model(name: str) -> ModelInfo:
    """The entry of model ``name``; ConfigError listing the choices otherwise."""
    try:
        return MODELS[name]
    except (KeyError, TypeError):
        raise ConfigError(
            f"model.name must be one of {', '.join(MODELS)}; got {name!r}"
        ) from None


def architecture_of(model_spec) -> Architecture:
    """The :class:`Architecture` of a :class:`wfm.config.ModelSpec`."""
    return get_model(model_spec.name).architecture(model_spec.k)


# ------------------------------------------------------------------ references
def _perceptron_output(w, patterns, arch):
    from wfm.models import perceptron

    return perceptron.output(w, patterns)


def _perceptron_errors(w, patterns, labels, arch, kappa=0.0):
    from wfm.models import perceptron

    return perceptron.train_errors(w, patterns, labels, kappa)


def _machine_output(w, patterns, arch):
    from wfm.models import committee, parity

    if arch.parity:
        out = parity.output(w, patterns, arch.k)
    else:
        out = committee.output(w, patterns, arch.k, arch.fully_connected)
    return np.where(out >= 0, 1, -1).astype(np.int8)


def _machine_errors(w, patterns, labels, arch, kappa=0.0):
    from wfm.models import committee, parity

    if arch.parity:
        return parity.train_errors(w, patterns, labels, arch.k)
    return committee.train_errors(w, patterns, labels, arch.k, arch.fully_connected)


def reference_errors(arch, w, patterns, labels, kappa=0.0) -> int:
    """Training errors of weights ``w`` on any architecture (numpy reference)."""
    fn = _machine_errors if arch.hidden else _perceptron_errors
    return int(fn(w, patterns, labels, arch, kappa))


_MACHINE = {
    "weight_domain": "binary",
    "output": _machine_output,
    "train_errors": _machine_errors,
    "hidden": True,
    "margin": False,
    "data_kinds": ("random", "gaussian", "teacher"),
    "family": "machine",
    "learners": ("fbp",),
    "local_entropy_methods": ("bp", "exact"),
}

register(
    ModelInfo(
        name="perceptron-binary",
        hessian=True,
        description="binary perceptron, W in {±1}^N",
        weight_domain="binary",
        output=_perceptron_output,
        train_errors=_perceptron_errors,
        fixed_k=1,
        learners=(
            "bp",
            "fbp",
            "entropy-mc",
            "amp",
            "rsgd",
            "sgd-ce",
            "sam",
            "sa-gd",
            "esgd",
            "swa",
            "rpgd",
        ),
        local_entropy_methods=("bp", "exact", "amp"),
        # "hashed": random ±1 patterns generated on the fly (wfm.patterns), O(N + P)
        data_kinds=("random", "gaussian", "teacher", "hashed"),
    )
)
register(
    ModelInfo(
        name="perceptron-spherical",
        hessian=True,
        description="spherical perceptron, W in R^N with |W|^2 = N",
        weight_domain="continuous",
        output=_perceptron_output,
        train_errors=_perceptron_errors,
        fixed_k=1,
        # the stored solution is float64 (N,), normalised to |W|^2 = N; no ±1 teacher
        data_kinds=("random", "gaussian"),
        learners=("rsgd", "sgd-ce", "sam", "sa-gd", "esgd", "swa", "rpgd"),
    )
)
register(
    ModelInfo(
        name="committee-tree",
        hessian=True,
        description="tree committee machine, K units on disjoint blocks of N/K inputs",
        odd_k=True,
        **(
            _MACHINE
            | {
                "learners": (
                    "fbp",
                    "rsgd",
                    "sgd-ce",
                    "sam",
                    "sa-gd",
                    "esgd",
                    "swa",
                    "rpgd",
                )
            }
        ),
    )
)
register(
    ModelInfo(
        name="committee-full",
        hessian=True,
        description="fully connected committee machine, K units on all N inputs",
        fully_connected=True,
        odd_k=True,
        alpha_counts="patterns per weight, P = round(alpha K N)",
        **(
            _MACHINE
            | {
                "learners": (
                    "fbp",
                    "rsgd",
                    "sgd-ce",
                    "sam",
                    "sa-gd",
                    "esgd",
                    "swa",
                    "rpgd",
                )
            }
        ),
    )
)
register(
    ModelInfo(
        name="parity",
        description="tree parity machine, output = product of K hidden signs",
        parity=True,
        **_MACHINE,
    )
)
