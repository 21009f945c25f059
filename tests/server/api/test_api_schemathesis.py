"""schemathesis over openapi.yaml against the in-process app: no 5xx, responses as the spec says.

Each operation gets a bounded number of generated requests twice: once as generated (mostly
unknown data sets: 404s), once steered to the real data set and source so the handlers run.
schemathesis's `positive_data_acceptance` check is left out: limits that depend on the data
(a `pos` past T, a cell past D, `max_len < min_len`) cannot be written in the schema, and
the API answers them with a 400 that names the value, as it should.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import positive_data_acceptance

EXAMPLES = 25  # per operation and mode: keeps the suite fast (about 350 requests in all)


@pytest.fixture(scope="module")
def operations(app):
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", app)
    ops = [result.ok() for result in schema.get_all_operations()]
    assert {op.label for op in ops} >= {"GET /datasets", "GET /datasets/{dataset}/match"}
    return ops


def steer(case) -> None:
    """Point a generated request at data that exists, so it reaches the store and the engine."""
    if case.path_parameters and "dataset" in case.path_parameters:
        case.path_parameters["dataset"] = "parens"
    if case.query is not None and "source" in case.query:
        case.query["source"] = "layer0-cell"


def check_operation(
    op, steered: bool, statuses: dict[str, set[int]], mode=GenerationMode.POSITIVE
) -> None:
    """Send EXAMPLES generated requests to one operation and check every response."""

    @given(case=op.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck)
    )
    def run(case):
        if steered:
            steer(case)
        response = case.call()
        assert response.status_code < 500, response.text
        case.validate_response(response, excluded_checks=[positive_data_acceptance])
        statuses.setdefault(op.label, set()).add(response.status_code)

    run()


@pytest.mark.parametrize("steered", [False, True], ids=["generated", "steered"])
def test_no_server_errors_and_conforming_responses(operations, steered):
    statuses: dict[str, set[int]] = {}
    for op in operations:
        check_operation(op, steered, statuses)
    assert set(statuses) == {op.label for op in operations}
    if steered:  # the steered requests reach real answers, not only errors
        assert 200 in statuses["GET /datasets/{dataset}/context"]
        assert 200 in statuses["GET /datasets/{dataset}/search"]


def test_invalid_requests_are_refused_with_problems(operations):
    """Requests that break the schema (wrong types, out of bounds, missing) get a 4xx problem.

    Not steered: replacing a broken `source` with a real one would make the request valid."""
    statuses: dict[str, set[int]] = {}
    for op in operations:
        if op.label not in ("GET /datasets", "POST /rescan"):  # no parameters: nothing to break
            check_operation(op, False, statuses, GenerationMode.NEGATIVE)
    assert all(code < 500 for codes in statuses.values() for code in codes)
    assert 400 in statuses["GET /datasets/{dataset}/context"]
