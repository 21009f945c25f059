"""`hiddenscope build` on the committed parens recipe (its --quick variant), and the CLI."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from hiddenscope.extract.cli import COMMANDS

ROOT = Path(__file__).resolve().parents[2]
DEMOS = ("parens", "code", "english")


@pytest.fixture
def parens(tmp_path) -> Path:
    folder = tmp_path / "parens"
    folder.mkdir()
    shutil.copy(ROOT / "datasets" / "parens" / "dataset.yml", folder / "dataset.yml")
    return folder


def test_quick_build_writes_a_data_set_the_store_accepts(parens):
    from hiddenscope.server.cli import main

    result = CliRunner().invoke(COMMANDS["build"], [str(parens), "--quick"])
    assert result.exit_code == 0, result.output
    assert "next: hiddenscope serve" in result.output
    committed = yaml.safe_load((ROOT / "datasets" / "parens" / "dataset.yml").read_text())
    # the build regenerates the committed dataset.yml exactly (build: section included)
    assert yaml.safe_load((parens / "dataset.yml").read_text()) == committed
    check = CliRunner().invoke(main, ["check", str(parens)])
    assert check.exit_code == 0, check.output
    assert "meta depth: categorical" in check.output

    again = CliRunner().invoke(COMMANDS["build"], [str(parens), "--quick"])
    assert again.exit_code == 0 and "already built" in again.output
    # what `hiddenscope demo` runs: the same build without the hints, since it serves next
    forced = CliRunner().invoke(
        COMMANDS["build"], [str(parens), "--quick", "--force", "--no-next-steps"]
    )
    assert forced.exit_code == 0 and "reused checkpoint.pt" in forced.output
    assert "next:" not in forced.output and "optional:" not in forced.output


def test_build_without_recipe_is_a_clear_error(tmp_path):
    (tmp_path / "dataset.yml").write_text("name: x\n")
    result = CliRunner().invoke(COMMANDS["build"], [str(tmp_path)])
    assert result.exit_code == 1 and "has no build: section" in result.output
    result = CliRunner().invoke(COMMANDS["build"], [str(tmp_path / "missing")])
    assert result.exit_code == 1 and "dataset.yml not found" in result.output


@pytest.mark.parametrize("name", DEMOS)
def test_demo_recipes_are_complete(name):
    config = yaml.safe_load((ROOT / "datasets" / name / "dataset.yml").read_text())
    recipe = config["build"]
    assert {"corpus", "model", "train", "extract", "quick"} <= set(recipe)
    assert config["name"] == name and config["description"]


def test_extract_command_on_a_saved_model(tmp_path):
    import torch

    from .conftest import VOCAB, TinyLM
    from .recipes import saved_model_args

    torch.manual_seed(0)
    model = TinyLM(len(VOCAB), hidden=8)
    args = saved_model_args(tmp_path, model, VOCAB, "a b c\n\nd e f g a\n") + ["--gates"]
    result = CliRunner().invoke(COMMANDS["extract"], args)
    assert result.exit_code == 0, result.output
    import h5py

    with h5py.File(tmp_path / "out" / "data.h5", "r") as f:
        assert f["sequences"][:].tolist() == [0, 3, 8]
        assert f["states/layer1/gate_o"].shape == (8, 8)
    (tmp_path / "corpus.txt").write_text("a zz\n")
    result = CliRunner().invoke(COMMANDS["extract"], args + ["--force"])
    assert result.exit_code == 1 and "'zz' (sequence 0) is not in the vocabulary" in result.output


def test_recipe_with_a_missing_key_is_a_clear_error(tmp_path):
    recipe = yaml.safe_load((ROOT / "datasets" / "parens" / "dataset.yml").read_text())
    del recipe["build"]["train"]["bptt"]
    (tmp_path / "dataset.yml").write_text(yaml.safe_dump(recipe))
    result = CliRunner().invoke(COMMANDS["build"], [str(tmp_path)])
    assert result.exit_code == 1 and "build.train.bptt is missing" in result.output


def test_strip_comments_that_is_not_a_boolean_is_a_clear_error(tmp_path):
    recipe = yaml.safe_load((ROOT / "datasets" / "code" / "dataset.yml").read_text())
    recipe["build"]["corpus"]["strip_comments"] = "yes please"
    (tmp_path / "dataset.yml").write_text(yaml.safe_dump(recipe))
    result = CliRunner().invoke(COMMANDS["build"], [str(tmp_path), "--quick"])
    assert result.exit_code == 1, result.output
    assert "build.corpus.strip_comments is 'yes please'; use true or false" in result.output
    assert not (tmp_path / "data.h5").exists() and not list(tmp_path.glob("checkpoint*"))
