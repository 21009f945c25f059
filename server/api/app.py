"""The app factory: nothing happens at import time; `create_app` loads the data sets and
builds the Connexion 3 FlaskApp (Flask under an ASGI server): the API under /api/v1, Swagger
UI, and the browser client's files served by Flask's safe file serving."""

from __future__ import annotations

from pathlib import Path

import flask
from connexion import FlaskApp
from connexion.context import _operation
from connexion.middleware import MiddlewarePosition
from connexion.options import SwaggerUIOptions
from connexion.validators import VALIDATOR_MAP
from hiddenscope.client import STATIC_DIR

from ..store import Catalog
from . import errors
from .guard import Guard
from .handlers import Handlers
from .params import ListURIParser, NamingParameterValidator
from .payloads import json_response, jsonifier

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
    roots: list[Path],
    *,
    regex_search: bool = False,
    catalog: Catalog | None = None,
    hosts: list[str] | None = None,
) -> FlaskApp:
    """Load the data sets under ``roots`` (or use ``catalog``) and return the ASGI app.

    ``regex_search``: allow regular-expression search on data sets whose config does not
    enable it. ``hosts``: the names a request's Host header (and a changing request's Origin)
    may give (``guard.allowed_hosts``; None: localhost, 127.0.0.1 and ::1). An in-process
    client names its host too: ``app.test_client(base_url="http://localhost")``. The app's
    ``catalog`` and ``handlers`` attributes are there for tests and tools.
    """
    catalog = catalog if catalog is not None else Catalog(roots)
    handlers = Handlers(catalog, regex_search=regex_search)
    spec = spec_path()
    app = FlaskApp(
        __name__,
        specification_dir=spec.parent,
        jsonifier=jsonifier(),
        uri_parser_class=ListURIParser,
        validator_map={**VALIDATOR_MAP, "parameter": NamingParameterValidator},
        server_args={"static_folder": None},  # the client has its own route below
    )
    own = {"rescanDatasets": _rescan(catalog)}  # operations on the catalog itself
    app.add_api(
        spec.name,
        resolver=lambda operation_id: own.get(operation_id) or getattr(handlers, operation_id),
        strict_validation=True,
        swagger_ui_options=SwaggerUIOptions(swagger_ui=True, swagger_ui_path="/ui"),
    )
    errors.register(app)
    app.app.before_request(_routed_by_connexion)
    app.add_middleware(Guard, position=MiddlewarePosition.BEFORE_EXCEPTION, hosts=hosts)
    _add_client_routes(app)
    catalog.add_listener(handlers.forget)
    app.catalog = catalog
    app.handlers = handlers
    return app


def _rescan(catalog: Catalog):
    def rescanDatasets():
        """POST /rescan: find data set folders again; report what changed."""
        report = catalog.rescan()
        entries = sorted(catalog.entries.items())
        return json_response(
            {
                **report,
                "available": [id for id, e in entries if e.available],
                "unavailable": [id for id, e in entries if not e.available],
            }
        )

    return rescanDatasets


def _routed_by_connexion() -> None:
    """An API operation runs only after Connexion routed and validated its request.

    Flask's router and Connexion's can disagree on odd paths (an encoded newline as a data
    set id); Flask would then run the operation unvalidated. Such a path does not exist."""
    if flask.request.blueprint is not None and _operation.get(None) is None:
        raise errors.ApiError(
            404,
            f"no such path {flask.request.path[:200]!r}; the API lives under /api/v1 "
            "(see /api/v1/ui/)",
        )


def _add_client_routes(app: FlaskApp) -> None:
    """`/` redirects to `/client/`; `/client/<path>` serves the browser client's files through
    Flask's send_from_directory (safe_join: no way out of the folder, odd names are a 404)."""
    root = str(Path(STATIC_DIR).resolve())

    def home():
        return flask.redirect("/client/")

    def client_file(path: str = "index.html"):
        if path.endswith("/") or path == "":
            path += "index.html"
        if Path(path).suffix not in CLIENT_FILES or "\x00" in path:
            raise errors.ApiError(404, _no_file(path))
        try:
            return flask.send_from_directory(root, path, max_age=0)
        except Exception as exc:  # NotFound, and names the OS refuses (too long, bad bytes)
            raise errors.ApiError(404, _no_file(path)) from exc

    app.add_url_rule("/", "home", home, methods=["GET"])
    app.add_url_rule("/client", "client_root", home, methods=["GET"])
    app.add_url_rule("/client/", "client_index", client_file, methods=["GET"])
    app.add_url_rule("/client/<path:path>", "client_file", client_file, methods=["GET"])


def _no_file(path: str) -> str:
    shown = path if len(path) <= 80 else path[:77] + "..."
    return f"no client file {shown!r}; the client starts at /client/"
