"""The extractor's sub-commands of ``hiddenscope``. setup.py declares them in the
``hiddenscope.commands`` entry-point group (with the ``extract`` extra), which the command in
server/cli.py reads, so the server never imports the extractor and runs without torch."""

from __future__ import annotations

import os
from pathlib import Path

import click

from .errors import ExtractError


@click.command("build")
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Rebuild even if the folder already holds data.h5.")
@click.option(
    "--quick",
    is_flag=True,
    help="Small corpus and short training (the recipe's quick: section): a smoke test.",
)
@click.option(
    "--preset",
    default=None,
    metavar="NAME",
    help="Overrides from the recipe's presets: section, e.g. 'full' (a longer training).",
)
@click.option(
    "--no-next-steps",
    "next_steps",
    is_flag=True,
    flag_value=False,
    default=True,
    help="Do not print the commands to run next (hiddenscope demo serves right after).",
)
def build_command(
    folder: Path, force: bool, quick: bool, preset: str | None, next_steps: bool = True
) -> None:
    """Train the model of FOLDER/dataset.yml's build: recipe; extract the data set into FOLDER."""
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    from .build import build  # imports torch: only when the command runs

    if quick and preset:
        raise click.UsageError("--quick and --preset exclude each other; give one")
    try:
        done = build(folder, force=force, quick=quick, preset=preset, echo=click.echo)
    except ExtractError as exc:
        raise click.ClickException(str(exc)) from None
    if done is not None and next_steps:
        parent = os.path.relpath(folder.resolve().parent)
        click.echo(
            f"optional: hiddenscope index {folder}   (builds the match index now; "
            "else the server builds it in the background; matches scan until then)"
        )
        click.echo(f"next: hiddenscope serve {parent}   (then open {folder.name} in the browser)")


def _read_text(path: Path, chars: bool) -> list[list[str]]:
    """One sequence per non-empty line: characters (``chars``) or whitespace-separated words."""
    lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [list(line) if chars else line.split() for line in lines]


@click.command("extract")
@click.argument("model_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("out", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--text",
    "text_file",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Corpus: one sequence per line.",
)
@click.option(
    "--vocab",
    "vocab_file",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="JSON list of the model's token strings (id = position).",
)
@click.option(
    "--chars", is_flag=True, help="Tokens are characters (default: whitespace-separated words)."
)
@click.option(
    "--unk",
    default=None,
    help="Vocabulary entry for tokens outside the vocabulary (default: an error).",
)
@click.option("--gates", is_flag=True, help="Also store the gates.")
@click.option("--no-cell", is_flag=True, help="Store h alone, not the LSTM cell state (faster).")
@click.option(
    "--top-k",
    default=5,
    show_default=True,
    type=click.IntRange(0),
    help="Next-token predictions kept (0: none).",
)
@click.option("--no-surprisal", is_flag=True, help="Do not store per-step surprisal.")
@click.option("--spacy", "with_spacy", is_flag=True, help="Add spaCy tracks (POS, tag, NER, ...).")
@click.option("--force", is_flag=True, help="Replace a data set already in OUT.")
@click.option(
    "--module",
    "module_specs",
    multiple=True,
    metavar="NAME=PATH",
    help="Store the per-step output of the submodule at dotted PATH as source NAME (repeat; "
    "layers in the order given). Replaces the recurrent modules' states; sequences run whole.",
)
@click.option(
    "--ssm-state",
    default="auto",
    show_default=True,
    type=click.Choice(["auto", "full", "channel", "none"]),
    help="With --module on a Mamba block: also store its SSM state (datasets/README.md).",
)
def extract_command(
    model_file,
    out,
    text_file,
    vocab_file,
    chars,
    unk,
    gates,
    no_cell,
    top_k,
    no_surprisal,
    with_spacy,
    force,
    module_specs,
    ssm_state,
) -> None:
    """Extract the states of MODEL_FILE (a whole module saved with torch.save(model)) over a
    text file into the data set folder OUT. Load only model files you trust (pickle)."""
    import json

    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    import torch

    from .annotate import SpacyAnnotator
    from .corpora import to_ids
    from .extractor import extract

    try:
        vocab = json.loads(vocab_file.read_text(encoding="utf-8"))
        model = torch.load(model_file, map_location="cpu", weights_only=False)
        if not isinstance(model, torch.nn.Module):
            raise ExtractError(
                f"{model_file} holds a {type(model).__name__}, not a torch.nn.Module; "
                "save the whole model with torch.save(model, path)"
            )
        ids = to_ids(_read_text(text_file, chars), vocab, unk)
        annotators = [SpacyAnnotator(joiner="" if chars else " ")] if with_spacy else []
        extract(
            model,
            ids,
            vocab,
            out,
            gates=gates,
            cell=not no_cell,
            top_k=top_k,
            surprisal=not no_surprisal,
            annotators=annotators,
            force=force,
            modules=_modules(module_specs),
            ssm_state=ssm_state,
        )
    except ExtractError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"wrote {out}\nnext: hiddenscope serve {os.path.relpath(out.resolve().parent)}")


def _modules(specs: tuple[str, ...]) -> dict[str, str] | None:
    """``("mixer0=layers.0.mixer", ...)`` -> ``{"mixer0": "layers.0.mixer"}`` (None if empty)."""
    modules: dict[str, str] = {}
    for spec in specs:
        name, _, path = spec.partition("=")
        if not name or not path or name in modules:
            raise ExtractError(
                f"--module {spec!r} must be NAME=PATH with a new NAME, e.g. "
                "--module mixer0=mamba.layers.0.mixer"
            )
        modules[name] = path
    return modules or None


COMMANDS: dict[str, click.Command] = {"build": build_command, "extract": extract_command}
