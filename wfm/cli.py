"""The ``wfm`` command: parses arguments, calls :mod:`wfm.api`, prints.

Exit codes: 0 ok, 2 bad input (one line ``wfm: error: ...`` on stderr), 1 unexpected.
Every result-printing command takes ``--json`` (one JSON object on stdout).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import traceback
from pathlib import Path

from wfm.errors import ConfigError, RunFileError


class _BadInput(Exception):
    """Argument errors, reported like ConfigError (exit 2)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        where = self.prog.removeprefix("wfm").strip()  # "run" for wfm run
        raise _BadInput(f"{where}: {message}" if where else message)


def _common(json_default=argparse.SUPPRESS):
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument(
        "--json",
        action="store_true",
        default=json_default,
        help="print one JSON object on stdout",
    )
    p.add_argument(
        "--quiet",
        action="store_true",
        default=json_default,
        help="no progress bar",
    )
    return p


def _parser():
    parser = _Parser(
        prog="wfm",
        description="Statistical physics of learning: wide flat minima, BP, fBP.",
        parents=[_common(json_default=False)],
    )
    from wfm import __version__

    parser.add_argument("--version", action="version", version=f"wfm {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    common = [_common()]

    p = sub.add_parser("run", parents=common, help="run a learner, store an .h5 file")
    p.add_argument("config", nargs="?", help="TOML run config")
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config value (repeatable)",
    )
    p.add_argument("--out", help="output file F.h5 (default wfm-out/...)")
    for flag, key in _RUN_FLAGS.items():
        p.add_argument(
            f"--{flag}",
            dest=f"flag_{flag.replace('-', '_')}",
            help=f"same as --set {key}=...",
        )

    p = sub.add_parser("show", parents=common, help="summary of a stored run")
    p.add_argument("path")

    p = sub.add_parser("quickstart", parents=common, help="small end-to-end fBP demo")
    p.add_argument("--out", default="wfm-out", help="output folder (default wfm-out)")

    p = sub.add_parser("theory", parents=common, help="replica-theory curves")
    p.add_argument("quantity", choices=["entropy", "local-entropy", "capacity"])
    p.add_argument("--model", default="perceptron-binary")
    p.add_argument("--alpha", type=float)
    p.add_argument("--kappa", type=float, default=0.0)
    p.add_argument(
        "--kind", default="typical", choices=["typical", "large-deviation", "teacher"]
    )
    p.add_argument("--distances", type=float, nargs="+")
    p.add_argument("--name", help="group name under /theory (default from params)")
    p.add_argument("--out", help="append the result to this .h5 file")

    p = sub.add_parser(
        "local-entropy",
        parents=common,
        help="local entropy S(d) of a stored solution; appends /local_entropy/<name>",
    )
    p.add_argument("path")
    p.add_argument("--method", default="bp", choices=["bp", "exact"])
    p.add_argument("--reference", default="solution", choices=["solution", "teacher"])
    p.add_argument("--name", help="group name (default: the reference)")
    p.add_argument("--distances", type=float, nargs="+")

    p = sub.add_parser("plot", parents=common, help="local-entropy curves -> image")
    p.add_argument("paths", nargs="+", metavar="F.h5")
    p.add_argument("--out", required=True, help="output image (PNG, PDF, SVG)")
    p.add_argument("--d-max", type=float, default=0.5, help="distance axis end")
    p.add_argument("--relative", action="store_true", help="plot S(d)/H2(d)")
    p.add_argument("--title")

    p = sub.add_parser("bench", parents=common, help="kernel throughput")
    p.add_argument(
        "kernels",
        nargs="*",
        default=["bp"],
        metavar="KERNEL",
        help="bp, enumerate (default bp)",
    )
    p.add_argument("--n", type=int, default=1001)
    p.add_argument("--alpha", type=float, default=0.6)
    p.add_argument("--sweeps", type=int, default=20)
    p.add_argument("--shards", type=int)
    return parser


_RUN_FLAGS = {
    "model": "model.name",
    "n": "model.n",
    "k": "model.k",
    "kappa": "model.kappa",
    "data": "data.kind",
    "alpha": "data.alpha",
    "learner": "learner.name",
    "seed": "seed",
    "device": "device",
}


def _jsonable(obj):
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if hasattr(obj, "tolist"):
        return _jsonable(obj.tolist())
    if isinstance(obj, float) and not math.isfinite(obj):
        return str(obj)  # strict JSON has no inf/nan
    return obj


def _emit(args, result: dict, text: str):
    if args.json:
        print(json.dumps(_jsonable(result)))
    else:
        print(text)


# ------------------------------------------------------------------- commands
def _cmd_run(args):
    from wfm.api import run
    from wfm.config import RunSpec, apply_overrides, load_toml

    config = load_toml(args.config) if args.config else {}
    flags = [
        (key, getattr(args, f"flag_{flag.replace('-', '_')}"))
        for flag, key in _RUN_FLAGS.items()
    ]
    overrides = [f"{k}={v}" for k, v in flags if v is not None] + args.overrides
    spec = RunSpec.from_dict(apply_overrides(config, overrides))
    out = Path(args.out) if args.out else None
    stored = run(spec, out=out, progress=not args.quiet, quiet=True)
    summary = stored.summary()
    _emit(args, summary, _format_result(summary))


def _format_result(s: dict) -> str:
    cfg, sol = s["config"], s["solution"]
    lines = [
        f"{cfg['learner']['name']} on {cfg['model']['name']} N={cfg['model']['n']} "
        f"alpha={cfg['data']['alpha']:g} seed={cfg['seed']}",
        f"  training errors {sol['train_errors']}, converged {sol['converged']}, "
        f"iterations {sol['iterations']}, wall time {sol['wall_time_s']:.2f} s",
        f"  stored in {s['path']}",
    ]
    return "\n".join(lines)


def _format_show(s: dict) -> str:
    def block(title, d, indent="  "):
        out = [title]
        for k, v in d.items():
            out.append(f"{indent}{k} = {v}")
        return out

    lines = [
        f"{s['path']}  (format_version {s['format_version']}, status {s['status']})"
    ]
    cfg = s["config"]
    if cfg is not None:
        lines.append("config:")
        lines.append(f"  seed = {cfg['seed']}, device = {cfg['device']}")
        for section in ("model", "data", "learner"):
            items = ", ".join(f"{k}={v}" for k, v in cfg[section].items())
            lines.append(f"  [{section}] {items}")
    lines += block("provenance:", s["provenance"])
    if "data" in s:
        lines += block("data:", s["data"])
    if "solution" in s:
        lines += block("solution:", s["solution"])
    tr = s["trace"]
    lines.append(f"trace: {tr['length']} records; keys: {', '.join(tr['keys']) or '-'}")
    if tr.get("last"):
        last = ", ".join(f"{k}={v:.6g}" for k, v in tr["last"].items())
        lines.append(f"  last: {last}")
    for name, g in s["groups"].items():
        arrays = ", ".join(f"{k}{tuple(v)}" for k, v in g["arrays"].items())
        lines.append(f"{name}: {arrays or '(no datasets)'}")
        for k, v in g["attrs"].items():
            lines.append(f"  {k} = {v}")
    return "\n".join(lines)


def _cmd_show(args):
    from wfm.store import open_run

    summary = open_run(args.path).summary()
    _emit(args, summary, _format_show(summary))


def _cmd_quickstart(args):
    from wfm.api import run
    from wfm.config import DataSpec, LearnerSpec, ModelSpec, RunSpec

    spec = RunSpec(
        model=ModelSpec("perceptron-binary", n=1001),
        data=DataSpec("random", alpha=0.6),
        learner=LearnerSpec("fbp"),
        seed=0,
    )
    path = Path(args.out) / "quickstart.h5"
    stored = run(spec, out=path, progress=not args.quiet, quiet=True)
    sol = stored.solution.attrs
    # local entropy of the solution (science.md §3): a short BP scan, then the PNG
    from wfm.measures.local_entropy import default_lambdas, local_entropy_of_run
    from wfm.plot import plot_local_entropy

    _, le = local_entropy_of_run(
        path, lambdas=default_lambdas(16, d_min=2e-3), derivative_step=0.0,
        progress=not args.quiet,
    )  # fmt: skip
    png = plot_local_entropy(path, path.with_suffix(".png"))
    result = {
        "n": spec.model.n,
        "alpha": spec.data.alpha,
        "learner": "fbp",
        "seed": spec.seed,
        "iterations": sol["iterations"],
        "train_errors": sol["train_errors"],
        "converged": sol["converged"],
        "wall_time_s": sol["wall_time_s"],
        "path": str(path),
        "plot": str(png),
        "local_entropy": {"d": le.d, "s": le.s, "converged": le.converged},
    }
    text = (
        f"wfm quickstart: focusing BP on a random binary perceptron\n"
        f"  N = {result['n']}, alpha = {result['alpha']:g} "
        f"(P = {spec.n_patterns}), seed = {spec.seed}\n"
        f"  iterations = {result['iterations']}, training errors = "
        f"{result['train_errors']}, wall time = {result['wall_time_s']:.2f} s\n"
        f"  run file: {path}   (inspect with: wfm show {path})\n"
        f"  local entropy of the solution: /local_entropy/solution, "
        f"S(d)/H2(d) = {_ratio_at(le, 0.01):.2f} at d = 0.01, "
        f"{_ratio_at(le, 0.05):.2f} at d = 0.05\n"
        f"  plot: {png}"
    )
    _emit(args, result, text)


def _ratio_at(result, d):
    """S(d)/H2(d) interpolated on a local-entropy curve (NaN outside it)."""
    r = result.at([d])
    return float(r.s[0] / r.upper_bound[0])


def _cmd_theory(args):
    from wfm.api import store_theory, theory_result

    name, arrays, attrs = theory_result(
        args.quantity,
        model=args.model,
        alpha=args.alpha,
        kappa=args.kappa,
        kind=args.kind,
        distances=args.distances,
        progress=not args.quiet,
    )
    name = args.name or name
    if args.out:
        store_theory(args.out, name, arrays, attrs)
    result = {"name": name, "attrs": attrs, "arrays": arrays}
    if args.out:
        result["path"] = args.out
    lines = [f"theory {args.quantity} ({name})"]
    lines += [f"  {k} = {v}" for k, v in attrs.items()]
    if arrays:
        keys = ["distance", "local_entropy", "upper_bound", "converged"]
        lines.append("  " + "  ".join(f"{k:>14}" for k in keys))
        for row in zip(*(arrays[k] for k in keys), strict=True):
            lines.append("  " + "  ".join(f"{float(v):>14.6g}" for v in row))
    if args.out:
        lines.append(f"  stored under /theory/{name} in {args.out}")
    _emit(args, result, "\n".join(lines))


def _cmd_bench(args):
    from wfm import bench

    results, texts = {}, []
    for kernel in args.kernels:
        if kernel not in bench.BENCHMARKS:
            raise ConfigError(
                f"bench kernel must be one of {', '.join(bench.BENCHMARKS)}; "
                f"got {kernel!r}"
            )
        if kernel == "bp":
            if args.n < 1 or args.sweeps < 1 or args.alpha <= 0:
                raise ConfigError("bench bp needs --n >= 1, --sweeps >= 1, --alpha > 0")
            r = bench.bench_bp(
                n=args.n, alpha=args.alpha, sweeps=args.sweeps, shards=args.shards
            )
            texts.append(bench.format_bp(r))
        else:
            r = bench.bench_enumerate()
            texts.append(bench.format_enumerate(r))
        results[kernel] = r
    _emit(args, results, "\n\n".join(texts))


def _format_local_entropy(path, group, r) -> str:
    lines = [
        f"local entropy ({r.method}) of {path}, N = {r.n}, stored under {group}",
        f"  total entropy {r.total_entropy:.6g}, consistency max|q - dphi/dlambda| "
        f"{r.consistency:.2g}, not converged {int((~r.converged).sum())}",
        f"  {'d':>10} {'S(d)':>10} {'H2(d)':>10} {'lambda':>8} {'conv':>5}",
    ]
    for d, s, h, lam, ok in zip(
        r.d, r.s, r.upper_bound, r.lam, r.converged, strict=True
    ):
        lines.append(f"  {d:>10.5f} {s:>10.5f} {h:>10.5f} {lam:>8.4f} {ok!s:>5}")
    return "\n".join(lines)


def _cmd_local_entropy(args):
    from wfm.measures.local_entropy import local_entropy_of_run

    group, r = local_entropy_of_run(
        args.path,
        method=args.method,
        reference=args.reference,
        name=args.name,
        distances=args.distances,
        progress=not args.quiet,
    )
    result = {"path": args.path, "group": group, "attrs": r.attrs(), **r.to_arrays()}
    _emit(args, result, _format_local_entropy(args.path, group, r))


def _cmd_plot(args):
    from wfm.plot import plot_local_entropy

    out = plot_local_entropy(
        args.paths, args.out, d_max=args.d_max, relative=args.relative,
        title=args.title,
    )  # fmt: skip
    _emit(args, {"out": str(out), "inputs": args.paths}, f"wrote {out}")


_COMMANDS = {
    "run": _cmd_run,
    "show": _cmd_show,
    "quickstart": _cmd_quickstart,
    "theory": _cmd_theory,
    "bench": _cmd_bench,
    "local-entropy": _cmd_local_entropy,
    "plot": _cmd_plot,
}


def main(argv=None) -> int:
    """Entry point of the ``wfm`` command; returns the exit code."""
    parser = _parser()
    try:
        args = parser.parse_args(argv)
        if args.command is None:
            parser.print_help()
            return 2
        _COMMANDS[args.command](args)
    except (_BadInput, ConfigError, RunFileError, ValueError) as exc:
        message = " ".join(str(exc).split())  # one line
        print(f"wfm: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("wfm: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # unexpected: show where
        traceback.print_exc()
        print(f"wfm: unexpected error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
