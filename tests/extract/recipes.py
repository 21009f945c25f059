"""The extractor's CLI driven as a person would: a committed recipe built quick (shared by the
tests of each model kind's recipe), and a saved model with its vocabulary and corpus files."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import torch
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


def saved_model_args(tmp_path: Path, model: torch.nn.Module, vocab: list, corpus: str) -> list[str]:
    """Save ``model`` (whole), ``vocab`` and ``corpus`` under ``tmp_path``; return the
    arguments of ``hiddenscope extract`` over them, writing to ``tmp_path/out``."""
    torch.save(model, tmp_path / "model.pt")
    (tmp_path / "vocab.json").write_text(json.dumps(vocab))
    (tmp_path / "corpus.txt").write_text(corpus)
    return [
        str(tmp_path / "model.pt"),
        str(tmp_path / "out"),
        "--text",
        str(tmp_path / "corpus.txt"),
        "--vocab",
        str(tmp_path / "vocab.json"),
    ]
