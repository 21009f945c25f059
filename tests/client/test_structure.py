"""The client's shape (DESIGN.md, STYLE.md): views get data and callbacks and never fetch or
read the URL; d3 is vendored with its licence; no build step."""

from __future__ import annotations

import re

from hiddenscope.client import STATIC_DIR

VIEWS = sorted((STATIC_DIR / "views").glob("*.js"))
ALLOWED_IMPORTS = {"../d3.js", "../colors.js", "../text.js"}


def test_views_import_only_d3_palettes_text_and_other_views():
    assert VIEWS
    for view in VIEWS:
        for spec in re.findall(r'^import .* from "([^"]+)";', view.read_text(), flags=re.M):
            assert spec in ALLOWED_IMPORTS or re.fullmatch(r"\./\w+\.js", spec), (
                f"{view.name} imports {spec}"
            )


def test_views_never_fetch_or_read_the_url():
    for view in VIEWS:
        text = view.read_text()
        for word in ("fetch(", "location", "history.", "URLSearchParams", "XMLHttpRequest"):
            assert word not in text, f"{view.name} uses {word}"


def test_every_view_returns_node_update_destroy():
    for view in VIEWS:
        text = view.read_text()
        assert re.search(r"return \{[^}]*node[^}]*update[^}]*destroy", text, flags=re.S), view.name


def test_d3_is_vendored_with_its_licence():
    vendor = STATIC_DIR / "vendor"
    assert (vendor / "d3.min.js").read_text()[:60].startswith("// https://d3js.org v7.")
    assert "Mike Bostock" in (vendor / "LICENSE").read_text()
    for page in ("index.html", "view.html"):
        html = (STATIC_DIR / page).read_text()
        assert '<script src="vendor/d3.min.js"></script>' in html
        assert 'type="module"' in html
