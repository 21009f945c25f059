"""GET /datasets and /datasets/{dataset}; unknown and unavailable data sets; static routes."""

from __future__ import annotations

from api_helpers import problem

SUMMARY_KEYS = {
    "id",
    "name",
    "description",
    "available",
    "error",
    "length",
    "sequences",
    "sources",
    "meta",
    "sequence_meta",
    "model",
    "searchable",
}


def test_list_names_every_data_set_with_its_availability(client):
    body = client.get("/api/v1/datasets").json()
    by_id = {d["id"]: d for d in body["datasets"]}
    assert list(by_id) == ["broken", "parens", "toy"]
    assert all(set(d) == SUMMARY_KEYS for d in body["datasets"])
    parens = by_id["parens"]
    assert (parens["available"], parens["error"], parens["length"], parens["sequences"]) == (
        True,
        None,
        2000,
        4,
    )
    assert [s["id"] for s in parens["sources"]] == [
        "layer0-cell",
        "layer0-hidden",
        "layer1-cell",
        "layer1-hidden",
    ]
    index = parens["sources"][0].pop("index")  # the match index: built or not, never required
    assert index["state"] in ("missing", "fresh") and 0 <= index["percent"] <= 100
    assert parens["sources"][0] == {
        "id": "layer0-cell",
        "label": "layer 0 cell",
        "layer": 0,
        "kind": "cell",
        "direction": "forward",
        "shape": [2000, 24],
        "transform": "tanh",
        "unsigned": False,
    }
    assert {m["id"]: m["kind"] for m in parens["meta"]} == {
        "depth": "categorical",
        "position": "scalar",
        "next": "topk",
    }
    broken = by_id["broken"]
    assert broken["available"] is False and "data.h5' does not exist" in broken["error"]
    assert broken["sources"] == [] and broken["meta"] == []


def test_one_data_set(client):
    body = client.get("/api/v1/datasets/toy").json()
    assert body["name"] == "LSTMVis toy" and body["searchable"] is True
    assert body["sources"][0]["id"] == "states::states1"
    assert {m["id"]: m["range"] for m in body["meta"]}["freq"] == [0.0, 1.0]


def test_unknown_data_set_is_404_naming_it(client):
    detail = problem(client.get("/api/v1/datasets/nope"), 404)
    assert "data set 'nope' does not exist" in detail and "parens" in detail


def test_unavailable_data_set_summary_carries_its_error(client):
    body = client.get("/api/v1/datasets/broken").json()
    assert body["available"] is False and "data.h5' does not exist" in body["error"]


def test_unavailable_data_set_is_503_with_its_error(client):
    response = client.get("/api/v1/datasets/broken/context?source=x&pos=0")
    detail = problem(response, 503)
    assert "data set 'broken' is unavailable" in detail and "data.h5" in detail
    assert response.headers["retry-after"] == "5"


def test_unknown_path_and_method(client):
    assert "no such path" in problem(client.get("/api/v1/nothing"), 404)
    problem(client.post("/api/v1/datasets"), 405)


def test_home_redirects_to_the_client_and_serves_its_files(client):
    response = client.get("/", follow_redirects=False)
    assert response.status_code in (302, 307) and response.headers["location"] == "/client/"
    page = client.get("/client/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "no client file" in problem(client.get("/client/missing.js"), 404)
    assert problem(client.get("/client/__init__.py"), 404)


def test_swagger_ui_and_spec_are_served(client):
    assert client.get("/api/v1/ui/").status_code == 200
    spec = client.get("/api/v1/openapi.json").json()
    assert set(spec["paths"]) >= {  # the analyses add their own paths
        "/datasets",
        "/datasets/{dataset}",
        "/datasets/{dataset}/context",
        "/datasets/{dataset}/select",
        "/datasets/{dataset}/match",
        "/datasets/{dataset}/search",
        "/datasets/{dataset}/cells/{cell}",
    }


def test_an_unexpected_error_is_a_plain_500(app, client, monkeypatch, caplog):
    def fail(*args, **kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(app.handlers, "dataset", fail)
    detail = problem(client.get("/api/v1/datasets/parens/search?q=1"), 500)
    assert "RuntimeError" in detail and "secret internals" not in detail
    assert any("unexpected error" in r.getMessage() for r in caplog.records)


def test_errors_never_show_where_the_server_keeps_its_files(client, app):
    folder = app.catalog.entries["broken"].folder
    summary = client.get("/api/v1/datasets/broken").json()["error"]
    detail = problem(client.get("/api/v1/datasets/broken/context?source=x&pos=0"), 503)
    for text in (summary, detail):
        assert str(folder.parent) not in text and str(folder.resolve().parent) not in text
        assert "broken/" in text  # still names the file, relative to the data set's parent


def test_every_operation_that_looks_up_a_data_set_documents_its_503(client):
    """``Handlers.dataset`` answers 503 for a data set whose folder is not valid now: each
    operation calling it says so in the spec (the broken fixture data set shows it)."""
    import inspect

    from hiddenscope.server.api.handlers import Handlers

    spec = client.get("/api/v1/openapi.json").json()
    lookups = []
    for path, item in spec["paths"].items():
        for method, op in item.items():
            handler = getattr(Handlers, op.get("operationId", ""), None)
            if handler is not None and "self.dataset(" in inspect.getsource(handler):
                lookups.append(op["operationId"])
                assert "503" in op["responses"], f"{method.upper()} {path}"
    assert "getProjection" in lookups and len(lookups) >= 12
    detail = problem(client.get("/api/v1/datasets/broken/projection",
                                params={"source": "layer0-cell"}), 503)
    assert "data set 'broken' is unavailable" in detail
