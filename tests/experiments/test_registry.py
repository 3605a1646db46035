"""Every experiment folder is in the command table and in the import-linter contract that keeps experiments
from importing each other; each one's spec builds a parser."""

import tomllib
from pathlib import Path

import cotlens.experiments
from cotlens.cli import build_parser
from cotlens.cli.experiment import EXPERIMENTS, experiments

ROOT = Path(__file__).parents[2]


def test_every_folder_is_registered_and_independent() -> None:
    folders = sorted(p.parent.name for p in Path(cotlens.experiments.__file__).parent.glob("*/__init__.py"))
    assert folders == sorted(EXPERIMENTS)
    contracts = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
    independent = next(c["modules"] for c in contracts if c["type"] == "independence")
    assert sorted(independent) == sorted(f"cotlens.experiments.{f}" for f in folders)


def test_each_experiment_is_a_command_with_its_config_options() -> None:
    parser = build_parser()
    for name, e in experiments().items():
        ns = parser.parse_args(["experiment", name, "--out", "x"])
        assert ns.experiment == name and ns.out == "x"
        assert e.outputs and all(isinstance(f, str) for f in e.outputs)
