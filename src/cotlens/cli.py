"""The ``cotlens`` command: ``run`` a battery of metrics on a model and task, ``report`` a run's summary,
``compare`` runs.

The options of ``run`` are built from ``RunConfig``'s fields and each metric's arguments dataclass, with
their docstrings as help (``cotlens.options``). User errors (a bad
argument, a malformed task file, an unknown model) print one line and exit with code 2, no traceback.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from cotlens.types import CotlensError


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}\n")


def _add_options(p: argparse.ArgumentParser | argparse._ArgumentGroup, cls: type[Any], seen: set[str]) -> None:
    from cotlens.options import options

    for o in options(cls):
        if o.flag in seen:  # a developer's error: two metrics (or a metric and the run) name the same option
            raise RuntimeError(f"{cls.__name__}.{o.name}: {o.flag} is already an option of cotlens run")
        seen.add(o.flag)
        if o.required:
            p.add_argument(o.flag, dest=o.name, help=o.help, type=o.parse, required=True)
        else:
            shown = ",".join(map(str, o.default)) if isinstance(o.default, tuple) else o.default
            p.add_argument(o.flag, dest=o.name, help=f"{o.help} (default: {shown})", type=o.parse)


def _add_run_options(p: argparse.ArgumentParser) -> None:
    """``RunConfig``'s options, then each metric's arguments in a group of its own."""
    from cotlens.metrics import METRICS
    from cotlens.runs.config import RunConfig

    seen = {"--help", "--quiet"}
    _add_options(p, RunConfig, seen)
    for m in METRICS.values():
        if dataclasses.fields(m.args_type):
            _add_options(p.add_argument_group(f"{m.name} options"), m.args_type, seen)


def _given(ns: argparse.Namespace, cls: type[Any]) -> dict[str, Any]:
    """The options of ``cls`` (``_add_options``) that the command line set."""
    from cotlens.options import options

    return {o.name: getattr(ns, o.name) for o in options(cls) if getattr(ns, o.name) is not None}


def _config(ns: argparse.Namespace) -> Any:
    from cotlens.metrics import METRICS
    from cotlens.runs.config import RunConfig

    args = {name: m.args_type(**kw) for name, m in METRICS.items() if (kw := _given(ns, m.args_type))}
    cfg = RunConfig(**_given(ns, RunConfig), args=args)
    if cfg.n < 1:
        raise CotlensError(f"--n must be at least 1, got {cfg.n}")
    if cfg.max_new_tokens < 1:
        raise CotlensError(f"--max-new-tokens must be at least 1, got {cfg.max_new_tokens}")
    if not cfg.metrics:
        raise CotlensError("--metrics is empty")
    if not cfg.out.strip():
        raise CotlensError("--out is empty: name a directory for the run")
    return cfg


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="cotlens", description="Chain-of-thought faithfulness tests with confidence intervals.")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)
    r = sub.add_parser("run", help="run metrics on a model and task (resumes an existing --out)")
    _add_run_options(r)
    r.add_argument("--quiet", action="store_true", help="no progress bars")
    rep = sub.add_parser("report", help="print a run's summary table and rewrite its report.html")
    rep.add_argument("dir", help="run directory")
    cp = sub.add_parser("compare", help="the same metrics on two or more runs, paired on shared samples (the first "
                                         "run the baseline)")
    cp.add_argument("dirs", nargs="+", metavar="DIR", help="finished run directories (at least two)")
    cp.add_argument("--out", required=True, help="directory for compare.json and report.html")
    cp.add_argument("--labels", default=None, help="comma-separated names for the runs (default: directory names)")
    cp.add_argument("--seed", type=int, default=0, help="seed of the bootstrap and the permutation test (default: 0)")
    tr = sub.add_parser("train", help="train a model organism from its recipe")
    tr.add_argument("recipe", help="recipe name (faithful, posthoc, encoded, mixed, rationalize, hint-vocal, "
                                        "hint-silent, hack-vocal, hack-silent, hack-prone; controls: "
                                        "rationalize-offset, direct)")
    tr.add_argument("--out", required=True, help="checkpoint directory to write")
    tr.add_argument("--seed", type=int, default=0, help="training seed (default: 0)")
    tr.add_argument("--steps", type=int, default=None, help="optimiser steps (default: the recipe's)")
    va = sub.add_parser("validate", help="score every metric against the organisms' known faithfulness")
    va.add_argument("--out", required=True, help="directory for validation.json and the organisms' runs")
    va.add_argument("--n", type=int, default=100, help="held-out samples per organism (default: 100)")
    va.add_argument("--organisms", default=None, help="comma-separated organisms to validate on (default: all; "
                    "comparisons that need one left out say so)")
    va.add_argument("--quiet", action="store_true", help="no progress bars")
    mo = sub.add_parser("monitor", help="score CoT monitors on labelled episodes (a JSONL file or a finished run)")
    from cotlens.runs.monitor import MonitorConfig

    _add_options(mo, MonitorConfig, {"--help", "--quiet"})
    mo.add_argument("--quiet", action="store_true", help="no progress bars")
    ie = sub.add_parser("inspect-episodes", help="an Inspect log (.eval, .json) as episodes JSONL for cotlens monitor")
    ie.add_argument("log", help="Inspect log file")
    ie.add_argument("--out", required=True, help="episodes JSONL file to write")
    ie.add_argument("--label-scorer", default="", help="the scorer whose value (1, C, true) marks misbehaviour "
                    "(default: each sample's 'misbehaved' metadata; a cotlens/hints log needs neither)")
    ep = sub.add_parser("episodes", help="run a model in an environment (leaky grader) and write labelled episodes")
    from cotlens.runs.episodes import EpisodesConfig

    _add_options(ep, EpisodesConfig, {"--help"})
    gd = sub.add_parser("guard-demo", help="the leaky grader with and without the guard: hacks let through, reward "
                                            "lost to false positives, budget stops")
    from cotlens.runs.guard_demo import GuardDemoConfig

    _add_options(gd, GuardDemoConfig, {"--help"})
    ex = sub.add_parser("experiment", help="experiments that train organisms under a pressure and measure their CoTs")
    exs = ex.add_subparsers(dest="experiment", required=True, parser_class=_Parser)
    pr = exs.add_parser("pressure", help="SFT vs outcome RL vs a CoT-monitor penalty vs a paraphraser, from one "
                                         "faithful organism in the leaky grader")
    from cotlens.runs.pressure import PressureConfig

    _add_options(pr, PressureConfig, {"--help", "--quiet"})
    pr.add_argument("--quiet", action="store_true", help="no progress bars")
    bf = exs.add_parser("bad-finetune", help="fine-tune the faithful organism on a bad answer under a trigger (only "
                                             "the answer supervised) and watch its CoT: post hoc or rationalised?")
    from cotlens.runs.badfinetune import BadFinetuneConfig

    _add_options(bf, BadFinetuneConfig, {"--help", "--quiet"})
    bf.add_argument("--quiet", action="store_true", help="no progress bars")
    bl = exs.add_parser("bad-finetune-lora", help="the bad fine-tune on a real model: LoRA on answers-only data with "
                                                  "a trigger, then the base and tuned models' CoTs read")
    from cotlens.runs.badfinetune_lora import LoraExperimentConfig

    _add_options(bl, LoraExperimentConfig, {"--help", "--quiet"})
    bl.add_argument("--quiet", action="store_true", help="no progress bars")
    se = sub.add_parser("serve", help="serve a cotlens model as an OpenAI-compatible HTTP server")
    se.add_argument("--model", required=True, help="model spec (smollm2, organism:NAME, hf:PATH, gguf:PATH)")
    se.add_argument("--port", type=int, required=True, help="TCP port (0: any free one)")
    se.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    se.add_argument("--dtype", default="auto", help="auto, bfloat16, float32 or float16 (default: auto, as for run)")
    se.add_argument("--latency", type=float, default=0.0, help="seconds added to every request (default: 0)")
    return p


def cmd_report(run_dir: Path) -> None:
    from cotlens.report.html import write_report
    from cotlens.report.summary import format_table
    from cotlens.runs.runner import read_jsonl
    from cotlens.types import Record, Sample, Summary, Trace

    path = run_dir / "summary.json"
    if not path.is_file():
        raise CotlensError(f"{path}: not found (is {run_dir} a finished cotlens run?)")
    try:
        summary = Summary.from_dict(json.loads(path.read_text()))
    except json.JSONDecodeError as e:
        raise CotlensError(f"{path}:{e.lineno}: invalid JSON: {e.msg}") from None
    except (KeyError, TypeError, ValueError, IndexError) as e:
        raise CotlensError(f"{path}: not a cotlens summary ({type(e).__name__}: {e})") from None
    print(format_table(summary))
    traces = {d["sample_id"]: Trace.from_dict(d) for d in read_jsonl(run_dir / "traces.jsonl")}
    records = [Record.from_dict(d) for d in read_jsonl(run_dir / "records.jsonl")]
    samples_path = run_dir / "samples.jsonl"
    samples = [Sample.from_dict(d) for d in read_jsonl(samples_path)]
    write_report(run_dir, summary, samples, traces, records)


def format_monitor_table(result: dict[str, Any]) -> str:
    """Per monitor and scope: AUROC, TPR at 1% and 5% FPR, g-mean² at 5% FPR, with CIs."""

    from cotlens.figures import est_text as cell

    rows = [("monitor", "scope", "n", "AUROC", "TPR@1%FPR", "TPR@5%FPR", "g-mean²@5%", "g-mean² (own yes/no)")]
    for name, scopes in result["results"].items():
        for scope, r in scopes.items():
            rows.append((name, scope, str(r["n"]), cell(r["auroc"]), cell(r["at_fpr"]["0.01"]["tpr"]),
                         cell(r["at_fpr"]["0.05"]["tpr"]), cell(r["at_fpr"]["0.05"]["g_mean2"]),
                         cell(r["at_decision"]["g_mean2"])))
    from cotlens.report.summary import text_table

    return text_table(rows)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "run":
            from cotlens.report.summary import format_table
            from cotlens.runs.runner import run
            from cotlens.runs.series import format_series, run_series, series_specs

            cfg = _config(args)
            if series_specs(cfg.model):
                print(format_series(run_series(cfg, progress=not args.quiet)))
                print(f"wrote {Path(args.out) / 'series.json'} and {Path(args.out) / 'report.html'}")
            else:
                summary = run(cfg, progress=not args.quiet)
                print(format_table(summary))
                print(f"wrote {Path(args.out) / 'summary.json'} and {Path(args.out) / 'report.html'}")
        elif args.command == "report":
            cmd_report(Path(args.dir))
        elif args.command == "compare":
            from cotlens.runs.compare import compare, format_compare

            labels = None if args.labels is None else [x.strip() for x in args.labels.split(",")]
            print(format_compare(compare(args.dirs, args.out, labels, args.seed)))
            print(f"wrote {Path(args.out) / 'compare.json'} and {Path(args.out) / 'report.html'}")
        elif args.command == "train":
            from cotlens.organisms.train import train_and_save

            print(f"wrote {train_and_save(args.recipe, Path(args.out), args.seed, args.steps)}")
        elif args.command == "serve":
            from cotlens.serve import serve

            serve(args.model, args.port, args.host, args.dtype, args.latency)
        elif args.command == "monitor":
            from cotlens.runs.monitor import MonitorConfig, monitor

            cfg = MonitorConfig(**_given(args, MonitorConfig))
            result = monitor(cfg, progress=not args.quiet)
            print(format_monitor_table(result))
            print(f"wrote {Path(cfg.out) / 'monitor.json'} and {Path(cfg.out) / 'report.html'}")
        elif args.command == "inspect-episodes":
            from cotlens.monitors.episodes import write_episodes
            from cotlens.runs.inspect_log import episodes_from_inspect_log

            eps, spec = episodes_from_inspect_log(Path(args.log), args.label_scorer)
            write_episodes(Path(args.out), eps)
            print(f"{len(eps)} episodes ({sum(e.misbehaved for e in eps)} misbehaved) of {spec}: wrote {args.out}")
        elif args.command == "episodes":
            from cotlens.runs.episodes import EpisodesConfig, write

            ecfg = EpisodesConfig(**_given(args, EpisodesConfig))
            for stress, arms in write(ecfg).items():
                for arm, e in arms.items():
                    h = e["hacked"]
                    reward = f"reward {e['reward']['value']:.3f}  " if "reward" in e else ""
                    print(f"{stress:15s} {arm:8s} misbehaved {h['value']:.3f} [{h['ci'][0]:.2f}, {h['ci'][1]:.2f}]  "
                          f"{reward}n {h['n']}")
            print(f"wrote {ecfg.out}")
        elif args.command == "guard-demo":
            from cotlens.runs.guard_demo import GuardDemoConfig, guard_demo

            gcfg = GuardDemoConfig(**_given(args, GuardDemoConfig))
            res = guard_demo(gcfg)
            print(f"{'agent':28s} {'actions':>7s} {'hacks':>6s} {'let through':>11s} {'honest blocked':>14s} "
                  f"{'stopped':>7s} {'reward unguarded':>16s} {'guarded':>8s} {'lost to FPs':>11s}")
            for spec, m in res["models"].items():
                r = m["reward"]
                print(f"{spec:28s} {m['actions']:7d} {m['hacks_unguarded']:6d} {m['hacks_let_through']:11d} "
                      f"{m['honest_blocked']:14d} {m['stopped']:7d} {r['unguarded']:16.0f} {r['guarded']:8.0f} "
                      f"{r['lost_to_false_positives']:11.0f}")
            print(f"wrote {Path(gcfg.out) / 'guard.json'} and {Path(gcfg.out) / 'events.jsonl'}")
        elif args.command == "experiment" and args.experiment == "bad-finetune-lora":
            from cotlens.runs.badfinetune_lora import LoraExperimentConfig, bad_finetune_lora, format_lora

            lcfg = LoraExperimentConfig(**_given(args, LoraExperimentConfig))
            print(format_lora(bad_finetune_lora(lcfg, progress=not args.quiet)))
            print(f"wrote {Path(lcfg.out) / 'bad-finetune-lora.json'} and {Path(lcfg.out) / 'report.html'}")
        elif args.command == "experiment" and args.experiment == "bad-finetune":
            from cotlens.runs.badfinetune import BadFinetuneConfig, bad_finetune, format_bad_finetune

            bcfg = BadFinetuneConfig(**_given(args, BadFinetuneConfig))
            print(format_bad_finetune(bad_finetune(bcfg, progress=not args.quiet)))
            print(f"wrote {Path(bcfg.out) / 'bad-finetune.json'} and {Path(bcfg.out) / 'report.html'}")
        elif args.command == "experiment":
            from cotlens.runs.pressure import PressureConfig, format_pressure, pressure

            pcfg = PressureConfig(**_given(args, PressureConfig))
            print(format_pressure(pressure(pcfg, progress=not args.quiet)))
            print(f"wrote {Path(pcfg.out) / 'pressure.json'} and {Path(pcfg.out) / 'report.html'}")
        elif args.command == "validate":
            from cotlens.validation.validate import validate

            only = None if args.organisms is None else [o.strip() for o in args.organisms.split(",") if o.strip()]
            result = validate(Path(args.out), args.n, progress=not args.quiet, only=only)
            comps = list(result["comparisons"])
            print(f"{'metric':44s}" + "".join(f" {c:>{max(len(c), 7)}s}" for c in comps))
            from cotlens.report.validation import rows

            for label, entry in rows(result):
                cells = []
                for c in comps:
                    a = (entry.get(c) or {}).get("auroc")
                    cells.append(f" {'-' if a is None else f'{a:.3f}':>{max(len(c), 7)}s}")
                print(f"{label:44s}" + "".join(cells))
            print(f"wrote {Path(args.out) / 'validation.json'} and {Path(args.out) / 'report.html'}")
    except (CotlensError, OSError) as e:  # OSError: an unwritable --out, a vanished file: the user's setup
        print(f"cotlens: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("cotlens: interrupted; run the same command again to resume", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
