"""hiddenscope.extract: run a PyTorch model over a corpus and write a data set folder.

Needs the ``extract`` extra (torch, spacy); the server never imports this package.

    from hiddenscope.extract import extract
    extract(model, sequences, vocab, "datasets/mine")   # -> Path of the data set folder

See README.md ("Extracting states from your own model") and datasets/README.md.
"""

from importlib import import_module

from .errors import ExtractError

# torch loads only when one of these is used, so `hiddenscope --help` and the
# extractor's CLI module stay cheap to import.
_LAZY = {
    "Annotator": ".annotate",
    "SpacyAnnotator": ".annotate",
    "extract": ".extractor",
    "StateKey": ".recurrent",
    "Track": ".writer",
}


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["Annotator", "ExtractError", "SpacyAnnotator", "StateKey", "Track", "extract"]
