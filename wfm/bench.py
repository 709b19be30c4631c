"""``wfm bench``: throughput of each kernel against its numpy reference, one instance.

``bench_bp`` times :func:`wfm.kernels.bp.bp_sweep` (exact float64 kernel serial,
``shards=1`` -- the plain single-threaded loop, the baseline -- and the parallel
sharded schedule; the fast path with float64 and float32 messages, serial and sharded)
and :func:`wfm.kernels.bp.bp_sweep_reference` on the same random binary-perceptron
instance, in edge updates per second (``N P`` per sweep), compilation excluded.
"""

from __future__ import annotations

import time

import numpy as np

from wfm.backends import DEFAULT_SHARDS

__all__ = [
    "BENCHMARKS",
    "bench_amp",
    "bench_bp",
    "bench_enumerate",
    "bench_hessian",
    "bench_sgd",
]


def _instance(n, alpha, seed):
    from wfm.data import generate, signed_patterns

    rng = np.random.default_rng(seed)
    d = generate("random", alpha, n, rng)
    s = signed_patterns(d.patterns, d.labels)
    p = s.shape[0]
    # small random messages, so the sweeps do the work of a run in progress
    u0 = rng.normal(0.0, 0.1, size=(p, n))
    perm = rng.permutation(p).astype(np.int64)
    return s, u0, perm


def _sweep_timer(sweep, s, u0, perm, sweeps, dtype=np.float64, **kw):
    """A function timing ``sweeps`` sweeps of ``sweep`` (seconds per sweep), after one
    warm-up sweep (compilation); each call continues from the previous messages."""
    n = s.shape[1]
    u = u0.astype(dtype)
    t = np.tanh(u)
    U = u.astype(np.float64).sum(axis=0)
    ext = np.zeros(n)
    f = np.zeros(n)
    sweep(s, u, t, U, ext, f, perm, **kw)  # compile / warm caches

    def timed():
        t0 = time.perf_counter()
        for _ in range(sweeps):
            sweep(s, u, t, U, ext, f, perm, **kw)
        return (time.perf_counter() - t0) / sweeps

    return timed


def _time_sweeps(sweep, s, u0, perm, sweeps, **kw):
    """Seconds per sweep of ``sweep`` (one timed round of :func:`_sweep_timer`)."""
    return _sweep_timer(sweep, s, u0, perm, sweeps, **kw)()


def bench_bp(
    n=1001,
    alpha=0.6,
    sweeps=20,
    reference_sweeps=None,
    seed=0,
    shards=None,
    damping=0.0,
    repeats=3,
):
    """Edge updates per second of the BP sweep implementations.

    Implementations, all on the same instance and messages: the exact float64 kernel
    (``numba_serial``: the plain single-threaded loop, the baseline; and sharded in
    parallel), the fast path (:func:`wfm.kernels.bp.bp_sweep` with ``fast=True``)
    with float64 and float32 messages, serial and sharded, and the numpy reference.
    The implementations are timed in turn, ``repeats`` rounds, so that a busy machine
    slows them alike; each rate is the median over the rounds, with its range, and
    each speed-up over ``numba_serial`` the median of the per-round ratios.

    Parameters
    ----------
    n : int
        Number of weights.
    alpha : float
        Load; ``P = round(alpha n)``.
    sweeps : int
        Timed sweeps of each numba variant per round (after one warm-up sweep).
    reference_sweeps : int, optional
        Timed sweeps of the numpy reference per round (default ``max(1, sweeps //
        10)``).
    seed : int
    shards : int, optional
        Shards of the parallel variants (default :data:`wfm.backends.DEFAULT_SHARDS`).
    damping : float
        Damping of the messages (fBP's default is 0.5; one more exp per edge).
    repeats : int
        Rounds over all implementations.

    Returns
    -------
    dict
        ``n, p, shards, threads, damping, repeats``; per implementation
        ``edge_updates_per_s`` (median), ``edge_updates_per_s_range`` ([min, max]),
        ``seconds_per_sweep``, ``ratio_to_reference``, ``speedup_vs_numba_serial``
        (median and range of the per-round ratios); ``load_average`` (1-minute,
        before and after: how busy the machine was).
    """
    import os

    import numba

    from wfm.kernels.bp import bp_sweep, bp_sweep_reference

    if n < 1 or sweeps < 1 or not alpha > 0:
        raise ValueError("needs n >= 1, sweeps >= 1, alpha > 0")
    if not 0.0 <= damping < 1.0:
        raise ValueError(f"damping must be in [0, 1), got {damping}")
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    if shards is None:
        shards = DEFAULT_SHARDS
    if shards < 1:
        raise ValueError(f"shards must be >= 1, got {shards}")
    if reference_sweeps is None:
        reference_sweeps = max(1, sweeps // 10)
    load_before = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    s, u0, perm = _instance(n, alpha, seed)
    p = s.shape[0]
    par = f"parallel_{shards}shards"
    f32 = np.float32
    variants = {
        "numba_serial": (bp_sweep, sweeps, {"shards": 1, "parallel": False}),
        f"numba_{par}": (bp_sweep, sweeps, {"shards": shards, "parallel": True}),
        "fast64_serial": (
            bp_sweep, sweeps, {"shards": 1, "parallel": False, "fast": True}
        ),
        f"fast64_{par}": (
            bp_sweep, sweeps, {"shards": shards, "parallel": True, "fast": True}
        ),
        "fast32_serial": (
            bp_sweep, sweeps,
            {"shards": 1, "parallel": False, "fast": True, "dtype": f32},
        ),
        f"fast32_{par}": (
            bp_sweep, sweeps,
            {"shards": shards, "parallel": True, "fast": True, "dtype": f32},
        ),
        "numpy_reference": (bp_sweep_reference, reference_sweeps, {"shards": 1}),
    }  # fmt: skip
    timers = {
        name: _sweep_timer(fn, s, u0, perm, k, damping=damping, **kw)
        for name, (fn, k, kw) in variants.items()
    }
    rounds = {name: [] for name in timers}
    for _ in range(repeats):
        for name, timer in timers.items():
            rounds[name].append(timer())
    seconds = {k: float(np.median(v)) for k, v in rounds.items()}
    rates = {k: n * p / v for k, v in seconds.items()}
    ranges = {k: [n * p / max(v), n * p / min(v)] for k, v in rounds.items()}
    base = np.array(rounds["numba_serial"])
    speedup = {k: float(np.median(base / np.array(v))) for k, v in rounds.items()}
    speedup_range = {
        k: [float(np.min(base / np.array(v))), float(np.max(base / np.array(v)))]
        for k, v in rounds.items()
    }
    ref = rates["numpy_reference"]
    load_after = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    return {
        "kernel": "bp",
        "n": n,
        "p": p,
        "alpha": alpha,
        "sweeps": sweeps,
        "reference_sweeps": reference_sweeps,
        "shards": shards,
        "threads": numba.get_num_threads(),
        "damping": damping,
        "repeats": repeats,
        "cpu_count": os.cpu_count(),
        "load_average": [load_before, load_after],
        "seconds_per_sweep": seconds,
        "edge_updates_per_s": rates,
        "edge_updates_per_s_range": ranges,
        "ratio_to_reference": {k: v / ref for k, v in rates.items()},
        "speedup_vs_numba_serial": speedup,
        "speedup_vs_numba_serial_range": speedup_range,
    }


def bench_enumerate(n_inputs=14, n_patterns=4, repeats=20, seed=0):
    """Configurations per second of the exact enumeration kernel vs its reference."""
    from wfm.kernels.enumerate import _bench

    out = _bench(n_inputs=n_inputs, n_patterns=n_patterns, repeats=repeats, seed=seed)
    out["kernel"] = "enumerate"
    out["ratio_to_reference"] = (
        out["kernel_configs_per_s"] / out["reference_configs_per_s"]
    )
    return out


def format_bp(result: dict) -> str:
    """Human table of :func:`bench_bp`."""
    load = result.get("load_average") or [None, None]
    load_txt = (
        f", load average {load[0]:.1f} -> {load[1]:.1f} on {result['cpu_count']} CPUs"
        if load[0] is not None
        else ""
    )
    lines = [
        f"BP sweep, binary perceptron N={result['n']} P={result['p']} "
        f"(alpha={result['alpha']:g}), damping {result.get('damping', 0.0):g}, "
        f"{result['threads']} numba threads{load_txt}",
        f"median of {result.get('repeats', 1)} interleaved rounds [min-max]",
        f"{'implementation':<24} {'edge updates/s':>29} {'s/sweep':>8} "
        f"{'x reference':>11} {'x numba_serial':>18}",
    ]
    ranges = result.get("edge_updates_per_s_range", {})
    sp = result.get("speedup_vs_numba_serial", {})
    spr = result.get("speedup_vs_numba_serial_range", {})
    for name, rate in result["edge_updates_per_s"].items():
        lo, hi = ranges.get(name, [rate, rate])
        slo, shi = spr.get(name, [sp.get(name, 1.0)] * 2)
        lines.append(
            f"{name:<24} {rate:>9.3e} [{lo:.2e}-{hi:.2e}] "
            f"{result['seconds_per_sweep'][name]:>8.4f} "
            f"{result['ratio_to_reference'][name]:>11.1f} "
            f"{sp.get(name, float('nan')):>6.2f} [{slo:.2f}-{shi:.2f}]"
        )
    rates = result["edge_updates_per_s"]
    par = next(k for k in rates if k.startswith("numba_parallel"))
    lines.append(f"parallel / serial: {rates[par] / rates['numba_serial']:.2f}")
    return "\n".join(lines)


def format_enumerate(result: dict) -> str:
    """Human summary of :func:`bench_enumerate`."""
    return (
        f"exact enumeration, N={result['n_inputs']}: "
        f"kernel {result['kernel_configs_per_s']:.3e} configs/s, "
        f"reference {result['reference_configs_per_s']:.3e} configs/s, "
        f"ratio {result['ratio_to_reference']:.1f}"
    )


def bench_amp(n=10001, alpha=0.7, sweeps=None, shards=None, seed=0):
    """AMP iterations per second per pattern storage, numba vs the numpy reference,
    with the bytes moved against a numpy copy's bandwidth
    (:func:`wfm.kernels.amp.bench_amp`)."""
    from wfm.kernels.amp import bench_amp as _bench_amp

    if n < 1 or not alpha > 0:
        raise ValueError("needs n >= 1, alpha > 0")
    out = _bench_amp(n, alpha, seed=seed, reference=n * alpha * n * 8 < 2**31)
    out["kernel"] = "amp"
    return out


def format_amp(result: dict) -> str:
    """Human table of :func:`bench_amp`."""
    lines = [
        f"AMP iteration, binary perceptron N={result['n']} P={result['p']}, "
        f"{result['threads']} numba threads; numpy copy "
        f"{result['copy_bandwidth_GBs']:.1f} GB/s",
        f"{'storage':<22} {'dtype':<8} {'iter/s':>10} {'MB/iter':>9} {'GB/s':>7}",
    ]
    for r in result["rows"]:
        lines.append(
            f"{r['storage']:<22} {r.get('dtype', ''):<8} {r['iters_per_s']:>10.1f} "
            f"{r['bytes_per_iter'] / 1e6:>9.2f} {r['GBs']:>7.2f}"
        )
    return "\n".join(lines)


def bench_sgd(n=1000, alpha=0.4, sweeps=None, shards=None, seed=0, k=5, batch=100):
    """Examples per second of one SGD epoch on a fully connected committee (K = 5,
    batch 100): numba parallel and serial vs numpy (:func:`wfm.kernels.sgd.
    bench_sgd_epoch`); ``P = alpha K N``."""
    from wfm.kernels.sgd import bench_sgd_epoch

    if n < 1 or not alpha > 0:
        raise ValueError("needs n >= 1, alpha > 0")
    p = max(batch, int(round(alpha * k * n)))
    out = bench_sgd_epoch(n=n, k=k, batch=batch, p=p, seed=seed)
    out["kernel"] = "sgd"
    out["learners"] = _bench_gradient_learners(n, k, batch, p, seed)
    return out


#: the learners on the minibatch loop (wfm.learners.sgd.minibatch_descent)
GRADIENT_LEARNERS = ("sgd-ce", "sam", "sa-gd", "esgd", "swa", "rpgd")


def _bench_gradient_learners(n, k, batch, p, seed, epochs=2):
    """Examples/s of each gradient learner's epoch on a binary fully connected
    committee (latent weights), timed through ``wfm.learners.learn`` for ``epochs``
    epochs after a one-epoch warm-up (compilation excluded); includes the learner's
    per-epoch error count."""
    from wfm.learners import learn
    from wfm.models import get_model, model_names

    # the binary fully connected committee, found by structure (no name literals)
    model = next(
        m
        for m in model_names()
        if get_model(m).fully_connected
        and not get_model(m).parity
        and get_model(m).weight_domain == "binary"
    )
    rng = np.random.default_rng(seed)
    x = rng.choice(np.array([-1, 1], dtype=np.int8), size=(p, n))
    labels = rng.choice(np.array([-1, 1], dtype=np.int8), size=p)
    out = {}
    for name in GRADIENT_LEARNERS:
        opts = dict(model=model, k=k, seed=seed)
        learn(name, x, labels, params={"epochs": 1, "batch": batch}, **opts)
        t0 = time.perf_counter()
        learn(name, x, labels, params={"epochs": epochs, "batch": batch}, **opts)
        out[name] = epochs * p / (time.perf_counter() - t0)
    return out


def format_sgd(result: dict) -> str:
    """Human summary of :func:`bench_sgd`."""
    return (
        f"SGD epoch, committee K={result['k']} N={result['n']} P={result['p']} "
        f"batch {result['batch']}: numba parallel {result['numba_parallel']:.3g}, "
        f"serial {result['numba_serial']:.3g}, numpy {result['numpy']:.3g} "
        f"examples/s (parallel/numpy {result['speedup']:.1f}); whole learner epochs: "
        + ", ".join(f"{k} {v:.3g}" for k, v in result.get("learners", {}).items())
    )


def bench_hessian(
    n=20000, k=5, p=500, *, top=10, rounds=3, hvp_n=2000, hvp_p=2000, seed=0, **_
):
    """Hessian measures' speed: HVPs/s numba vs numpy, and a top-10 Lanczos run.

    1. Hessian-vector products per second on a fully connected tanh committee
       (``k`` units, ``hvp_n`` inputs, ``hvp_p`` ±1 patterns, ce loss), numba parallel
       and serial vs the numpy reference (:func:`wfm.kernels.hessian.bench_hvp`),
       ``rounds`` times: median, min and max.
    2. The ``top`` largest eigenvalues by Lanczos of a fully connected tanh committee
       with ``k n`` weights (default 10^5) on ``p`` patterns labelled by a ±1 teacher,
       at the teacher's weights (a zero-error point), ``rounds`` times from the
       setup of the point to converged eigenvalues: wall seconds and the CPU
       seconds of this process (all threads), and the load average before and after,
       since the machine may be shared (wall time on a busy machine overstates the
       cost; CPU seconds / threads is what an idle machine would take).
    """
    import os

    import numba

    from wfm.kernels.hessian import bench_hvp, hvp, hvp_point
    from wfm.measures.hessian import top_eigenvalues

    if min(n, k, p, top, rounds, hvp_n, hvp_p) < 1:
        raise ValueError("needs n, k, p, top, rounds, hvp_n, hvp_p >= 1")
    load_before = os.getloadavg()
    hvp_rounds = [bench_hvp(k, hvp_n, hvp_p, seed=seed + r) for r in range(rounds)]
    rates = {
        impl: [r["hvp_per_s"][impl] for r in hvp_rounds]
        for impl in ("numba_parallel", "numba_serial", "numpy")
    }
    rng = np.random.default_rng(seed)
    teacher = rng.choice(np.array([-1.0, 1.0]), size=(k, n))
    x = rng.choice(np.array([-1, 1], dtype=np.int8), size=(p, n))
    labels = np.where(np.tanh(x @ teacher.T / np.sqrt(n)).sum(axis=1) > 0, 1.0, -1.0)
    hvp_point(teacher[:, :64], x[:8, :64], labels[:8], fully_connected=True)  # compile
    times, cpu, matvecs, converged, eigs = [], [], [], [], None
    for _ in range(rounds):
        t0, c0 = time.perf_counter(), time.process_time()
        point = hvp_point(
            teacher, x, labels, fully_connected=True, activation="tanh",
            parallel=p * k * n >= 1 << 21,
        )  # fmt: skip

        def matvec(v, point=point):
            return hvp(point, v.reshape(k, n)).ravel()

        r = top_eigenvalues(
            matvec, k * n, top, tol=1e-6, rng=np.random.default_rng(seed)
        )
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
        matvecs.append(r.matvecs)
        converged.append(r.converged)
        eigs = r.eigenvalues

    def spread(values):
        return {
            "median": float(np.median(values)),
            "min": float(np.min(values)),
            "max": float(np.max(values)),
            "values": [float(v) for v in values],
        }

    return {
        "kernel": "hessian",
        "threads": numba.get_num_threads(),
        "cpus": os.cpu_count(),
        "load_average_before": list(load_before),
        "load_average_after": list(os.getloadavg()),
        "hvp": {
            "k": k,
            "n": hvp_n,
            "p": hvp_p,
            "n_params": k * hvp_n,
            "hvp_per_s": {impl: spread(v) for impl, v in rates.items()},
            "speedup_parallel_over_numpy": float(
                np.median(rates["numba_parallel"]) / np.median(rates["numpy"])
            ),
        },  # fmt: skip
        "lanczos": {
            "k": k,
            "n": n,
            "p": p,
            "n_params": k * n,
            "top": top,
            "tol": 1e-6,
            "seconds": spread(times),
            "cpu_seconds": spread(cpu),
            "matvecs": matvecs,
            "converged": converged,
            "eigenvalues": [float(v) for v in eigs],
        },  # fmt: skip
    }


def format_hessian(result: dict) -> str:
    """Human summary of :func:`bench_hessian`."""
    h, lz = result["hvp"], result["lanczos"]
    r = h["hvp_per_s"]
    s = lz["seconds"]
    return "\n".join(
        [
            f"Hessian-vector products, committee K={h['k']} N={h['n']} P={h['p']} "
            f"({h['n_params']} weights), {result['threads']} numba threads: "
            f"numba parallel {r['numba_parallel']['median']:.3g} "
            f"[{r['numba_parallel']['min']:.3g}, {r['numba_parallel']['max']:.3g}], "
            f"serial {r['numba_serial']['median']:.3g}, numpy "
            f"{r['numpy']['median']:.3g} HVP/s (parallel/numpy "
            f"{h['speedup_parallel_over_numpy']:.1f})",
            f"top-{lz['top']} Lanczos, committee with {lz['n_params']} weights, "
            f"P={lz['p']}: {s['median']:.2f} s median [{s['min']:.2f}, "
            f"{s['max']:.2f}] over {len(s['values'])} runs (CPU "
            f"{lz['cpu_seconds']['median']:.2f} s), {lz['matvecs']} HVPs, "
            f"converged {lz['converged']}",
            f"load average before/after: "
            f"{', '.join(f'{v:.2f}' for v in result['load_average_before'])} / "
            f"{', '.join(f'{v:.2f}' for v in result['load_average_after'])} "
            f"on {result['cpus']} CPUs",
        ]
    )


#: kernel -> (benchmark function, formatter of its result)
BENCHMARKS = {
    "bp": (bench_bp, format_bp),
    "enumerate": (bench_enumerate, format_enumerate),
    "amp": (bench_amp, format_amp),
    "sgd": (bench_sgd, format_sgd),
    "hessian": (bench_hessian, format_hessian),
}


# ------------------------------------------------------------------ on the GPU
def bench_amp_cuda(n=100001, alpha=0.7, sweeps=None, shards=None, seed=0):
    """AMP iterations/s on the GPU per storage and dtype, bytes moved against the
    device's copy bandwidth, the CPU kernel in the same run
    (:func:`wfm.kernels.amp_cuda.bench_amp`)."""
    from wfm.kernels.amp_cuda import bench_amp as _bench

    if n < 1 or not alpha > 0:
        raise ValueError("needs n >= 1, alpha > 0")
    out = _bench(n, alpha, seed=seed, reference=n * alpha * n * 8 < 2**31)
    out["kernel"] = "amp"
    return out


def format_amp_cuda(result: dict) -> str:
    """Human table of :func:`bench_amp_cuda`."""
    lines = [
        f"AMP iteration on {result['gpu']}, binary perceptron N={result['n']} "
        f"P={result['p']}; device copy {result['device_copy_bandwidth_GBs']:.0f} GB/s, "
        f"host copy {result['copy_bandwidth_GBs']:.1f} GB/s",
        f"{'device':<6} {'storage':<22} {'dtype':<8} {'iter/s':>10} {'MB/iter':>9} "
        f"{'GB/s':>8}",
    ]
    for r in result["rows"]:
        lines.append(
            f"{r['device']:<6} {r['storage']:<22} {r.get('dtype', ''):<8} "
            f"{r['iters_per_s']:>10.1f} {r['bytes_per_iter'] / 1e6:>9.2f} "
            f"{r['GBs']:>8.2f}"
        )
    return "\n".join(lines)


def bench_bp_cuda(n=10001, alpha=0.6, sweeps=20, shards=None, seed=0):
    """Edge updates/s of the GPU BP sweep (parallel schedule) against the CPU sweep
    with the same schedule (``shards = P``) and with 2 shards, in one run."""
    from wfm.kernels import bp_cuda
    from wfm.kernels.bp import bp_sweep

    if n < 1 or sweeps < 1 or not alpha > 0:
        raise ValueError("needs n >= 1, sweeps >= 1, alpha > 0")
    s, u0, perm = _instance(n, alpha, seed)
    p = s.shape[0]
    sd, ud, td = bp_cuda.to_device_messages(s, u0, np.tanh(u0))
    U, ext, f = u0.sum(axis=0), np.zeros(n), np.zeros(n)

    def gpu_sweep():
        bp_cuda.bp_sweep(sd, ud, td, U, ext, f, perm)

    gpu_sweep()
    t0 = time.perf_counter()
    for _ in range(sweeps):
        gpu_sweep()
    seconds = {"cuda": (time.perf_counter() - t0) / sweeps}
    cpu_sweeps = max(2, sweeps // 10)
    seconds["cpu_parallel_schedule"] = _time_sweeps(
        bp_sweep, s, u0, perm, cpu_sweeps, shards=p, parallel=True
    )
    seconds[f"cpu_{DEFAULT_SHARDS}shards"] = _time_sweeps(
        bp_sweep, s, u0, perm, cpu_sweeps, shards=DEFAULT_SHARDS, parallel=True
    )
    rates = {k: n * p / v for k, v in seconds.items()}
    return {
        "kernel": "bp", "device": "cuda", "n": n, "p": p, "sweeps": sweeps,
        "seconds_per_sweep": seconds, "edge_updates_per_s": rates,
        "ratio_to_cpu": {k: v / rates[f"cpu_{DEFAULT_SHARDS}shards"]
                         for k, v in rates.items()},
    }  # fmt: skip


def format_bp_cuda(result: dict) -> str:
    lines = [f"BP sweep, binary perceptron N={result['n']} P={result['p']}"]
    for k, v in result["edge_updates_per_s"].items():
        lines.append(f"  {k:<24} {v:.3e} edge updates/s")
    return "\n".join(lines)


def bench_enumerate_cuda(n_inputs=30, n_patterns=10, repeats=3, seed=0):
    """Configurations/s of exact enumeration on the GPU and on the CPU (all
    threads), same instance, same counts (checked)."""
    from wfm.kernels import enumerate as ce
    from wfm.kernels import enumerate_cuda as ge

    rng = np.random.default_rng(seed)
    xi = rng.choice(np.array([-1, 1], np.int8), (n_patterns, n_inputs))
    lab, ref = rng.choice([-1, 1], n_patterns), rng.choice([-1, 1], n_inputs)
    out = {"kernel": "enumerate", "device": "cuda", "n_inputs": n_inputs,
           "n_patterns": n_patterns}  # fmt: skip
    counts = {}
    for name, fn, reps in (("cuda", ge.count_solutions_by_distance, repeats),
                           ("cpu", ce.count_solutions_by_distance, 1)):  # fmt: skip
        fn(xi[:, :12], lab, ref[:12])  # compile
        t0 = time.perf_counter()
        for _ in range(reps):
            counts[name] = fn(xi, lab, ref)
        out[f"{name}_configs_per_s"] = reps * 2.0**n_inputs / (time.perf_counter() - t0)
    if not np.array_equal(counts["cuda"], counts["cpu"]):
        raise RuntimeError("cuda and cpu enumeration counts differ")
    out["n_solutions"] = int(counts["cpu"].sum())
    out["ratio_to_cpu"] = out["cuda_configs_per_s"] / out["cpu_configs_per_s"]
    return out


def format_enumerate_cuda(result: dict) -> str:
    return (
        f"exact enumeration, perceptron N={result['n_inputs']} "
        f"P={result['n_patterns']}: cuda {result['cuda_configs_per_s']:.3e}, cpu "
        f"{result['cpu_configs_per_s']:.3e} configs/s (ratio "
        f"{result['ratio_to_cpu']:.1f}); {result['n_solutions']} solutions"
    )


#: kernel -> (benchmark, formatter) on the GPU (``wfm bench --device cuda``)
CUDA_BENCHMARKS = {
    "bp": (bench_bp_cuda, format_bp_cuda),
    "enumerate": (bench_enumerate_cuda, format_enumerate_cuda),
    "amp": (bench_amp_cuda, format_amp_cuda),
}
