"""The extractor's sub-commands of ``hiddenscope`` (the click group lives in server/cli.py,
which loads :data:`COMMANDS` lazily, so the server runs without torch installed)."""
from __future__ import annotations

import os
from pathlib import Path

import click

from .recurrent import ExtractError


@click.command("build")
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Rebuild even if the folder already holds data.h5.")
@click.option("--quick", is_flag=True, help="Small corpus and short training (the recipe's quick: section): a smoke test.")
def build_command(folder: Path, force: bool, quick: bool) -> None:
    """Train the model of FOLDER/dataset.yml's build: recipe and extract the data set into FOLDER."""
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    from .build import build  # imports torch: only when the command runs

    try:
        done = build(folder, force=force, quick=quick, echo=click.echo)
    except ExtractError as exc:
        raise click.ClickException(str(exc)) from None
    if done is not None:
        parent = folder.resolve().parent
        click.echo(f"next: hiddenscope serve {os.path.relpath(parent)}   (opens {folder.name} in the browser)")


COMMANDS: dict[str, click.Command] = {"build": build_command}
