"""Every error the API returns is application/problem+json whose `detail` names the bad value.

One place turns exceptions into responses: Connexion's own validation problems (re-worded by
:class:`NamingParameterValidator` so they name the parameter, the value and the bound), our
:class:`ApiError`, the store's :class:`DatasetError`, the engine's errors (400), unknown ids (404),
and a last resort that logs the traceback and answers a plain 500 without it.
"""
from __future__ import annotations

import json
import logging
from urllib.parse import parse_qs

from connexion.exceptions import BadRequestProblem, ProblemException, TypeValidationError
from connexion.lifecycle import ConnexionRequest, ConnexionResponse
from connexion.problem import problem
from connexion.validators.parameter import ParameterValidator
from jsonschema import Draft4Validator, ValidationError
from starlette.responses import Response

from ..engine import EngineError
from ..store import DatasetError, SearchError

log = logging.getLogger(__name__)

TITLES = {400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed", 500: "Internal Server Error"}


class ApiError(Exception):
    """An error answered as problem+json: ``status`` and a ``detail`` naming the value and the fix."""

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
    body = {"type": "about:blank", "title": TITLES.get(status, "Error"), "status": status,
            "detail": detail}
    return Response(json.dumps(body), status_code=status, media_type="application/problem+json")


def api_error(_request: ConnexionRequest, exc: ApiError) -> ConnexionResponse:
    return _response(exc.status, exc.detail)


def bad_request(_request: ConnexionRequest, exc: Exception) -> ConnexionResponse:
    """DatasetError, SearchError and the engine's EngineError (a ValueError naming the value)."""
    return _response(400, str(exc))


def connexion_problem(_request: ConnexionRequest, exc: ProblemException) -> ConnexionResponse:
    """Connexion's problems (validation, unknown path or method), always with a detail."""
    detail = exc.detail or TITLES.get(exc.status, exc.title or "Error")
    return problem(status=exc.status, title=exc.title or TITLES.get(exc.status, "Error"),
                   detail=detail, headers=exc.headers)


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
    return _response(500, f"the server failed on this request ({type(exc).__name__}); "
                     "the server log has the details")


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


# --- parameter validation that names the parameter, the value and the bound ----------------

_TYPE_WORDS = {"integer": "a whole number", "number": "a number", "boolean": "true or false",
               "string": "a text", "array": "a comma-separated list"}


def describe(name: str, raw: str | None, error: ValidationError) -> str:
    """Turn a JSON-schema error on parameter ``name`` into `name 'value' is ...; fix`."""
    value = error.instance
    shown = raw if raw is not None and not error.path else value
    v = error.validator_value
    if error.validator == "maximum":
        return f"{name} {value!r} is over the bound: {name} may be at most {v}"
    if error.validator == "minimum":
        return f"{name} {value!r} is below the minimum: {name} must be at least {v}"
    if error.validator == "maxItems":
        return f"{name} has {len(value)} values, over the bound of {v} per request; ask for fewer"
    if error.validator == "minItems":
        return f"{name} is empty; give at least {v} value(s), comma-separated"
    if error.validator == "maxLength":
        return f"{name} is {len(value)} characters long, over the bound of {v}; shorten it"
    if error.validator == "minLength":
        return f"{name} is empty; give a value"
    if error.validator == "type":
        return f"{name} {shown!r} is not {_TYPE_WORDS.get(str(v), v)}"
    if error.validator == "enum":
        return f"{name} {value!r} is not one of {', '.join(map(str, v))}"
    return f"{name} {shown!r}: {error.message}"


class NamingParameterValidator(ParameterValidator):
    """Connexion's parameter validator with messages that name the parameter and its value."""

    @staticmethod
    def _raw(request, name: str, where: str) -> str | None:
        if where == "path":
            return request.path_params.get(name)
        values = parse_qs(request.scope.get("query_string", b"").decode("latin-1"),
                          keep_blank_values=True).get(name)
        return values[-1] if values else None

    def _check(self, where: str, param: dict, request) -> str | None:
        name = param["name"]
        raw = self._raw(request, name, where)
        try:
            params = request.query_params if where == "query" else request.path_params
            value = params.get(name)
        except TypeValidationError:
            want = param.get("schema", {}).get("type", "")
            return f"{name} {raw!r} is not {_TYPE_WORDS.get(want, want)}"
        if value is None:
            if param.get("required"):
                return f"{where} parameter {name!r} is missing; it is required"
            return None
        schema = param.get("schema", param)
        errors = sorted(Draft4Validator(schema).iter_errors(value), key=lambda e: len(e.path))
        return describe(name, raw, errors[0]) if errors else None

    def validate_request(self, request):
        """Unknown query parameters are errors (typos such as `treshold` never pass silently)."""
        if self.strict_validation:
            extra = self.validate_query_parameter_list(request, self.security_query_params)
            if extra:
                known = ", ".join(p["name"] for p in self.parameters.get("query", []))
                names = ", ".join(repr(name) for name in sorted(extra))
                raise BadRequestProblem(detail=f"unknown query parameter {names}; this operation "
                                        f"takes {known or 'none'}")
        strict, self.strict_validation = self.strict_validation, False
        try:  # Connexion makes one validator per request, so this toggle is not shared
            super().validate_request(request)
        finally:
            self.strict_validation = strict

    def validate_query_parameter(self, param, request):
        return self._check("query", param, request)

    def validate_path_parameter(self, param, request):
        return self._check("path", param, request)
