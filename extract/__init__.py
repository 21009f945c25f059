"""hiddenscope.extract: run a PyTorch model over a corpus and write a data set folder.

Needs the ``extract`` extra (torch, spacy); the server never imports this package.
"""
