"""``cotlens episodes``: run a model in an environment (the leaky grader) and write labelled episodes
(``cotlens.monitoring.collect``)."""

from __future__ import annotations

import argparse

from cotlens.cli.common import Command, add_config, given


def add_arguments(p: argparse.ArgumentParser) -> None:
    from cotlens.monitoring.collect import EpisodesConfig

    add_config(p, EpisodesConfig, quiet=False)


def handle(args: argparse.Namespace) -> None:
    from cotlens.monitoring.collect import EpisodesConfig, write

    cfg = EpisodesConfig(**given(args, EpisodesConfig))
    for stress, arms in write(cfg).items():
        for arm, e in arms.items():
            h = e["hacked"]
            reward = f"reward {e['reward']['value']:.3f}  " if "reward" in e else ""
            print(f"{stress:15s} {arm:8s} misbehaved {h['value']:.3f} [{h['ci'][0]:.2f}, {h['ci'][1]:.2f}]  "
                  f"{reward}n {h['n']}")
    print(f"wrote {cfg.out}")


COMMAND = Command("episodes", "run a model in an environment (leaky grader) and write labelled episodes",
                  add_arguments, handle)
