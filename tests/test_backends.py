"""The backend seam: devices, kernel families, the CUDA refusal."""

import pytest

from wfm import backends
from wfm.errors import ConfigError, CudaUnavailableError


def test_cpu_is_always_available_and_resolves_every_family():
    assert "cpu" in backends.available_devices()
    for family in backends.KERNEL_FAMILIES:
        assert backends.kernels(family, "cpu").__name__.startswith("wfm.kernels")


def test_cuda_without_gpu_is_a_named_error(monkeypatch):
    monkeypatch.delenv("NUMBA_ENABLE_CUDASIM", raising=False)
    monkeypatch.setattr(backends, "cuda_usable", lambda: False)
    with pytest.raises(CudaUnavailableError, match="no usable CUDA GPU"):
        backends.check_devices("cuda", ("bp",), "learner 'fbp'")


def test_cuda_with_gpu_but_no_kernels_says_which_family(monkeypatch):
    monkeypatch.setattr(backends, "cuda_usable", lambda: True)
    with pytest.raises(ConfigError, match="learner 'fbp' has no cuda kernels yet"):
        backends.check_devices("cuda", ("bp_machine",), "learner 'fbp'")


def test_bp_on_machines_is_the_machine_family():
    from wfm.models import Architecture

    fams = ("bp", "sgd")
    assert backends.families_for(fams, Architecture()) == ("bp", "sgd")
    assert backends.families_for(fams, Architecture(k=3, hidden=True)) == (
        "bp_machine",
        "sgd",
    )


def test_cuda_families_resolve_to_cuda_modules(monkeypatch):
    monkeypatch.setattr(backends, "cuda_usable", lambda: True)
    for family in ("bp", "amp", "enumerate"):
        assert backends.KERNEL_FAMILIES[family]["cuda"].endswith("_cuda")


def test_unknown_device():
    with pytest.raises(ConfigError, match="device must be one of cpu, cuda"):
        backends.check_devices("tpu", (), "x")


def test_default_shards_one_home():
    assert backends.default_shards(10) == 1
    assert backends.default_shards(10_000) == backends.DEFAULT_SHARDS


@pytest.mark.parametrize("device", backends.available_devices())
def test_bp_family_present_on_each_available_device(device):
    # parametrised over the backends present: cpu here, cuda where a GPU is
    module = backends.kernels("bp", device)
    assert hasattr(module, "bp_sweep")
