"""The app factory: nothing happens at import time; `create_app` loads the data sets and
builds the Connexion 3 ASGI app (API under /api/v1, Swagger UI, the browser client)."""

from __future__ import annotations

from pathlib import Path

from connexion import AsyncApp
from connexion.options import SwaggerUIOptions
from connexion.validators import VALIDATOR_MAP
from hiddenscope.client import STATIC_DIR
from starlette.requests import Request
from starlette.responses import FileResponse, RedirectResponse

from ..store import Catalog
from . import errors
from .handlers import Handlers
from .params import ListURIParser, NamingParameterValidator
from .payloads import jsonifier

CLIENT_FILES = {
    ".html",
    ".js",
    ".mjs",
    ".css",
    ".svg",
    ".png",
    ".ico",
    ".json",
    ".txt",
    ".map",
    ".woff",
    ".woff2",
}


def spec_path() -> Path:
    """openapi.yaml: inside the installed package, or at the repository root (editable install)."""
    here = Path(__file__).resolve().parent
    for candidate in (here.parent / "openapi.yaml", here.parent.parent / "openapi.yaml"):
        if candidate.is_file():
            return candidate
    raise FileNotFoundError("openapi.yaml is missing from the installation; reinstall hiddenscope")


def create_app(
    roots: list[Path], *, regex_search: bool = False, catalog: Catalog | None = None
) -> AsyncApp:
    """Load the data sets under ``roots`` (or use ``catalog``) and return the ASGI app.

    ``regex_search``: allow regular-expression search on data sets whose config does not
    enable it. The app's ``catalog`` and ``handlers`` attributes are there for tests and tools.
    """
    catalog = catalog if catalog is not None else Catalog(roots)
    handlers = Handlers(catalog, regex_search=regex_search)
    spec = spec_path()
    app = AsyncApp(
        __name__,
        specification_dir=spec.parent,
        jsonifier=jsonifier(),
        uri_parser_class=ListURIParser,
        validator_map={**VALIDATOR_MAP, "parameter": NamingParameterValidator},
    )
    app.add_api(
        spec.name,
        resolver=lambda operation_id: getattr(handlers, operation_id),
        strict_validation=True,
        swagger_ui_options=SwaggerUIOptions(swagger_ui=True, swagger_ui_path="/ui"),
    )
    errors.register(app)
    _add_client_routes(app)
    app.catalog = catalog
    app.handlers = handlers
    return app


def _add_client_routes(app: AsyncApp) -> None:
    """`/` redirects to `/client/`; `/client/<path>` serves the browser client's files."""
    root = Path(STATIC_DIR).resolve()

    async def home(request: Request):
        return RedirectResponse("/client/")

    async def client_file(request: Request):
        wanted = request.path_params.get("path", "") or "index.html"
        path = (root / wanted).resolve()
        if path.is_dir():
            path = path / "index.html"
        if root not in path.parents or path.suffix not in CLIENT_FILES or not path.is_file():
            return errors.problem_response(
                404, f"no client file {wanted!r}; the client starts at /client/"
            )
        return FileResponse(path)

    app.add_url_rule("/", "home", home, methods=["GET"])
    app.add_url_rule("/client", "client_root", home, methods=["GET"])
    app.add_url_rule("/client/", "client_index", client_file, methods=["GET"])
    app.add_url_rule("/client/{path:path}", "client_file", client_file, methods=["GET"])
