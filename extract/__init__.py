"""hiddenscope.extract: run a PyTorch model over a corpus and write a data set folder.

Needs the ``extract`` extra (torch, spacy); the server never imports this package.

    from hiddenscope.extract import extract
    extract(model, sequences, vocab, "datasets/mine")   # -> Path of the data set folder

See README.md ("Extracting states from your own model") and datasets/README.md.
"""

from .annotate import Annotator, SpacyAnnotator
from .extractor import extract
from .recurrent import ExtractError, StateKey
from .writer import Track

__all__ = ["Annotator", "ExtractError", "SpacyAnnotator", "StateKey", "Track", "extract"]
