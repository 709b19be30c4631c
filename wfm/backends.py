"""The backend seam: which implementation of a kernel family runs on which device.

Kernel families (``"bp"``: perceptron and machine BP sweeps and free entropies,
``"enumerate"``: exact enumeration, ...) are mapped to one module per device here and
nowhere else; learners and measures ask :func:`kernels` for the module of their
device. ``device = "cuda"`` needs a usable CUDA GPU, or numba's CUDA simulator
(``NUMBA_ENABLE_CUDASIM=1``, which the tests use); without one it fails with
:class:`wfm.errors.CudaUnavailableError` (exit 2 on the command line).

This module imports numba only when a CUDA device is asked for.
"""

from __future__ import annotations

import importlib
import os

from wfm.errors import ConfigError, CudaUnavailableError

__all__ = [
    "DEFAULT_SHARDS",
    "DEVICES",
    "SHARDS_MIN_FACTORS",
    "KERNEL_FAMILIES",
    "available_devices",
    "check_devices",
    "cuda_usable",
    "default_shards",
    "families_for",
    "kernels",
]

DEVICES = ("cpu", "cuda")

#: family -> device -> module implementing it
KERNEL_FAMILIES: dict[str, dict[str, str]] = {
    "bp": {"cpu": "wfm.kernels.bp", "cuda": "wfm.kernels.bp_cuda"},
    "bp_machine": {"cpu": "wfm.kernels.bp_committee"},
    "enumerate": {"cpu": "wfm.kernels.enumerate", "cuda": "wfm.kernels.enumerate_cuda"},
    "amp": {"cpu": "wfm.kernels.amp", "cuda": "wfm.kernels.amp_cuda"},
    "sgd": {"cpu": "wfm.kernels.sgd"},
    "hessian": {"cpu": "wfm.kernels.hessian"},
}

DEFAULT_SHARDS = 2
"""Default number of shards of a BP sweep (pieces of the factor list updated in
parallel; results depend on it, never on the thread count): the one home of this
default."""


SHARDS_MIN_FACTORS = 200
"""Below this many factors (patterns) a sweep is fully sequential by default: the
shards' merged updates cost accuracy and the threads buy nothing on small graphs."""


def default_shards(n_factors: int) -> int:
    """Shards for a sweep over ``n_factors`` factors: 1 below
    :data:`SHARDS_MIN_FACTORS` (threads cost more than they save), else
    :data:`DEFAULT_SHARDS`."""
    return 1 if n_factors < SHARDS_MIN_FACTORS else DEFAULT_SHARDS


def cuda_usable() -> bool:
    """A CUDA GPU (or the simulator) is usable by numba."""
    if os.environ.get("NUMBA_ENABLE_CUDASIM") == "1":
        return True
    try:
        from numba import cuda

        return bool(cuda.is_available())
    except Exception:  # numba-cuda missing or broken driver: not usable
        return False


def available_devices() -> tuple[str, ...]:
    """The devices usable on this machine (``"cpu"`` always)."""
    return ("cpu", "cuda") if cuda_usable() else ("cpu",)


def check_devices(device: str, families, what: str) -> None:
    """Raise unless every kernel family of ``families`` runs on ``device``.

    Parameters
    ----------
    device : str
    families : iterable of str
    what : str
        Who asks, for the message (e.g. ``"learner 'fbp'"``).
    """
    if device not in DEVICES:
        raise ConfigError(f"device must be one of {', '.join(DEVICES)}; got {device!r}")
    if device == "cuda" and not cuda_usable():
        raise CudaUnavailableError(
            "device cuda: no usable CUDA GPU (numba.cuda.is_available() is false); "
            "install the cuda extra on a machine with an NVIDIA GPU, or set "
            "NUMBA_ENABLE_CUDASIM=1 to use the simulator"
        )
    missing = [f for f in families if device not in KERNEL_FAMILIES.get(f, {})]
    if missing:
        have = ", ".join(KERNEL_FAMILIES.get(missing[0], {})) or "none"
        raise ConfigError(
            f"{what} has no {device} kernels yet (kernel family {missing[0]!r} runs "
            f'on: {have}); use device = "cpu"'
        )


def families_for(families, arch) -> tuple[str, ...]:
    """The kernel families a learner declaring ``families`` runs on network ``arch``:
    BP on a network with hidden units is the machine family ``"bp_machine"``."""
    hidden = bool(getattr(arch, "hidden", False))
    return tuple("bp_machine" if f == "bp" and hidden else f for f in families)


def kernels(family: str, device: str = "cpu"):
    """The module implementing kernel ``family`` on ``device``."""
    check_devices(device, (family,), f"kernel family {family!r}")
    return importlib.import_module(KERNEL_FAMILIES[family][device])
