"""The data set store: configs (`dataset.yml`, LSTMVis `lstm.yml`), read-only HDF5 access,
meta tracks, search, and the catalog of data sets under some folders.

Imports h5py, numpy and yaml only (no web framework, no torch).
"""

from .catalog import Catalog, Entry, find_folders
from .config import ACCEPTED_KEYS, DatasetConfig, MetaConfig, SourceConfig, parse_config
from .dataset import SCHEMA_VERSION, Dataset, check_dataset, open_dataset
from .errors import DatasetError, Problem
from .indexfiles import IndexFiles, index_folder
from .meta import MetaTrack
from .search import Hit, SearchError, TokenSearch
from .source import H5StateSource
from .workspace import Workspace

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
    "IndexFiles",
    "MetaConfig",
    "MetaTrack",
    "Problem",
    "SearchError",
    "SourceConfig",
    "TokenSearch",
    "Workspace",
    "check_dataset",
    "find_folders",
    "index_folder",
    "open_dataset",
    "parse_config",
]
