"""Query and path parameters: comma-separated lists, and validation messages that name the
parameter, its value and the bound (Connexion's own say "Wrong type" without the value)."""

from __future__ import annotations

from urllib.parse import parse_qs

from connexion.exceptions import BadRequestProblem, TypeValidationError
from connexion.uri_parsing import OpenAPIURIParser
from connexion.validators.parameter import ParameterValidator
from jsonschema import Draft4Validator, ValidationError


class ListURIParser(OpenAPIURIParser):
    """`cells=` is the empty list (Connexion would read it as one empty string)."""

    @staticmethod
    def _split(value, param_defn, _in):
        return [] if value == "" else OpenAPIURIParser._split(value, param_defn, _in)


_TYPE_WORDS = {
    "integer": "a whole number",
    "number": "a number",
    "boolean": "true or false",
    "string": "a text",
    "array": "a comma-separated list",
}


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
        values = parse_qs(
            request.scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True
        ).get(name)
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
                raise BadRequestProblem(
                    detail=f"unknown query parameter {names}; this operation "
                    f"takes {known or 'none'}"
                )
        strict, self.strict_validation = self.strict_validation, False
        try:  # Connexion makes one validator per request, so this toggle is not shared
            super().validate_request(request)
        finally:
            self.strict_validation = strict

    def validate_query_parameter(self, param, request):
        return self._check("query", param, request)

    def validate_path_parameter(self, param, request):
        return self._check("path", param, request)
