"""hiddenscope's server side: the data set store, the select/match engine and the REST API."""

__version__ = "0.1.0"
