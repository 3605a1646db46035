"""``cotlens monitor``: CoT monitors scored on labelled episodes (a JSONL file, a finished run or an Inspect log;
``cotlens.monitoring.monitor``)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from cotlens.cli.common import Command, add_config, given

if TYPE_CHECKING:
    from cotlens.monitoring.result import MonitorResult


def add_arguments(p: argparse.ArgumentParser) -> None:
    from cotlens.monitoring.monitor import MonitorConfig

    add_config(p, MonitorConfig, quiet=True)


def format_monitor_table(result: MonitorResult) -> str:
    """Per monitor and scope: AUROC, TPR at 1% and 5% FPR, g-mean² at 5% FPR, with CIs."""
    from cotlens.figures import est_text as cell
    from cotlens.report.table import text_table

    rows = [("monitor", "scope", "n", "flagged", "AUROC", "TPR@1%FPR", "TPR@5%FPR", "g-mean²@5%",
             "g-mean² (own yes/no)")]
    for name, scopes in result.results.items():
        for scope, r in scopes.items():
            rows.append((name, scope, str(r.n), cell(r.flagged), cell(r.auroc), cell(r.at_fpr["0.01"].tpr),
                         cell(r.at_fpr["0.05"].tpr), cell(r.at_fpr["0.05"].g_mean2),
                         cell(r.at_decision.g_mean2)))
    return text_table(rows)


def handle(args: argparse.Namespace) -> int:
    from cotlens.monitoring.monitor import MonitorConfig, monitor, over_threshold

    cfg = MonitorConfig(**given(args, MonitorConfig))
    result = monitor(cfg, progress=not args.quiet)
    print(format_monitor_table(result))
    print(f"wrote {Path(cfg.out) / 'monitor.json'} and {Path(cfg.out) / 'report.html'}")
    if cfg.fail_above is None:
        return 0
    over = over_threshold(result, cfg.fail_above)
    for line in over:
        print(f"cotlens monitor: over --fail-above: {line}", file=sys.stderr)
    return 1 if over else 0


COMMAND = Command("monitor", "score CoT monitors on labelled episodes (a JSONL file or a finished run)",
                  add_arguments, handle)
