"""Every error the API returns is application/problem+json whose `detail` names the bad value.

One place turns exceptions into responses: Connexion's own validation problems (re-worded by
params.py so they name the parameter, the value and the bound), our
:class:`ApiError`, the store's :class:`DatasetError`, the engine's errors (400), unknown ids (404),
and a last resort that logs the traceback and answers a plain 500 without it.
"""

from __future__ import annotations

import logging

from connexion.exceptions import ProblemException
from connexion.lifecycle import ConnexionRequest, ConnexionResponse
from connexion.problem import problem
from werkzeug.exceptions import MethodNotAllowed, NotFound

from ..engine import EngineError
from ..store import DatasetError, SearchError

log = logging.getLogger(__name__)

TITLES = {
    400: "Bad Request",
    404: "Not Found",
    405: "Method Not Allowed",
    414: "URI Too Long",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


class ApiError(Exception):
    """An error answered as problem+json: ``status``, and a ``detail`` naming the value and fix."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


def not_found(what: str, value: str, known: list[str]) -> ApiError:
    listing = ", ".join(known[:20]) + (" ..." if len(known) > 20 else "")
    return ApiError(404, f"{what} {value!r} does not exist; known: {listing or '(none)'}")


def _response(status: int, detail: str) -> ConnexionResponse:
    return problem(status=status, title=TITLES.get(status, "Error"), detail=detail)


def api_error(_request: ConnexionRequest, exc: ApiError) -> ConnexionResponse:
    if exc.status == 503:  # the data set comes back by itself: say when to ask again
        return problem(
            status=503, title=TITLES[503], detail=exc.detail, headers={"Retry-After": "5"}
        )
    return _response(exc.status, exc.detail)


def bad_request(_request: ConnexionRequest, exc: Exception) -> ConnexionResponse:
    """DatasetError, SearchError and the engine's EngineError (a ValueError naming the value)."""
    return _response(400, str(exc))


def connexion_problem(_request: ConnexionRequest, exc: ProblemException) -> ConnexionResponse:
    """Connexion's problems (validation, unknown path or method), always with a detail."""
    detail = exc.detail or TITLES.get(exc.status, exc.title or "Error")
    return problem(
        status=exc.status,
        title=exc.title or TITLES.get(exc.status, "Error"),
        detail=detail,
        headers=exc.headers,
    )


def _allowed(flask_app, path: str) -> list[str]:
    """The methods some route of ``flask_app`` answers at ``path`` (Flask's own HEAD and
    OPTIONS left out: Connexion's routing answers neither for the API)."""
    try:
        flask_app.url_map.bind("localhost").match(path, method="-")
    except MethodNotAllowed as exc:
        return sorted(set(exc.valid_methods or []) - {"HEAD", "OPTIONS"})
    except NotFound:
        pass
    return []


def http_status_for(flask_app):
    """Starlette's HTTPException (404 for unknown paths, 405 for other methods, with Allow)."""

    def http_status(request: ConnexionRequest, exc: Exception) -> ConnexionResponse:
        status = getattr(exc, "status_code", 500)
        detail = getattr(exc, "detail", "") or TITLES.get(status, "Error")
        headers = dict(getattr(exc, "headers", None) or {})
        path = request.url.path
        if status == 404:
            detail = f"no such path {path!r}; the API lives under /api/v1 (see /api/v1/ui/)"
        if status == 405:
            allow = headers.get("Allow") or ", ".join(_allowed(flask_app, path)) or "GET"
            headers["Allow"] = allow
            detail = f"{request.method} is not allowed on {path!r}; use {allow}"
        return problem(
            status=status, title=TITLES.get(status, "Error"), detail=detail, headers=headers
        )

    return http_status


def unexpected(_request: ConnexionRequest, exc: Exception) -> ConnexionResponse:
    """The last resort: log the traceback for the operator, tell the client nothing internal."""
    log.error("unexpected error while answering a request", exc_info=exc)
    return _response(
        500,
        f"the server failed on this request ({type(exc).__name__}); the server log has the details",
    )


def register(app) -> None:
    """Install the handlers on a Connexion app (most specific first is irrelevant: by class)."""
    from starlette.exceptions import HTTPException

    app.add_error_handler(ApiError, api_error)
    app.add_error_handler(DatasetError, bad_request)
    app.add_error_handler(SearchError, bad_request)
    app.add_error_handler(EngineError, bad_request)
    app.add_error_handler(ProblemException, connexion_problem)
    app.add_error_handler(HTTPException, http_status_for(app.app))
    app.add_error_handler(Exception, unexpected)
