"""`hiddenscope build --preset NAME`: the recipe's presets merged in, its own checkpoint,
clear errors; and every key of the demo recipes documented in datasets/README.md."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from hiddenscope.extract import ExtractError
from hiddenscope.extract.build import KNOWN, read_recipe
from hiddenscope.extract.cli import COMMANDS

from .recipes import quick_build

ROOT = Path(__file__).resolve().parents[2]
DEMOS = ("parens", "code", "english")


def parens_with_preset(folder: Path, preset: dict) -> Path:
    folder.mkdir()
    config = yaml.safe_load((ROOT / "datasets" / "parens" / "dataset.yml").read_text())
    config["build"]["presets"] = {"tiny": preset}
    (folder / "dataset.yml").write_text(yaml.safe_dump(config, sort_keys=False))
    return folder


def test_preset_overrides_are_merged_into_the_recipe(tmp_path):
    folder = parens_with_preset(tmp_path / "p", {"train": {"steps": 3, "heldout": 0.25}})
    _, base = read_recipe(folder, quick=False)
    _, merged = read_recipe(folder, quick=False, preset="tiny")
    assert merged["train"] == dict(base["train"], steps=3, heldout=0.25)
    assert merged["model"] == base["model"] and merged["corpus"] == base["corpus"]
    with pytest.raises(ExtractError, match=r"preset 'nope' is not in build.presets .*has: tiny"):
        read_recipe(folder, quick=False, preset="nope")


def test_code_full_preset_is_a_one_layer_model_with_heldout_reports():
    _, full = read_recipe(ROOT / "datasets" / "code", quick=False, preset="full")
    _, default = read_recipe(ROOT / "datasets" / "code", quick=False)
    assert full["model"]["layers"] == 1 and full["train"]["heldout"] > 0
    assert full["train"]["steps"] > default["train"]["steps"]
    assert full["extract"] == default["extract"]


def test_build_with_a_preset_keeps_its_own_checkpoint(tmp_path):
    preset = {
        "corpus": {"sequences": 12, "length": 120},
        "train": {"steps": 6, "batch_size": 4, "bptt": 40, "heldout": 0.25},
        "extract": {"max_tokens": 600},
    }
    folder = parens_with_preset(tmp_path / "parens", preset)
    result = CliRunner().invoke(COMMANDS["build"], [str(folder), "--preset", "tiny"])
    assert result.exit_code == 0, result.output
    assert "held-out" in result.output and "bits/token" in result.output
    assert (folder / "checkpoint-tiny.pt").exists() and not (folder / "checkpoint.pt").exists()
    again = CliRunner().invoke(COMMANDS["build"], [str(folder), "--preset", "tiny", "--force"])
    assert again.exit_code == 0 and "reused checkpoint-tiny.pt" in again.output
    both = CliRunner().invoke(COMMANDS["build"], [str(folder), "--preset", "tiny", "--quick"])
    assert both.exit_code == 2 and "--quick and --preset exclude each other" in both.output
    missing = CliRunner().invoke(COMMANDS["build"], [str(folder), "--preset", "full"])
    assert missing.exit_code == 1 and "preset 'full' is not in build.presets" in missing.output


def build_keys(recipe: dict) -> set[str]:
    """``corpus.kind``-style keys of a build section, its quick and preset overrides too."""
    keys = set()
    overrides = [recipe.get("quick") or {}] + list((recipe.get("presets") or {}).values())
    for part in [recipe] + overrides:
        for section, values in part.items():
            if isinstance(values, dict) and section not in ("quick", "presets"):
                keys |= {f"{section}.{k}" for k in values}
    return keys


def documented_keys() -> set[str]:
    """The ``build.section.key`` names of datasets/README.md's recipe table."""
    text = (ROOT / "datasets" / "README.md").read_text(encoding="utf-8")
    table = text[text.index("| key | meaning |") :].split("\n\n")[0]
    documented = set()
    for cell in re.findall(r"^\| (.+?) \|", table, flags=re.M):
        names = re.findall(r"`([^`]+)`", cell)  # `build.train.steps`, `.batch_size`, ...
        prefix = names[0].rsplit(".", 1)[0] if names else ""
        names = [n for n in names if n.startswith(("build.", "."))]  # not `mingru` etc.
        documented |= {n if n.startswith("build.") else prefix + n for n in names}
    return documented


def test_the_loaders_known_keys_are_the_documented_ones():
    known = {f"build.{k}" for k in KNOWN["build"]}
    known |= {f"build.{s}.{k}" for s, keys in KNOWN.items() if s != "build" for k in keys}
    # the table names sections by their keys (build.corpus.kind, ...), not on their own
    assert known - {f"build.{s}" for s in ("corpus", "model", "train", "extract")} == {
        k for k in documented_keys() if k.count(".") >= 1
    }


@pytest.mark.parametrize(
    ("preset", "where", "hint"),
    [
        ({"train": {"stpes": 3}}, "build.presets.tiny.train.stpes", "did you mean 'steps'"),
        ({"trian": {"steps": 3}}, "build.presets.tiny.trian", "did you mean 'train'"),
        ({"model": {"hiden": 8}}, "build.presets.tiny.model.hiden", "did you mean 'hidden'"),
    ],
)
def test_a_misspelled_recipe_key_is_refused_by_name(tmp_path, preset, where, hint):
    folder = parens_with_preset(tmp_path / "p", preset)
    for chosen in (None, "tiny"):  # refused whether or not the preset is asked for
        with pytest.raises(ExtractError, match=rf"{re.escape(where)} is not a recipe key; {hint}"):
            read_recipe(folder, quick=False, preset=chosen)


@pytest.mark.parametrize(
    ("value", "named"),
    [
        (["full"], "build.presets must map preset names to overrides"),
        ({"tiny": ["train"]}, "build.presets.tiny must be a mapping of sections"),
        ({"tiny": {"train": 5}}, "build.presets.tiny.train must be a mapping, not 5"),
    ],
)
def test_malformed_presets_are_named(tmp_path, value, named):
    folder = parens_with_preset(tmp_path / "p", {})
    config = yaml.safe_load((folder / "dataset.yml").read_text())
    config["build"]["presets"] = value
    (folder / "dataset.yml").write_text(yaml.safe_dump(config, sort_keys=False))
    with pytest.raises(ExtractError, match=re.escape(named)):
        read_recipe(folder, quick=False)


def test_a_misspelled_key_of_the_recipe_itself_is_refused(tmp_path):
    folder = parens_with_preset(tmp_path / "p", {})
    config = yaml.safe_load((folder / "dataset.yml").read_text())
    config["build"]["extract"]["max_token"] = 10
    config["build"]["sead"] = 1
    (folder / "dataset.yml").write_text(yaml.safe_dump(config, sort_keys=False))
    with pytest.raises(ExtractError, match=r"build.sead is not a recipe key; did you mean 'seed'"):
        read_recipe(folder, quick=True)
    del config["build"]["sead"]
    (folder / "dataset.yml").write_text(yaml.safe_dump(config, sort_keys=False))
    with pytest.raises(ExtractError, match=r"build.extract.max_token is not .*'max_tokens'"):
        read_recipe(folder, quick=False)


@pytest.mark.parametrize("name", DEMOS)
def test_every_recipe_key_is_documented(name):
    documented = documented_keys()
    recipe = yaml.safe_load((ROOT / "datasets" / name / "dataset.yml").read_text())["build"]
    missing = {f"build.{k}" for k in build_keys(recipe)} - documented
    assert not missing, f"document these recipe keys in datasets/README.md: {sorted(missing)}"
    assert "build.presets" in documented and "build.quick" in documented


def test_quick_build_of_code_writes_the_in_brackets_track(tmp_path):
    folder, result = quick_build(tmp_path, "code")
    import h5py
    import numpy as np

    with h5py.File(folder / "data.h5", "r") as f:
        depth_labels = yaml.safe_load((folder / "labels" / "bracket_depth.json").read_text())
        depth = np.array([int(depth_labels[i].split()[1]) for i in f["meta/bracket_depth"][:]])
        assert (f["meta/in_brackets"][:] == (depth > 0)).all() and depth.max() > 0
        # the recipe strips comments: no comment token, and no comment-or-string track
        kinds = yaml.safe_load((folder / "labels" / "token_type.json").read_text())
        assert "STRING" in kinds and "COMMENT" not in kinds
        assert "meta/in_comment_or_string" not in f
    config = yaml.safe_load((folder / "dataset.yml").read_text())
    assert "in_comment_or_string" not in config["meta"] and "in_string" in config["meta"]
