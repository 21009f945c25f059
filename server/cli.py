"""The `hiddenscope` command: serve, check, index, demo, plus the commands of installed parts.

Other parts add commands through the ``hiddenscope.commands`` entry-point group (the way
datasette's plugins add theirs): the extractor declares ``build`` and ``extract`` there in
setup.py, with the ``extract`` extra. This module never imports the extractor; a command
whose extra is missing is listed with the install hint and exits with status 2.
"""

from __future__ import annotations

import errno
import importlib.util
import logging
import re
import socket
import subprocess
import sys
import threading
import time
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path

import click

from . import __version__

COMMAND_GROUP = "hiddenscope.commands"
EXTRACT_HINT = "install the extract extra: pip install 'hiddenscope[extract]'"
EXTRACT_NAMES = ("build", "extract")  # named in --help even when nothing declares them
DEMO_FALLBACK = Path("build/demo")
DEMO_SIZE = {"T": 50_000, "D": 48, "layers": 2, "sequences": 20}  # written in a few seconds


def _plugins() -> dict[str, EntryPoint]:
    return {ep.name: ep for ep in entry_points(group=COMMAND_GROUP)}


def _extra_modules(ep: EntryPoint) -> list[str]:
    """The top-level modules that the extras ``ep`` declares ([extract]) require."""
    requires = (ep.dist.requires if ep.dist is not None else None) or []
    names = []
    for extra in ep.extras:
        for line in requires:
            if re.search(rf"extra\s*==\s*['\"]{re.escape(extra)}['\"]", line):
                names.append(re.match(r"[A-Za-z0-9_.-]+", line).group(0).replace("-", "_"))
    return names


def _missing(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is None
    except (ImportError, ValueError):
        return True


def _plugin_hint(ep: EntryPoint) -> str | None:
    """The install hint when an extra that ``ep`` needs is missing, else None."""
    missing = [m for m in _extra_modules(ep) if _missing(m)]
    if not missing:
        return None
    extras = ", ".join(ep.extras)
    if extras == "extract":
        return f"{', '.join(missing)} missing: {EXTRACT_HINT}"
    return f"{', '.join(missing)} missing: pip install 'hiddenscope[{extras}]'"


def _extract_commands() -> tuple[dict[str, click.Command] | None, str | None]:
    """(the extractor's commands, None), or (None, why) when they are missing or unusable."""
    plugins = {n: ep for n, ep in _plugins().items() if n in EXTRACT_NAMES}
    if not plugins:
        return None, EXTRACT_HINT
    for ep in plugins.values():
        hint = _plugin_hint(ep)
        if hint:
            return None, hint
    try:
        return {name: ep.load() for name, ep in plugins.items()}, None
    except ImportError as exc:
        return None, f"{exc}: {EXTRACT_HINT}"


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
    """Built-in commands first; the entry-point group's are looked up on demand."""

    def list_commands(self, ctx):
        return sorted(set(super().list_commands(ctx)) | set(_plugins()) | set(EXTRACT_NAMES))

    def get_command(self, ctx, name):
        command = super().get_command(ctx, name)
        if command is not None:
            return command
        ep = _plugins().get(name)
        if ep is None:
            return _unavailable(name, EXTRACT_HINT) if name in EXTRACT_NAMES else None
        hint = _plugin_hint(ep)
        if hint:
            return _unavailable(name, hint)
        try:
            return ep.load()
        except ImportError as exc:
            return _unavailable(name, f"{exc}; {EXTRACT_HINT}")

    def invoke(self, ctx):
        """A command that still meets a missing module says how to install it (exit 2)."""
        try:
            return super().invoke(ctx)
        except ModuleNotFoundError as exc:
            name = (exc.name or "").split(".")[0]
            wanted = {m for ep in _plugins().values() for m in _extra_modules(ep)}
            if name not in wanted:
                raise
            click.echo(f"hiddenscope: {name} is missing: {EXTRACT_HINT}", err=True)
            sys.exit(2)

    def format_epilog(self, ctx, formatter):
        _, why = _extract_commands()
        if why:
            formatter.write_paragraph()
            formatter.write_text(f"build and extract are unavailable: {why}")


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
@click.option(
    "--allow-host",
    "allow_host",
    multiple=True,
    metavar="NAME",
    help="Also answer requests whose Host header is NAME (repeatable). By default only the "
    "bound host and localhost are answered, which keeps other web sites out (DNS rebinding).",
)
@click.option(
    "--watch",
    type=click.FloatRange(min=0),
    default=0,
    metavar="SECONDS",
    help="Look for new, removed and changed data set folders every SECONDS (0: never; "
    "POST /api/v1/rescan does it on demand).",
)
def serve(
    dirs: tuple[Path, ...],
    host: str,
    port: int,
    regex_search: bool,
    allow_host: tuple[str, ...] = (),
    watch: float = 0,
) -> None:
    """Serve the API, its Swagger UI and the browser client for the data sets under DIR...

    DIR defaults to ./datasets; folders are scanned recursively.
    """
    roots = _folders(dirs or (Path("datasets"),))
    _serve(roots, host, _bind(host, port), regex_search, allow_host, watch)


def _bind(host: str, port: int) -> socket.socket:
    """A socket bound to ``host:port`` (not yet listening), or one line saying why not and
    exit status 2. Bound before anything is loaded or printed, so a busy port is said first
    and alone (uvicorn would log a traceback-like error after the start-up lines)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    # as uvicorn does: a port left in TIME_WAIT by a server just stopped is free to use
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            other = port + 1 if port < 65535 else 8889
            why = (
                f"port {port} on {host} is in use (another server?); choose another with "
                f"--port {other} (make demo PORT={other})"
            )
        else:
            why = f"cannot listen on {host}:{port}: {exc.strerror or exc}; check --host and --port"
        click.echo(f"hiddenscope: {why}", err=True)
        sys.exit(2)
    return sock


def _run(app, sock: socket.socket, **options) -> None:
    """uvicorn on the socket bound by :func:`_bind` (what ``uvicorn.run`` does, less the
    binding)."""
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(app, **options))
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:
        pass
    finally:
        sock.close()
    if not server.started:
        sys.exit(1)


def _serve(
    roots: list[Path],
    host: str,
    sock: socket.socket,
    regex_search: bool,
    allow_host: tuple[str, ...] = (),
    watch: float = 0,
) -> None:
    """Load the data sets under ``roots`` and serve them on ``sock`` (bound by :func:`_bind`)."""
    import warnings

    # connexion imports starlette's test client at import time, which warns about httpx
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from .api import create_app
    from .api.guard import allowed_hosts

    port = sock.getsockname()[1]  # the port asked for, or the one chosen for --port 0
    hosts = allowed_hosts(host, allow_host)
    app = create_app(roots, regex_search=regex_search, hosts=hosts)
    # missing or stale match indexes are built in the background (queries scan meanwhile)
    app.handlers.workspace.start_background()
    if watch:
        _watch(app.catalog, watch)
    entries = app.catalog.entries.values()
    ready = [e.id for e in entries if e.available]
    click.echo(
        f"data sets: {', '.join(ready) or 'none'}"
        + "".join(
            f"\n  unavailable: {e.id}: {e.public_error.splitlines()[0]}"
            for e in entries
            if not e.available
        )
    )
    click.echo(f"answering Host: {', '.join(hosts)} (add names with --allow-host)")
    click.echo(f"hiddenscope serving on http://{host}:{port}/  (API: /api/v1, docs: /api/v1/ui/)")
    # httptools and h11's default (16 KiB) answer a long request line with a plain-text 400
    # before the app sees it; with h11 at 1 MiB the app's guard answers a problem+json 414
    _run(
        app,
        sock,
        host=host,
        port=port,
        log_level="warning",
        http="h11",
        h11_max_incomplete_event_size=1 << 20,
    )


def _watch(catalog, every: float, stop: threading.Event | None = None) -> threading.Thread:
    """Rescan ``catalog`` every ``every`` seconds in a daemon thread (until ``stop`` is set),
    logging what changed."""
    log = logging.getLogger("hiddenscope.watch")
    stop = stop or threading.Event()

    def loop() -> None:
        while not stop.wait(every):
            try:
                report = catalog.rescan()
            except Exception:  # a failed scan is logged and tried again next time
                log.exception("rescanning the data set folders failed")
                continue
            changed = {k: v for k, v in report.items() if v}
            if changed:
                log.info("data sets rescanned: %s", changed)

    thread = threading.Thread(target=loop, name="watch data sets", daemon=True)
    thread.start()
    return thread


def _describe(dataset) -> list[str]:
    lines = [
        f"{dataset.length:,} steps, {dataset.sequences:,} sequences, "
        f"{len(dataset.vocab):,} vocabulary entries"
    ]
    for s in dataset.sources.values():
        lines.append(
            f"        source {s.id}: {s.shape[0]:,} x {s.shape[1]}, transform {s.transform}"
            + ("" if s.direct else " (read through h5py: chunked or compressed)")
        )
    lines += [f"        meta {m.id}: {m.kind}" for m in dataset.meta.values()]
    lines += [
        f"        sequence meta {m.id}: {m.kind}, one value per sequence"
        for m in dataset.sequence_meta.values()
    ]
    return lines


def _find(dirs: tuple[Path, ...]) -> list[Path]:
    from .store import DatasetError, find_folders

    try:
        folders = find_folders(_folders(dirs))
    except DatasetError as exc:
        raise click.ClickException(str(exc)) from None
    if not folders:
        click.echo(f"no dataset.yml or lstm.yml under {', '.join(map(str, dirs))}", err=True)
        sys.exit(1)
    return folders


@main.command()
@click.argument("dirs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--timeout",
    type=click.FloatRange(min=0.1),
    default=60,
    show_default=True,
    help="Seconds one folder may take to load before it is reported and skipped.",
)
def check(dirs: tuple[Path, ...], timeout: float = 60) -> None:
    """Validate the data set folders under DIR... and print a report (exit 1 on errors).

    Every folder gets its lines, whatever happens in another one; a summary ends the report.
    """
    from .store.catalog import load_folder

    folders = _find(dirs)
    failed = 0
    seen: dict[str, Path] = {}
    for folder in folders:
        dataset, problems = load_folder(folder, timeout=timeout)
        errors = [str(p) for p in problems.errors]
        if folder.name in seen:
            errors.append(
                f"{folder}: another data set folder is also named {folder.name!r} "
                f"({seen[folder.name]}); rename one (the id is the folder name)"
            )
        seen.setdefault(folder.name, folder)
        if dataset is not None:
            lines = _describe(dataset)
            click.echo(f"ok    {folder.name} ({folder}): {lines[0]}")
            for line in lines[1:]:
                click.echo(line)
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
    A folder that cannot be loaded or indexed is reported and the others go on.
    """
    from .store.catalog import load_folder

    if not target.exists() and (Path("datasets") / target.name).is_dir():
        target = Path("datasets") / target.name
    folders = _find((target,))
    failed = 0
    for folder in folders:
        dataset, problems = load_folder(folder)
        if dataset is None:
            failed += 1
            click.echo(f"ERROR {folder.name} ({folder}): cannot be loaded")
            for p in problems.errors:
                click.echo(f"        error: {p}")
            continue
        try:
            _index_sources(dataset, force)
        except Exception as exc:  # one folder's failure is reported; the others go on
            logging.getLogger(__name__).debug("index failed", exc_info=exc)
            failed += 1
            click.echo(f"ERROR {folder.name} ({folder}): indexing failed: {exc}")
        finally:
            dataset.close()
    click.echo(f"{len(folders) - failed} of {len(folders)} data set(s) indexed")
    sys.exit(1 if failed else 0)


def _index_sources(ds, force: bool) -> None:
    from .engine import SourceEngine
    from .store import IndexFiles, index_folder

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


@main.command()
@click.argument("folder", type=click.Path(path_type=Path), default=Path("datasets/parens"))
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8888, show_default=True, type=click.IntRange(0, 65535))
def demo(folder: Path, host: str, port: int) -> None:
    """Build the demo data set FOLDER if it is missing, then serve its parent folder.

    Without the extractor, serves a generated bracket-language data set instead (and says so).
    """
    roots = [folder.parent]
    sock = _bind(host, port)  # a busy port is said before a build of minutes, not after
    if not (folder / "data.h5").is_file():
        commands, why = _extract_commands()
        if commands is not None and "build" in commands and (folder / "dataset.yml").is_file():
            click.echo(f"building the demo data set {folder} (hiddenscope build)")
            # --no-next-steps: its "next: hiddenscope serve" hint is what the demo does now
            done = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "hiddenscope.server.cli",
                    "build",
                    str(folder),
                    "--no-next-steps",
                ]
            )
            if done.returncode:
                sock.close()
                sys.exit(done.returncode)
        else:
            roots.append(_generated_demo(why or f"{folder}/dataset.yml is missing"))
    _serve(_folders(tuple(roots)), host, sock, regex_search=False)


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
