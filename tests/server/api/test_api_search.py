"""GET search: phrase and regex, plain-text snippets, bounds and the regex switch."""

from __future__ import annotations

from api_helpers import TEST_HOSTS, problem


def test_phrase_search_on_characters(client, parens):
    body = client.get("/api/v1/datasets/parens/search", params={"q": "(1", "limit": 5}).json()
    assert body["q"] == "(1" and body["regex"] is False and body["truncated"] is True
    assert len(body["results"]) == 5
    for hit in body["results"]:
        assert parens.token_text(hit["start"], hit["end"]) == ["(", "1"]
        assert set(hit) == {"start", "end", "snippet", "snippet_start"}


def test_phrase_search_on_words_returns_plain_text(client, app):
    toy = app.catalog.entries["toy"].dataset
    words = " ".join(toy.token_text(20, 21))
    body = client.get("/api/v1/datasets/toy/search", params={"q": words}).json()
    assert any(h["start"] == 20 for h in body["results"])
    assert all("<" not in h["snippet"] or "<s>" in h["snippet"] for h in body["results"])


def test_regex_search(client):
    body = client.get(
        "/api/v1/datasets/parens/search", params={"q": r"\(4\)", "regex": "true"}
    ).json()
    assert body["regex"] is True and all(h["end"] - h["start"] == 2 for h in body["results"])


def test_regex_switch_and_errors(app, client, tmp_path):
    from hiddenscope.server.api import create_app
    from hiddenscope.server.store.synthetic import write_dataset

    folder = write_dataset(tmp_path / "plain", T=100, D=4, layers=1)
    (folder / "dataset.yml").write_text(
        (folder / "dataset.yml").read_text().replace("regex_search: true", "regex_search: false")
    )
    off_app = create_app([tmp_path], hosts=TEST_HOSTS)
    off_app.handlers.jobs.wait = 120.0  # tiny data: 200, never 202
    off = off_app.test_client()
    detail = problem(
        off.get("/api/v1/datasets/plain/search", params={"q": "1", "regex": "true"}), 400
    )
    assert "regex search is off for data set 'plain'" in detail and "--regex-search" in detail
    # a regex feature of correlation runs the same kind of pattern: the same switch
    correlation = "/api/v1/datasets/plain/correlation"
    regex_feature = {"source": "layer0-cell", "feature": r"regex:^\($"}
    assert problem(off.get(correlation, params=regex_feature), 400) == detail
    words = {"source": "layer0-cell", "feature": "words:("}
    assert off.get(correlation, params=words).status_code == 200
    on_app = create_app([tmp_path], regex_search=True, hosts=TEST_HOSTS)
    on_app.handlers.jobs.wait = 120.0
    on = on_app.test_client()
    assert (
        on.get("/api/v1/datasets/plain/search", params={"q": "1", "regex": "true"}).status_code
        == 200
    )
    by_regex = on.get(correlation, params=regex_feature)
    assert by_regex.status_code == 200
    assert by_regex.json()["cells"] == on.get(correlation, params=words).json()["cells"]
    off_app.catalog.close()
    on_app.catalog.close()
    assert "is not a valid regular expression" in problem(
        client.get("/api/v1/datasets/parens/search", params={"q": "(", "regex": "true"}), 400
    )
    assert "over the bound of 200" in problem(
        client.get("/api/v1/datasets/parens/search", params={"q": "a" * 201}), 400
    )
    assert "limit 501 is over the bound" in problem(
        client.get("/api/v1/datasets/parens/search", params={"q": "a", "limit": 501}), 400
    )
