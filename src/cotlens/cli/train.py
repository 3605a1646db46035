"""``cotlens train RECIPE --out DIR``: train a model organism from its recipe (``cotlens.organisms``)."""

from __future__ import annotations

import argparse
from pathlib import Path

from cotlens.cli.common import Command


def add_arguments(p: argparse.ArgumentParser) -> None:
    from cotlens.organisms.recipes import (
        CHOICE_RECIPES,
        CONTROLS,
        ENCODING_RECIPES,
        HACK_RECIPES,
        HINT_RECIPES,
        PRESSURE_RECIPES,
        RECIPES,
    )

    shipped = [*RECIPES, *HINT_RECIPES, *HACK_RECIPES, *PRESSURE_RECIPES, *ENCODING_RECIPES, *CHOICE_RECIPES]
    p.add_argument("recipe", help=f"recipe name ({', '.join(shipped)}; controls: {', '.join(CONTROLS)})")
    p.add_argument("--out", required=True, help="checkpoint directory to write")
    p.add_argument("--seed", type=int, default=0, help="training seed (default: 0)")
    p.add_argument("--steps", type=int, default=None, help="optimiser steps (default: the recipe's)")


def handle(args: argparse.Namespace) -> None:
    from cotlens.organisms.train import train_and_save

    print(f"wrote {train_and_save(args.recipe, Path(args.out), args.seed, args.steps)}")


COMMAND = Command("train", "train a model organism from its recipe", add_arguments, handle)
