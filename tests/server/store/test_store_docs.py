"""datasets/README.md documents every key the loader reads (and no key it ignores)."""

from __future__ import annotations

import re
from pathlib import Path

from hiddenscope.server.store import ACCEPTED_KEYS
from hiddenscope.server.store.config import _keys_under

README = Path(__file__).resolve().parents[3] / "datasets" / "README.md"


def documented_keys() -> set[str]:
    """The backticked first cells of the key table (the one headed `| key | type | ...`)."""
    text = README.read_text(encoding="utf-8")
    table = text[text.index("| key | type | default | meaning |") :].split("\n\n")[0]
    return set(re.findall(r"^\| `([^`]+)` \|", table, flags=re.M))


def test_every_accepted_key_is_documented():
    missing = set(ACCEPTED_KEYS) - documented_keys()
    assert not missing, f"document these keys in datasets/README.md: {sorted(missing)}"


def test_every_documented_key_is_read_by_the_loader():
    assert documented_keys() <= set(ACCEPTED_KEYS)


def test_the_key_checks_use_the_same_list():
    assert _keys_under("states.types[]") == {
        "id",
        "label",
        "type",
        "layer",
        "direction",
        "path",
        "file",
        "transform",
        "unsigned",
    }
    assert _keys_under("meta.<name>.vis") == {"type", "range"}
