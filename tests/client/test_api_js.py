"""client/api.js in Chromium: one function per operationId of openapi.yaml, the request each
sends, and errors that carry the problem+json detail."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.browser

SPEC = Path(__file__).resolve().parents[2] / "openapi.yaml"


def operation_ids() -> set[str]:
    spec = yaml.safe_load(SPEC.read_text(encoding="utf-8"))
    return {
        op["operationId"]
        for path in spec["paths"].values()
        for op in path.values()
        if "operationId" in op
    }


def test_one_function_per_operation_id(module_page):
    exported = module_page.evaluate(
        "async () => Object.entries(await import('/api.js'))"
        ".filter(([, v]) => typeof v === 'function').map(([k]) => k)"
    )
    ids = operation_ids()
    assert ids, "openapi.yaml names no operationId"
    assert ids <= set(exported), f"api.js lacks {sorted(ids - set(exported))}"


def test_requests_use_the_api_names_and_comma_lists(module_page):
    page = module_page
    seen = []

    def answer(route):
        seen.append(route.request.url)
        route.fulfill(status=200, content_type="application/json", body=json.dumps({"ok": True}))

    page.route("http://client.test/api/v1/**", answer)
    page.evaluate("""async () => {
      const api = await import('/api.js');
      await api.getContext('my set', {source: 'layer0-cell', pos: 5, cells: [1, 2, 3], meta: null});
      await api.matchCells('p', {cells: [4, 9], threshold: -0.25, max_len: null});
      await api.getCellStats('p', 7, {source: 's'});
    }""")
    assert seen == [
        "http://client.test/api/v1/datasets/my%20set/context?source=layer0-cell&pos=5&cells=1,2,3",
        "http://client.test/api/v1/datasets/p/match?cells=4,9&threshold=-0.25",
        "http://client.test/api/v1/datasets/p/cells/7?source=s",
    ]


@pytest.mark.parametrize(
    "status, content_type, body, detail",
    [
        (
            400,
            "application/problem+json",
            {
                "type": "about:blank",
                "title": "Bad Request",
                "status": 400,
                "detail": "threshold 'abc' is not a number",
            },
            "threshold 'abc' is not a number",
        ),
        (502, "text/html", "<h1>Bad Gateway</h1>", "<h1>Bad Gateway</h1>"),
    ],
)
def test_errors_carry_the_servers_message(module_page, status, content_type, body, detail):
    page = module_page
    text = body if isinstance(body, str) else json.dumps(body)
    page.route(
        "http://client.test/api/v1/**",
        lambda route: route.fulfill(status=status, content_type=content_type, body=text),
    )
    err = page.evaluate("""async () => {
      const api = await import('/api.js');
      try { await api.listDatasets(); return null; }
      catch (e) { return {name: e.name, status: e.status, detail: e.detail}; }
    }""")
    assert err == {"name": "ApiError", "status": status, "detail": detail}


def test_an_unreachable_server_is_named(module_page):
    page = module_page
    page.route("http://client.test/api/v1/**", lambda route: route.abort("connectionrefused"))
    err = page.evaluate("""async () => {
      const api = await import('/api.js');
      try { await api.listDatasets(); return null; } catch (e) { return e.detail; }
    }""")
    assert "could not reach the server" in err
