"""Every error the API returns is application/problem+json whose `detail` names the bad value.

One place turns exceptions into responses: Connexion's own validation problems (re-worded by
params.py so they name the parameter, the value and the bound), our
:class:`ApiError`, the store's :class:`DatasetError`, the engine's errors (400), unknown ids (404),
and a last resort that logs the traceback and answers a plain 500 without it.
"""

from __future__ import annotations

import json
import logging

from connexion.exceptions import ProblemException
from connexion.lifecycle import ConnexionRequest, ConnexionResponse
from connexion.problem import problem
from starlette.responses import Response

from ..engine import EngineError
from ..store import DatasetError, SearchError

log = logging.getLogger(__name__)

TITLES = {
    400: "Bad Request",
    404: "Not Found",
    405: "Method Not Allowed",
    500: "Internal Server Error",
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


def problem_response(status: int, detail: str) -> Response:
    """The same problem+json body for plain Starlette routes (the client's files)."""
    body = {
        "type": "about:blank",
        "title": TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
    }
    return Response(json.dumps(body), status_code=status, media_type="application/problem+json")


def api_error(_request: ConnexionRequest, exc: ApiError) -> ConnexionResponse:
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


def http_status(request: ConnexionRequest, exc: Exception) -> ConnexionResponse:
    """Starlette's HTTPException (404 for unknown paths, 405 for other methods)."""
    status = getattr(exc, "status_code", 500)
    detail = getattr(exc, "detail", "") or TITLES.get(status, "Error")
    if status == 404:
        detail = f"no such path {request.url.path!r}; the API lives under /api/v1 (see /api/v1/ui/)"
    return _response(status, detail)


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
    app.add_error_handler(HTTPException, http_status)
    app.add_error_handler(Exception, unexpected)
