"""The ``wfm`` command: parses arguments, calls the public API (:mod:`wfm`), prints.

Exit codes:

* 0 — done;
* 2 — bad input: a one-line ``wfm: error: ...`` on stderr, nothing written;
* 3 — the run completed and is stored, but the learner did not reach its goal
  (training errors left, or plain BP not converged);
* 130 / 143 — stopped by SIGINT / SIGTERM after saving a checkpoint
  (``wfm run --resume F.h5`` continues);
* 1 — an unexpected error: one line and a hint; ``--debug`` shows the traceback.

Every result-printing command takes ``--json`` (one JSON object on stdout).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import traceback

import wfm

EXIT_UNSOLVED = 3


class _BadInput(Exception):
    """Argument errors, reported like ConfigError (exit 2)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        where = self.prog.removeprefix("wfm").strip()  # "run" for wfm run
        raise _BadInput(f"{where}: {message}" if where else message)


def _common(default=argparse.SUPPRESS):
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument(
        "--json", action="store_true", default=default,
        help="print one JSON object on stdout instead of text",
    )  # fmt: skip
    p.add_argument(
        "--quiet", action="store_true", default=default, help="no progress bars"
    )
    p.add_argument(
        "--debug", action="store_true", default=default,
        help="show the traceback of an unexpected error",
    )  # fmt: skip
    return p


_RUN_FLAGS = {
    "model": ("model.name", "NAME", "model: " + ", ".join(wfm.models.model_names())),
    "n": ("model.n", "N", "number of inputs N"),
    "k": ("model.k", "K", "hidden units K (committee/parity machines)"),
    "kappa": ("model.kappa", "KAPPA", "margin of the stabilities"),
    "data": ("data.kind", "KIND", "data: random, gaussian, teacher, digits, idx:PATH"),
    "alpha": ("data.alpha", "ALPHA", "load: patterns per weight"),
    "learner": (
        "learner.name",
        "NAME",
        "learner: " + ", ".join(wfm.learners.learner_names()),
    ),  # fmt: skip
    "seed": ("seed", "SEED", "root seed of every random stream"),
    "device": ("device", "DEVICE", "cpu or cuda"),
}


def _parser():
    parser = _Parser(
        prog="wfm",
        description="Statistical physics of learning: wide flat minima, BP, fBP, "
        "local entropy, replica theory.",
        parents=[_common(default=False)],
    )
    parser.add_argument("--version", action="version", version=f"wfm {wfm.__version__}")
    sub = parser.add_subparsers(
        dest="command", metavar="COMMAND", parser_class=_Parser,
        help="run 'wfm COMMAND --help' for its options",
    )  # fmt: skip
    common = [_common()]

    p = sub.add_parser(
        "run", parents=common, help="run a learner and store an .h5 run file",
        description="Run a learner on freshly generated data and store everything in "
        "one HDF5 file. Exit 3 if the learner did not reach its goal.",
    )  # fmt: skip
    p.add_argument("config", nargs="?", metavar="CONFIG.toml", help="TOML run config")
    p.add_argument(
        "--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
        help="override a config value, e.g. --set dr=0.001 (repeatable)",
    )  # fmt: skip
    p.add_argument(
        "--out", metavar="F.h5",
        help="output file (default wfm-out/<model>_<learner>_..._<spec hash>.h5)",
    )  # fmt: skip
    p.add_argument(
        "--force", action="store_true",
        help="replace an existing run file (or an interrupted run's .partial)",
    )  # fmt: skip
    p.add_argument(
        "--resume", metavar="F.h5",
        help="continue an interrupted run from its checkpoint (no other options)",
    )  # fmt: skip
    p.add_argument(
        "--checkpoint-every", type=float, default=5.0, metavar="SECONDS",
        help="save the learner state this often (default 5; also on Ctrl-C/SIGTERM)",
    )  # fmt: skip
    for flag, (key, metavar, text) in _RUN_FLAGS.items():
        p.add_argument(
            f"--{flag}", dest=f"flag_{flag}", metavar=metavar,
            help=f"{text} (same as --set {key}=...)",
        )  # fmt: skip

    p = sub.add_parser(
        "learners", parents=common,
        help="the learners, the models they support and their parameters",
    )  # fmt: skip
    p.add_argument("name", nargs="?", metavar="NAME", help="one learner (default all)")
    p.add_argument("--model", metavar="NAME", help="show the defaults for this model")

    p = sub.add_parser("show", parents=common, help="summary of a stored run file")
    p.add_argument("path", metavar="F.h5", help="run file")

    p = sub.add_parser(
        "quickstart", parents=common,
        help="end-to-end demo: fBP, local entropy of the solution, plot (~1 min)",
    )  # fmt: skip
    p.add_argument(
        "--out",
        default="wfm-out",
        metavar="DIR",
        help="output folder (default wfm-out)",
    )

    p = sub.add_parser("theory", parents=common, help="replica-theory curves")
    p.add_argument(
        "quantity", choices=["entropy", "local-entropy", "capacity"],
        metavar="QUANTITY", help="entropy, local-entropy or capacity",
    )  # fmt: skip
    p.add_argument(
        "--model", default=None, metavar="NAME",
        help="model (default perceptron-binary; perceptron-spherical for the "
        "spherical theory)",
    )  # fmt: skip
    p.add_argument("--alpha", type=float, metavar="ALPHA", help="load")
    p.add_argument(
        "--k", type=float, metavar="K",
        help="hidden units of committee-tree / parity (odd K <= 7, or inf)",
    )  # fmt: skip
    p.add_argument("--kappa", type=float, default=0.0, metavar="KAPPA", help="margin")
    p.add_argument(
        "--kind", default="typical", choices=["typical", "large-deviation", "teacher"],
        metavar="KIND",
        help="local entropy around typical solutions (Franz-Parisi), the densest "
        "regions (large-deviation), or a teacher (default typical)",
    )  # fmt: skip
    p.add_argument(
        "--distances", type=float, nargs="+", metavar="D", help="distances of the curve"
    )
    p.add_argument(
        "--name", metavar="NAME", help="group name under /theory (default from params)"
    )
    p.add_argument("--out", metavar="F.h5", help="append the result to this file")

    p = sub.add_parser(
        "local-entropy", parents=common,
        help="local entropy S(d) of a stored solution; appends /local_entropy/<name>",
    )  # fmt: skip
    p.add_argument("path", metavar="F.h5", help="complete run file")
    p.add_argument(
        "--method", default="bp", choices=["bp", "exact", "amp"], metavar="METHOD",
        help="bp (Bethe, any N), exact (enumeration, N <= ~30; ~40 on cuda) or amp "
        "(the Bethe scan in AMP form: binary perceptron, N up to 10^5); default bp",
    )  # fmt: skip
    p.add_argument(
        "--device", default="cpu", choices=["cpu", "cuda"], metavar="DEVICE",
        help="where the measure's kernels run: cpu (default) or cuda",
    )  # fmt: skip
    p.add_argument(
        "--reference", default="solution", choices=["solution", "teacher"],
        metavar="REF", help="solution (default) or teacher",
    )  # fmt: skip
    p.add_argument("--name", metavar="NAME", help="group name (default: the reference)")
    p.add_argument(
        "--distances", type=float, nargs="+", metavar="D",
        help="report S at these distances (default: the raw coupling scan)",
    )  # fmt: skip
    p.add_argument(
        "--allow-errors", action="store_true",
        help="measure a reference that has training errors (marked in the file)",
    )  # fmt: skip

    p = sub.add_parser(
        "hessian", parents=common,
        help="Hessian spectrum of a stored minimiser (Lanczos top-k, Hutchinson "
        "trace, SLQ density, exact); appends /hessian",
    )  # fmt: skip
    p.add_argument("path", metavar="F.h5", help="complete run file")
    p.add_argument(
        "--top", type=int, metavar="K",
        help="largest eigenvalues by Lanczos (default 20 when neither --trace, "
        "--density nor --exact is asked)",
    )  # fmt: skip
    p.add_argument("--trace", action="store_true", help="Hutchinson trace")
    p.add_argument("--density", action="store_true", help="SLQ spectral density")
    p.add_argument("--exact", action="store_true", help="full spectrum (eigh)")
    p.add_argument(
        "--probes", type=int, default=100, metavar="M",
        help="Rademacher probes of the trace (default 100)",
    )  # fmt: skip
    p.add_argument(
        "--loss", choices=["ce", "hinge", "mse"], metavar="LOSS",
        help="measured loss: ce (default), hinge, mse",
    )  # fmt: skip
    p.add_argument(
        "--gamma", type=float, metavar="G", help="gamma of the ce loss (default 1)"
    )
    p.add_argument(
        "--activation", choices=["tanh", "relu", "linear"], metavar="A",
        help="committee activation (default: the learner's, else tanh)",
    )  # fmt: skip
    p.add_argument(
        "--relax-binary", action="store_true",
        help="binary weights: measure the Hessian of the continuous relaxation",
    )  # fmt: skip

    p = sub.add_parser(
        "local-energy", parents=common,
        help="training-error increase under weight noise / flips; appends "
        "/local_energy",
    )  # fmt: skip
    p.add_argument("path", metavar="F.h5", help="complete run file")
    p.add_argument(
        "--sigmas", type=float, nargs="+", metavar="S",
        help="relative Gaussian noise sizes (continuous weights) or flipped "
        "fractions (binary weights); default a log grid",
    )  # fmt: skip
    p.add_argument(
        "--draws", type=int, default=100, metavar="D",
        help="noise draws per size (default 100)",
    )  # fmt: skip

    p = sub.add_parser(
        "analyze", parents=common,
        help="tables and figures across stored runs (flatness vs generalisation)",
    )  # fmt: skip
    p.add_argument("what", choices=["flatness"], metavar="WHAT", help="flatness")
    p.add_argument("paths", nargs="+", metavar="F.h5", help="run files")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder")
    p.add_argument(
        "--distance", type=float, default=0.02, metavar="D",
        help="local entropy S(d)/H2(d) at this distance (default 0.02)",
    )  # fmt: skip
    p.add_argument(
        "--sigma", type=float, metavar="S",
        help="local energy at this size (default the middle stored size)",
    )  # fmt: skip
    p.add_argument(
        "--bootstrap", type=int, default=1000, metavar="B",
        help="bootstrap resamples of the runs (default 1000)",
    )  # fmt: skip

    p = sub.add_parser("plot", parents=common, help="local-entropy curves -> image")
    p.add_argument("paths", nargs="+", metavar="F.h5", help="run or theory files")
    p.add_argument(
        "--out", required=True, metavar="FIG.png", help="output image (PNG, PDF, SVG)"
    )
    p.add_argument(
        "--d-max", type=float, default=0.5, metavar="D", help="distance axis end"
    )
    p.add_argument("--relative", action="store_true", help="plot S(d)/H2(d)")
    p.add_argument("--title", metavar="TEXT", help="figure title")

    p = sub.add_parser(
        "bench", parents=common,
        help="kernel throughput against its numpy reference, in one run",
    )  # fmt: skip
    p.add_argument(
        "kernels", nargs="*", default=["bp"], metavar="KERNEL",
        help="bp, enumerate, amp, sgd, hessian (default bp)",
    )  # fmt: skip
    p.add_argument(
        "--n", type=int, default=1001, metavar="N", help="bp, amp, sgd: inputs N"
    )
    p.add_argument(
        "--alpha", type=float, default=0.6, metavar="ALPHA", help="bp, amp, sgd: load"
    )
    p.add_argument(
        "--sweeps", type=int, default=20, metavar="S", help="bp: timed sweeps"
    )
    p.add_argument(
        "--shards", type=int, metavar="S", help="bp: shards of the parallel sweep"
    )
    p.add_argument(
        "--damping", type=float, default=0.0, metavar="D",
        help="bp: damping of the messages (fBP's default is 0.5)",
    )  # fmt: skip
    p.add_argument(
        "--repeats", type=int, default=3, metavar="R",
        help="bp: interleaved timing rounds (median and range reported)",
    )  # fmt: skip
    p.add_argument(
        "--device", default="cpu", choices=["cpu", "cuda"], metavar="DEVICE",
        help="cpu (default) or cuda: the GPU kernels against the CPU's in one run",
    )  # fmt: skip
    _sweep_parsers(sub, common)
    return parser


def _pool_options(p):
    p.add_argument(
        "--jobs", type=int, metavar="N",
        help="worker processes (default: one per core; LocalCluster workers)",
    )  # fmt: skip
    p.add_argument(
        "--timeout", type=float, metavar="SECONDS",
        help="stop a point after this long and record it failed (local pool only; "
        "its checkpoint is kept, a re-run resumes it)",
    )  # fmt: skip
    p.add_argument(
        "--scheduler", metavar="ADDRESS",
        help="tcp://HOST:8786 of a dask scheduler, or local-cluster (needs the dist "
        "extra)",
    )  # fmt: skip
    p.add_argument(
        "--connect-timeout", type=float, default=10.0, metavar="SECONDS",
        help="how long to wait for the scheduler (default 10)",
    )  # fmt: skip


def _sweep_parsers(sub, common):
    p = sub.add_parser(
        "sweep", parents=common,
        help="run a grid of configs x seeds, one run file per point",
        description="Run the Cartesian product of --grid axes and --seeds over a "
        "template config into one folder: one .h5 per point (named from its resolved "
        "spec), a manifest sweep.json, failures in failures.jsonl. A re-run skips "
        "complete points and resumes partial ones. Exit 0 when every point is "
        "complete (solved or not), 3 when some failed (recorded), 130 on Ctrl-C.",
    )  # fmt: skip
    p.add_argument(
        "config", nargs="?", metavar="CONFIG.toml",
        help="template config; may hold a [sweep] table (grid, seeds)",
    )  # fmt: skip
    p.add_argument(
        "--grid", action="append", default=[], metavar="KEY=VALUES",
        help="a grid axis: key=start:stop:step (stop included) or key=v1,v2 "
        "(repeatable)",
    )  # fmt: skip
    p.add_argument(
        "--seeds", metavar="SEEDS", help="a:b (range(a, b): 0:20 is 20 seeds) or s1,s2"
    )
    p.add_argument(
        "--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
        help="override a template value (repeatable)",
    )  # fmt: skip
    p.add_argument("--out", required=True, metavar="DIR", help="output folder")
    _pool_options(p)
    p.add_argument(
        "--transfer", default="shared", choices=["shared", "client"], metavar="HOW",
        help="with --scheduler: workers write into DIR (shared, default: a shared "
        "filesystem) or send each file back to this process (client)",
    )  # fmt: skip
    p.add_argument(
        "--checkpoint-every", type=float, default=5.0, metavar="SECONDS",
        help="checkpoint cadence of each run (default 5)",
    )  # fmt: skip

    p = sub.add_parser(
        "sweep-measure", parents=common,
        help="run a measurement over existing run files (pool or dask)",
        description="Measure every file (skipping those that hold the result "
        "already). Exit 0 when all succeed, 3 when some failed (recorded in "
        "failures.jsonl beside the files).",
    )  # fmt: skip
    p.add_argument(
        "measure", choices=["local-entropy"], metavar="MEASURE", help="local-entropy"
    )
    p.add_argument("paths", nargs="+", metavar="F.h5", help="run files")
    p.add_argument(
        "--method", default="bp", choices=["bp", "exact"], metavar="METHOD",
        help="bp or exact (default bp)",
    )  # fmt: skip
    p.add_argument(
        "--reference", default="solution", choices=["solution", "teacher"],
        metavar="REF", help="solution (default) or teacher",
    )  # fmt: skip
    p.add_argument("--name", metavar="NAME", help="group name (default: the reference)")
    p.add_argument(
        "--distances", type=float, nargs="+", metavar="D",
        help="report S at these distances (default: the raw coupling scan)",
    )  # fmt: skip
    p.add_argument(
        "--allow-errors", action="store_true",
        help="measure references with training errors (marked)",
    )  # fmt: skip
    _pool_options(p)

    p = sub.add_parser(
        "table", parents=common,
        help="one table of the runs of a folder (filters, groups, aggregates)",
        description="Collect the resolved specs and the solution, trace and "
        "measurement attributes of every run file of DIR (attributes only).",
    )  # fmt: skip
    p.add_argument("path", metavar="DIR", help="results folder")
    p.add_argument("--csv", metavar="F.csv", help="write the table as CSV")
    p.add_argument(
        "--where", action="append", default=[], metavar="EXPR",
        help="filter, e.g. 'alpha>=0.6 and n==1001' (repeatable; no code is run)",
    )  # fmt: skip
    p.add_argument(
        "--group-by", metavar="COLS", help="group by these columns, e.g. alpha,n"
    )
    p.add_argument(
        "--agg", metavar="AGGS",
        help="aggregates per group: count, solved, success_rate, wilson_low, "
        "wilson_high, FUNC(col) with FUNC mean|median|min|max|sum|std|sem "
        "(default count,success_rate)",
    )  # fmt: skip
    p.add_argument("--columns", metavar="COLS", help="columns of the ungrouped table")


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
    print(json.dumps(_jsonable(result)) if args.json else text, flush=True)


# ------------------------------------------------------------------- commands
def _cmd_run(args):
    if args.checkpoint_every <= 0:
        raise wfm.ConfigError(
            f"--checkpoint-every must be > 0, got {args.checkpoint_every}"
        )
    command_line = "wfm " + " ".join(args.argv)
    if args.resume:
        given = [f for f in _RUN_FLAGS if getattr(args, f"flag_{f}") is not None]
        if args.config or args.overrides or given or args.out or args.force:
            raise wfm.ConfigError(
                "--resume takes no config, --set, --out, --force or model/data/learner "
                "options: the run continues with its stored spec"
            )
        stored = wfm.resume(
            args.resume, progress=not args.quiet,
            checkpoint_seconds=args.checkpoint_every,
        )  # fmt: skip
    else:
        flags = [
            f"{key}={getattr(args, f'flag_{flag}')}"
            for flag, (key, _, _) in _RUN_FLAGS.items()
            if getattr(args, f"flag_{flag}") is not None
        ]
        spec = wfm.load_spec(args.config, flags + args.overrides)
        stored = wfm.run(
            spec, out=args.out, force=args.force, progress=not args.quiet,
            checkpoint_seconds=args.checkpoint_every, command_line=command_line,
        )  # fmt: skip
    summary = stored.summary()
    _emit(args, summary, _format_result(summary))
    return 0 if stored.solved else EXIT_UNSOLVED


def _format_result(s: dict) -> str:
    cfg, sol = s["config"], s["solution"]
    solved = sol.get("solved", sol.get("train_errors") == 0)
    goal = sol.get("goal", "solution")
    verdict = (
        "solved"
        if solved
        else ("NOT SOLVED" if goal == "solution" else "NOT CONVERGED")
    )
    lines = [
        f"{verdict}: {cfg['learner']['name']} on {cfg['model']['name']} "
        f"N={cfg['model']['n']} alpha={cfg['data']['alpha']:g} seed={cfg['seed']}",
        f"  training errors {sol['train_errors']}, converged {sol['converged']}, "
        f"iterations {sol['iterations']}, wall time {sol['wall_time_s']:.2f} s",
        f"  stored in {s['path']}",
    ]
    if not solved:
        lines.append(
            "  the learner did not reach its goal (exit status 3); the run is stored "
            "and marked solved = false"
        )
    return "\n".join(lines)


def _format_show(s: dict) -> str:
    def block(title, d, indent="  "):
        return [title] + [f"{indent}{k} = {v}" for k, v in d.items()]

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


def _cmd_learners(args):
    table = wfm.describe_learners(args.name, args.model)
    lines = []
    for entry in table:
        lines.append(f"{entry['name']}: {entry['description']}")
        lines.append(f"  goal {entry['goal']}; models: {', '.join(entry['models'])}")
        for p in entry["params"]:
            rule = f", {p['constraint']}" if p["constraint"] else ""
            lines.append(
                f"  {p['name']} = {p['default']!r} ({p['type']}{rule}): {p['doc']}"
            )
    _emit(args, {"learners": table}, "\n".join(lines))


def _cmd_show(args):
    summary = wfm.show(args.path)
    _emit(args, summary, _format_show(summary))


def _cmd_quickstart(args):
    r = wfm.quickstart(args.out, progress=not args.quiet)
    text = (
        f"wfm quickstart: focusing BP on a random binary perceptron\n"
        f"  N = {r['n']}, alpha = {r['alpha']:g} (P = {r['n_patterns']}), "
        f"seed = {r['seed']}\n"
        f"  iterations = {r['iterations']}, training errors = {r['train_errors']}, "
        f"wall time = {r['wall_time_s']:.2f} s\n"
        f"  run file: {r['path']}   (inspect with: wfm show {r['path']})\n"
        f"  local entropy of the solution: /local_entropy/solution, "
        f"S(d)/H2(d) = {r['ratio_d0.01']:.2f} at d = 0.01, "
        f"{r['ratio_d0.05']:.2f} at d = 0.05\n"
        f"  plot: {r['plot']}"
    )
    _emit(args, r, text)
    return 0 if r["solved"] else EXIT_UNSOLVED


def _cmd_theory(args):
    k = args.k
    if k is not None and math.isfinite(k):
        k = int(k)
    name, arrays, attrs, descriptions = wfm.theory_result(
        args.quantity, model=args.model, alpha=args.alpha, kappa=args.kappa,
        kind=args.kind, distances=args.distances, progress=not args.quiet,
        k=k,
    )  # fmt: skip
    name = args.name or name
    if args.out:
        wfm.store_theory(args.out, name, arrays, attrs, descriptions)
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
    results, texts = {}, []
    for kernel in args.kernels:
        options = {}
        if kernel in ("bp", "amp", "sgd"):
            options = {"n": args.n, "alpha": args.alpha}
        if kernel == "bp":
            options.update(sweeps=args.sweeps, shards=args.shards)
            if args.device == "cpu":
                options.update(damping=args.damping, repeats=args.repeats)
        if args.device == "cuda" and kernel == "enumerate":
            options = {}
        results[kernel], text = wfm.benchmark(kernel, device=args.device, **options)
        texts.append(text)
    _emit(args, results, "\n\n".join(texts))


def _format_local_entropy(path, group, r) -> str:
    lines = [
        f"local entropy ({r.method}) of {path}, N = {r.n}, stored under {group}",
        f"  total entropy {r.total_entropy:.6g}, consistency max|q - dphi/dlambda| "
        f"{r.consistency:.2g}, not converged {int((~r.converged).sum())}",
        f"  {'d':>10} {'S(d)':>10} {'H2(d)':>10} {'lambda':>8} {'conv':>5}",
    ]
    for d, s, h, lam, ok in zip(
        r.distance, r.local_entropy, r.upper_bound, r.coupling, r.converged,
        strict=True,
    ):  # fmt: skip
        lines.append(f"  {d:>10.5f} {s:>10.5f} {h:>10.5f} {lam:>8.4f} {ok!s:>5}")
    return "\n".join(lines)


def _cmd_local_entropy(args):
    group, r = wfm.local_entropy_of_run(
        args.path, method=args.method, reference=args.reference, name=args.name,
        distances=args.distances, progress=not args.quiet,
        allow_errors=args.allow_errors, device=args.device,
    )  # fmt: skip
    result = {"path": args.path, "group": group, "attrs": r.attrs(), **r.to_arrays()}
    _emit(args, result, _format_local_entropy(args.path, group, r))


def _cmd_hessian(args):
    top = args.top
    if top is None and not (args.trace or args.density or args.exact):
        top = 20
    group, r = wfm.hessian_of_run(
        args.path, top=top, trace=args.trace, density=args.density,
        exact=args.exact, loss=args.loss, gamma=args.gamma,
        activation=args.activation, relax_binary=args.relax_binary,
        probes=args.probes, progress=not args.quiet,
    )  # fmt: skip
    a = r["attrs"]
    result = {"path": args.path, "group": group, "attrs": a}
    lines = [
        f"Hessian of {args.path} ({a['loss']} loss, gamma {a['gamma']:g}, "
        f"{a['n_params']} parameters), stored under {group}",
        f"  loss {a['loss_value']:.6g}, gradient norm {a['grad_norm']:.3g}",
    ]
    if "top" in r:
        t = r["top"]
        result["top_eigenvalues"] = t.eigenvalues
        shown = ", ".join(f"{v:.6g}" for v in t.eigenvalues[:10])
        lines.append(
            f"  top eigenvalues ({t.matvecs} HVPs, converged {t.converged}): {shown}"
        )
    if "trace" in r:
        t = r["trace"]
        result |= {"trace": t.estimate, "trace_stderr": t.stderr}
        lines.append(f"  trace {t.estimate:.6g} ± {t.stderr:.2g} ({t.probes} probes)")
    if "density" in r:
        d = r["density"]
        result |= {"density_x": d.x, "density_y": d.density}
        lines.append(
            f"  SLQ density: {d.probes} probes x {d.steps} steps, width "
            f"{d.width:.3g}, integral {d.integral:.6f}"
        )
    if "exact" in r:
        e = r["exact"]
        result["eigenvalues"] = e.eigenvalues
        lines.append(f"  exact: top {e.top:.6g}, trace {e.trace:.6g}")
    _emit(args, result, "\n".join(lines))


def _cmd_local_energy(args):
    group, r = wfm.local_energy_of_run(
        args.path, args.sigmas, draws=args.draws, progress=not args.quiet
    )
    result = {"path": args.path, "group": group, "attrs": r.attrs(), **r.to_arrays()}
    name = "sigma" if r.mode == "gaussian" else "p"
    lines = [
        f"local energy ({r.mode}) of {args.path}, {r.draws} draws, stored under "
        f"{group}; base training error {r.base_error:.4g}",
        f"  {name:>8} {'dE':>10} {'+-':>9} {'dL':>10} {'+-':>9}",
    ]
    for s, e, se, dl, dls in zip(
        r.sigma, r.delta_error, r.delta_error_stderr, r.delta_loss,
        r.delta_loss_stderr, strict=True,
    ):  # fmt: skip
        lines.append(f"  {s:>8.4g} {e:>10.4g} {se:>9.2g} {dl:>10.4g} {dls:>9.2g}")
    _emit(args, result, "\n".join(lines))


def _cmd_analyze(args):
    r = wfm.analyze_flatness(
        args.paths, args.out, distance=args.distance, sigma=args.sigma,
        bootstrap=args.bootstrap,
    )  # fmt: skip
    lines = [f"flatness of {len(r['rows'])} runs; wrote {', '.join(r['files'])}"]
    lines.append(f"  {'x':>14} {'y':>14} {'n':>3} {'spearman':>9} {'+-boot':>7}")
    for c in r["correlations"]:
        lines.append(
            f"  {c['x']:>14} {c['y']:>14} {c['n']:>3} {c['spearman']:>9.3f} "
            f"{c['bootstrap_std']:>7.3f}"
        )
    _emit(args, r, "\n".join(lines))


def _cmd_plot(args):
    out = wfm.plot_local_entropy(
        args.paths, args.out, d_max=args.d_max, relative=args.relative,
        title=args.title,
    )  # fmt: skip
    _emit(args, {"out": str(out), "inputs": args.paths}, f"wrote {out}")


def _sweep_exit(result) -> int:
    if result.interrupted:
        return 130
    return EXIT_UNSOLVED if result.failed else 0


def _format_sweep(r: dict, what="sweep") -> str:
    lines = [
        f"{what}: {r['points']} points in {r['out']}: {r['skipped']} complete before, "
        f"{r['ran']} ran, {r['resumed']} resumed, {len(r['failed'])} failed"
        + (", interrupted (re-run to continue)" if r["interrupted"] else "")
        + f" ({r['seconds']:.1f} s)"
    ]
    if what == "sweep":
        lines.append(f"  solved: {r['solved']} of the complete points")
    for f in r["failed"][:20]:
        lines.append(f"  FAILED {f['file']}: {f['error']}")
    if len(r["failed"]) > 20:
        lines.append(f"  ... {len(r['failed']) - 20} more in failures.jsonl")
    return "\n".join(lines)


def _pool_kwargs(args):
    return {
        "jobs": args.jobs, "timeout": args.timeout, "scheduler": args.scheduler,
        "connect_timeout": args.connect_timeout, "progress": not args.quiet,
    }  # fmt: skip


def _cmd_sweep(args):
    plan = wfm.load_sweep(args.config, args.grid, args.seeds, args.overrides)
    result = wfm.run_sweep(
        plan, args.out, transfer=args.transfer,
        checkpoint_seconds=args.checkpoint_every, **_pool_kwargs(args),
    )  # fmt: skip
    _emit(args, result.to_dict(), _format_sweep(result.to_dict()))
    return _sweep_exit(result)


def _cmd_sweep_measure(args):
    options = {"method": args.method, "reference": args.reference}
    if args.name:
        options["name"] = args.name
    if args.distances:
        options["distances"] = args.distances
    if args.allow_errors:
        options["allow_errors"] = True
    result = wfm.sweep_measure(
        args.measure, args.paths, options=options, **_pool_kwargs(args)
    )
    _emit(args, result.to_dict(), _format_sweep(result.to_dict(), args.measure))
    return _sweep_exit(result)


def _format_table(rows) -> str:
    if not rows:
        return "(no runs)"
    cols = list(rows[0])

    def cell(v):
        if isinstance(v, float):
            return f"{v:.4g}"
        return "-" if v is None else str(v)

    cells = [[cell(r.get(c)) for c in cols] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(cols)]
    lines = ["  ".join(c.rjust(w) for c, w in zip(cols, widths, strict=True))]
    lines += [
        "  ".join(v.rjust(w) for v, w in zip(row, widths, strict=True)) for row in cells
    ]
    return "\n".join(lines)


def _cmd_table(args):
    if args.csv and args.json:
        raise wfm.ConfigError("use one of --csv and --json")
    rows = wfm.table(
        args.path, where=args.where, group_by=args.group_by, agg=args.agg,
        columns=args.columns,
    )  # fmt: skip
    if args.csv:
        import csv

        cols = list(rows[0]) if rows else []
        with open(args.csv, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=cols)
            writer.writeheader()
            writer.writerows(rows)
        print(f"wrote {len(rows)} rows to {args.csv}", flush=True)
        return 0
    _emit(args, {"rows": rows}, _format_table(rows))


_COMMANDS = {
    "run": _cmd_run,
    "learners": _cmd_learners,
    "show": _cmd_show,
    "quickstart": _cmd_quickstart,
    "theory": _cmd_theory,
    "bench": _cmd_bench,
    "local-entropy": _cmd_local_entropy,
    "hessian": _cmd_hessian,
    "local-energy": _cmd_local_energy,
    "analyze": _cmd_analyze,
    "plot": _cmd_plot,
    "sweep": _cmd_sweep,
    "sweep-measure": _cmd_sweep_measure,
    "table": _cmd_table,
}

#: named errors that mean bad input (exit 2); anything else is unexpected (exit 1)
_BAD_INPUT = (_BadInput, wfm.ConfigError, wfm.RunFileError, wfm.CudaUnavailableError)


def _one_line(exc) -> str:
    return " ".join(str(exc).split())


def main(argv=None) -> int:
    """Entry point of the ``wfm`` command; returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    try:
        args = _parser().parse_args(argv)
        args.argv = argv
        if args.command is None:
            _parser().print_help()
            return 2
        return _COMMANDS[args.command](args) or 0
    except _BAD_INPUT as exc:
        print(f"wfm: error: {_one_line(exc)}", file=sys.stderr)
        return 2
    except wfm.RunInterrupted as exc:
        print(f"wfm: stopped by {_one_line(exc)}", file=sys.stderr)
        return 143 if "SIGTERM" in str(exc) else 130
    except KeyboardInterrupt:
        print("wfm: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # the reader of our stdout went away (e.g. `| head`): results are stored
        # already; silence the flush at exit
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except Exception as exc:  # unexpected: one line, traceback on request
        if debug:
            traceback.print_exc()
        print(
            f"wfm: unexpected error: {type(exc).__name__}: {_one_line(exc)}"
            + ("" if debug else " (run again with --debug for the traceback)"),
            file=sys.stderr,
        )
        return 1


if __name__ == "__main__":
    sys.exit(main())
