"""The committed recipes, built quick through the CLI as a person would (shared by the tests of
each model kind's recipe)."""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml
from click.testing import CliRunner, Result

ROOT = Path(__file__).resolve().parents[2]


def quick_build(tmp_path: Path, name: str) -> tuple[Path, Result]:
    """Copy ``datasets/<name>/dataset.yml`` into ``tmp_path/<name>`` and run ``hiddenscope
    build --quick`` there; assert it succeeds and regenerates the committed dataset.yml
    exactly. Returns the folder and the CLI result (its output is what a person reads)."""
    from hiddenscope.extract.cli import COMMANDS

    folder = tmp_path / name
    folder.mkdir()
    shutil.copy(ROOT / "datasets" / name / "dataset.yml", folder / "dataset.yml")
    result = CliRunner().invoke(COMMANDS["build"], [str(folder), "--quick"])
    assert result.exit_code == 0, result.output
    committed = yaml.safe_load((ROOT / "datasets" / name / "dataset.yml").read_text())
    assert yaml.safe_load((folder / "dataset.yml").read_text()) == committed
    return folder, result
