"""The `hiddenscope` command: serve, check, index, demo, plus the extractor's commands.

The extractor's commands (`build`, `extract`, ...) live in `hiddenscope.extract.cli.COMMANDS`
and are imported only when asked for, so the server runs without torch or spacy.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import time
from pathlib import Path

import click

from . import __version__

EXTRACT_HINT = "install the extract extra: pip install 'hiddenscope[extract]'"
EXTRACT_NAMES = ("build", "extract")  # shown in --help even when the extra is missing
DEMO_FALLBACK = Path("build/demo")
DEMO_SIZE = {"T": 50_000, "D": 48, "layers": 2, "sequences": 20}  # written in a few seconds


def _extract_commands() -> tuple[dict[str, click.Command] | None, str | None]:
    """(COMMANDS, None), or (None, why) when the extractor or its extra is missing."""
    try:
        from hiddenscope.extract.cli import COMMANDS
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.split(".")[0] in ("torch", "spacy"):
            return None, EXTRACT_HINT
        if exc.name and exc.name.startswith("hiddenscope.extract"):
            return None, "this installation has no extractor commands yet (hiddenscope.extract.cli)"
        raise
    return COMMANDS, None


def _unavailable(name: str, why: str) -> click.Command:
    @click.command(
        name, context_settings={"ignore_unknown_options": True}, help=f"(unavailable: {why})"
    )
    @click.argument("args", nargs=-1, type=click.UNPROCESSED)
    def command(args):
        click.echo(f"hiddenscope {name}: {why}", err=True)
        sys.exit(2)

    return command


class _Group(click.Group):
    """Built-in commands first; the extractor's are looked up on demand."""

    def list_commands(self, ctx):
        commands, _ = _extract_commands()
        return sorted(set(super().list_commands(ctx)) | set(commands or EXTRACT_NAMES))

    def get_command(self, ctx, name):
        command = super().get_command(ctx, name)
        if command is not None:
            return command
        commands, why = _extract_commands()
        if commands is not None:
            return commands.get(name)
        return _unavailable(name, why) if name in EXTRACT_NAMES else None


@click.group(cls=_Group)
@click.version_option(__version__, prog_name="hiddenscope")
@click.option(
    "--log-level",
    default="info",
    show_default=True,
    type=click.Choice(["debug", "info", "warning", "error"]),
)
def main(log_level: str) -> None:
    """See what the hidden states of a recurrent network have learned."""
    logging.basicConfig(level=log_level.upper(), format="%(levelname)s %(name)s: %(message)s")


def _folders(dirs: tuple[Path, ...]) -> list[Path]:
    for d in dirs:
        if not d.is_dir():
            raise click.BadParameter(
                f"{d} is not a folder; name folders that hold data sets", param_hint="DIR"
            )
    return list(dirs)


@main.command()
@click.argument("dirs", nargs=-1, type=click.Path(path_type=Path))
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to bind.")
@click.option("--port", default=8888, show_default=True, type=click.IntRange(0, 65535))
@click.option("--regex-search", is_flag=True, help="Allow regex search on every data set.")
def serve(dirs: tuple[Path, ...], host: str, port: int, regex_search: bool) -> None:
    """Serve the API, its Swagger UI and the browser client for the data sets under DIR...

    DIR defaults to ./datasets; folders are scanned recursively.
    """
    import warnings

    import uvicorn

    # connexion imports starlette's test client at import time, which warns about httpx
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from .api import create_app

    roots = _folders(dirs or (Path("datasets"),))
    app = create_app(roots, regex_search=regex_search)
    # missing or stale match indexes are built in the background (queries scan meanwhile)
    app.handlers.workspace.start_background()
    entries = app.catalog.entries.values()
    ready = [e.id for e in entries if e.available]
    click.echo(
        f"data sets: {', '.join(ready) or 'none'}"
        + "".join(
            f"\n  unavailable: {e.id}: {e.error.splitlines()[0]}"
            for e in entries
            if not e.available
        )
    )
    click.echo(f"hiddenscope serving on http://{host}:{port}/  (API: /api/v1, docs: /api/v1/ui/)")
    uvicorn.run(app, host=host, port=port, log_level="warning")


@main.command()
@click.argument("dirs", nargs=-1, required=True, type=click.Path(path_type=Path))
def check(dirs: tuple[Path, ...]) -> None:
    """Validate the data set folders under DIR... and print a report (exit 1 on errors)."""
    from .store import check_dataset, find_folders

    folders = find_folders(_folders(dirs))
    if not folders:
        click.echo(f"no dataset.yml or lstm.yml under {', '.join(map(str, dirs))}", err=True)
        sys.exit(1)
    failed = 0
    seen: dict[str, Path] = {}
    for folder in folders:
        dataset, problems = check_dataset(folder)
        errors = [str(p) for p in problems.errors]
        if folder.name in seen:
            errors.append(
                f"{folder}: another data set folder is also named {folder.name!r} "
                f"({seen[folder.name]}); rename one (the id is the folder name)"
            )
        seen.setdefault(folder.name, folder)
        if dataset is not None:
            click.echo(
                f"ok    {folder.name} ({folder}): {dataset.length:,} steps, "
                f"{dataset.sequences:,} sequences, {len(dataset.vocab):,} vocabulary entries"
            )
            for s in dataset.sources.values():
                click.echo(
                    f"        source {s.id}: {s.shape[0]:,} x {s.shape[1]}, transform {s.transform}"
                    + ("" if s.direct else " (read through h5py: chunked or compressed)")
                )
            for m in dataset.meta.values():
                click.echo(f"        meta {m.id}: {m.kind}")
            dataset.close()
        if errors:
            failed += 1
            click.echo(f"ERROR {folder.name} ({folder}):")
        for line in errors:
            click.echo(f"        error: {line}")
        for w in problems.warnings:
            click.echo(f"        warning: {w}")
    click.echo(f"{len(folders) - failed} of {len(folders)} data set(s) ok")
    sys.exit(1 if failed else 0)


@main.command()
@click.argument("target", type=click.Path(path_type=Path))
@click.option("--force", is_flag=True, help="Rebuild indexes that are fresh.")
def index(target: Path, force: bool) -> None:
    """Build the match index of every source of the data set(s) at TARGET.

    TARGET is a data set folder, a folder of data sets, or a data set id under ./datasets.
    """
    from .engine import SourceEngine
    from .store import DatasetError, IndexFiles, find_folders, index_folder, open_dataset

    if not target.exists() and (Path("datasets") / target.name).is_dir():
        target = Path("datasets") / target.name
    try:
        folders = find_folders(_folders((target,)))
        datasets = [open_dataset(f) for f in folders]
    except DatasetError as exc:
        raise click.ClickException(str(exc)) from exc
    if not datasets:
        raise click.ClickException(f"no dataset.yml or lstm.yml under {target}")
    for ds in datasets:
        for src in ds.sources.values():
            folder = index_folder(ds.folder, ds.id, src.id)
            engine = SourceEngine(src, IndexFiles(folder, src))
            state = engine.index_state()
            if state == "fresh" and not force:
                click.echo(f"{ds.id} / {src.id}: index is fresh")
                continue
            began = time.perf_counter()
            engine.build_index()
            click.echo(
                f"{ds.id} / {src.id}: index built ({state} before) in "
                f"{time.perf_counter() - began:.1f} s at {folder}"
            )
        ds.close()


@main.command()
@click.argument("folder", type=click.Path(path_type=Path), default=Path("datasets/parens"))
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8888, show_default=True, type=click.IntRange(0, 65535))
@click.pass_context
def demo(ctx: click.Context, folder: Path, host: str, port: int) -> None:
    """Build the demo data set FOLDER if it is missing, then serve its parent folder.

    Without the extractor, serves a generated bracket-language data set instead (and says so).
    """
    roots = [folder.parent]
    if not (folder / "data.h5").is_file():
        commands, why = _extract_commands()
        if commands is not None and "build" in commands and (folder / "dataset.yml").is_file():
            click.echo(f"building the demo data set {folder} (hiddenscope build)")
            done = subprocess.run(
                [sys.executable, "-m", "hiddenscope.server.cli", "build", str(folder)]
            )
            if done.returncode:
                sys.exit(done.returncode)
        else:
            roots.append(_generated_demo(why or f"{folder}/dataset.yml is missing"))
    ctx.invoke(serve, dirs=tuple(roots), host=host, port=port, regex_search=False)


def _generated_demo(why: str) -> Path:
    """Write (once) the synthetic data set the tests use, under build/demo/."""
    from .store import synthetic

    target = DEMO_FALLBACK / "generated-parens"
    click.echo(
        f"cannot build the trained demo data set ({why}).\n"
        f"Serving a GENERATED data set instead: {target} (bracket language with synthetic "
        "states written by hiddenscope.server.store.synthetic, not a trained model)."
    )
    synthetic.ensure_dataset(
        target,
        **DEMO_SIZE,
        name="generated-parens",
        progress=True,
        description="Generated bracket language with synthetic states "
        "(the tests' data; not a trained model): cells 0-3 track the depth.",
    )
    return DEMO_FALLBACK


if __name__ == "__main__":
    main()
