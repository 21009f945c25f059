"""Each config error names the file, the key, the bad value and the fix."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from hiddenscope.server.store import DatasetError, check_dataset, open_dataset, parse_config


@pytest.fixture
def editable(synthetic_root, tmp_path) -> Path:
    """A private copy of the generated data set whose dataset.yml a test may change."""
    return Path(shutil.copytree(synthetic_root / "parens", tmp_path / "parens"))


def edit(folder: Path, change) -> None:
    config = yaml.safe_load((folder / "dataset.yml").read_text())
    change(config)
    (folder / "dataset.yml").write_text(yaml.safe_dump(config, sort_keys=False))


def error_text(folder: Path) -> str:
    with pytest.raises(DatasetError) as info:
        open_dataset(folder)
    return str(info.value)


CASES = {
    "unknown top key": (
        lambda c: c.update(nmae="x"),
        ["dataset.yml: nmae: unknown key", "use one of", "name"],
    ),
    "unknown type key": (
        lambda c: c["states"]["types"][0].update(transfrom="tanh"),
        ["states.types[0].transfrom: unknown key", "transform"],
    ),
    "bad transform": (
        lambda c: c["states"]["types"][1].update(transform="sigmoid"),
        ["states.types[1].transform: 'sigmoid' is not supported", "use one of tanh, none"],
    ),
    "bad direction": (
        lambda c: c["states"]["types"][0].update(direction="sideways"),
        ["states.types[0].direction: 'sideways'", "forward, backward"],
    ),
    "bad layer": (
        lambda c: c["states"]["types"][0].update(layer="first"),
        ["states.types[0].layer: expected a whole number >= 0, got 'first'"],
    ),
    "bad unsigned": (
        lambda c: c["states"]["types"][0].update(unsigned="yes"),
        ["states.types[0].unsigned: expected true or false, got 'yes'"],
    ),
    "unknown file ref": (
        lambda c: c["word_sequence"].update(file="train"),
        ["word_sequence.file: 'train' is not a name in `files`", "use one of data"],
    ),
    "dict is not a dict file": (
        lambda c: c["word_sequence"].update(dict_file="data"),
        ["word_sequence.dict_file: 'data' refers to data.h5", ".json/.dict/.txt"],
    ),
    "missing path": (
        lambda c: c["states"]["types"][0].pop("path"),
        ["states.types[0].path: missing", "required"],
    ),
    "path not in file": (
        lambda c: c["states"]["types"][0].update(path="states/layer9/cell"),
        [
            "states.types[0].path: 'states/layer9/cell' is not a dataset in data.h5",
            "it has",
            "states/layer0/cell",
        ],
    ),
    "missing file": (
        lambda c: c["files"].update(data="gone.h5"),
        ["files.data: 'gone.h5' does not exist", "check the file name"],
    ),
    "empty types": (
        lambda c: c["states"].update(types=[]),
        ["states.types: expected a non-empty list, got []", "add one entry per table"],
    ),
    "duplicate id": (
        lambda c: c["states"]["types"][1].update(id="layer0-cell"),
        ["states.types[1].id: 'layer0-cell' is used twice", "give each source its own id"],
    ),
    "bad meta type": (
        lambda c: c["meta"]["depth"].update(type="embedding"),
        ["meta.depth.type: 'embedding' is not supported", "general, wordvec"],
    ),
    "bad meta index": (
        lambda c: c["meta"]["depth"].update(index="chars"),
        ["meta.depth.index: 'chars' is not supported", "self, word_sequence"],
    ),
    "bad vis type": (
        lambda c: c["meta"]["depth"]["vis"].update(type="heatmap"),
        ["meta.depth.vis.type: 'heatmap' is not supported", "discrete, scalar, wordvec"],
    ),
    "bad vis range": (
        lambda c: c["meta"]["position"]["vis"].update(range="1...0"),
        ["meta.position.vis.range: '1...0' is not a range", "[min, max]"],
    ),
    "bad regex flag": (
        lambda c: c["etc"].update(regex_search="on"),
        ["etc.regex_search: expected true or false, got 'on'"],
    ),
    "wrong meta shape": (
        lambda c: c["meta"]["position"].update(path="meta/next/ids"),
        ["meta.position.path: 'meta/next/ids' has shape (2000, 3)", "needs [T]"],
    ),
    "comma in a track id": (
        lambda c: c["meta"].update({"a,b": c["meta"].pop("depth")}),
        ["meta.a,b: the track id 'a,b' holds a comma", "rename it"],
    ),
    "meta length": (
        lambda c: c["word_sequence"].update(sequences="meta/depth"),
        ["word_sequence.sequences: 'meta/depth'", "rising strictly from 0 to T=2000"],
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_each_config_error_names_key_value_and_fix(editable, case):
    change, expected = CASES[case]
    edit(editable, change)
    message = error_text(editable)
    assert str(editable / "dataset.yml") in message or str(editable) in message
    for part in expected:
        assert part in message, f"{part!r} not in {message!r}"


def test_yaml_syntax_error_names_the_file(editable):
    (editable / "dataset.yml").write_text("name: [unclosed\n")
    message = error_text(editable)
    assert "dataset.yml: cannot be read as YAML" in message and "fix the syntax" in message


def test_missing_config_says_what_to_write(tmp_path):
    message = error_text(tmp_path)
    assert "has no dataset.yml or lstm.yml" in message and "datasets/README.md" in message


def test_missing_data_with_build_recipe_says_how_to_build(editable):
    (editable / "data.h5").unlink()
    edit(editable, lambda c: c.update(build={"model": "lstm"}))
    assert f"build it with `hiddenscope build {editable}`" in error_text(editable)


def test_a_recipe_without_data_says_to_build_it(tmp_path):
    (tmp_path / "dataset.yml").write_text("name: english\nbuild: {seed: 0}\n")
    message = error_text(tmp_path)
    assert message == (
        f"{tmp_path / 'dataset.yml'}: holds only a `build:` recipe: the data set is "
        f"not built yet; build it with `hiddenscope build {tmp_path}`"
    )


def test_all_errors_are_reported_together(editable):
    edit(
        editable,
        lambda c: (
            c["states"]["types"][0].update(transform="x"),
            c["meta"]["depth"].update(index="y"),
        ),
    )
    dataset, problems = check_dataset(editable)
    assert dataset is None
    keys = {p.key for p in problems.errors}
    assert {"states.types[0].transform", "meta.depth.index"} <= keys


def test_lstm_yml_unknown_keys_are_warnings(tmp_path, lstmvis_folder):
    config = yaml.safe_load((lstmvis_folder / "lstm.yml").read_text())
    config["word_embedding"] = {"file": "states", "path": "embeddings"}
    config["custom_note"] = "kept by the user"
    (lstmvis_folder / "lstm.yml").write_text(yaml.safe_dump(config))
    dataset, problems = check_dataset(lstmvis_folder)
    assert dataset is not None and not problems.errors
    assert any("custom_note: unknown key" in str(w) for w in problems.warnings)


def test_defaults_follow_lstmvis(lstmvis_folder):
    config, problems = parse_config(lstmvis_folder / "lstm.yml")
    assert not problems.errors
    first = config.sources[0]
    assert (first.id, first.label, first.transform, first.direction) == (
        "states::states1",
        "layer 1 state",
        "tanh",
        "forward",
    )
    assert config.meta[2].vis_range == (0.0, 1.0)
