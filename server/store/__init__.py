"""The data set store: configs (`dataset.yml`, LSTMVis `lstm.yml`), read-only HDF5 access,
meta tracks, search, and the catalog of data sets under some folders.

Imports h5py, numpy and yaml only (no web framework, no torch).
"""

from .catalog import Catalog, Entry, find_folders
from .config import ACCEPTED_KEYS, DatasetConfig, MetaConfig, SourceConfig, parse_config
from .dataset import SCHEMA_VERSION, Dataset, check_dataset, open_dataset
from .errors import DatasetError, Problem
from .meta import MetaTrack
from .search import Hit, SearchError, TokenSearch
from .source import H5StateSource

__all__ = [
    "ACCEPTED_KEYS",
    "SCHEMA_VERSION",
    "Catalog",
    "Dataset",
    "DatasetConfig",
    "DatasetError",
    "Entry",
    "H5StateSource",
    "Hit",
    "MetaConfig",
    "MetaTrack",
    "Problem",
    "SearchError",
    "SourceConfig",
    "TokenSearch",
    "check_dataset",
    "find_folders",
    "open_dataset",
    "parse_config",
]
