"""JSON bodies: numpy-aware encoding and the shapes that several operations share."""

from __future__ import annotations

import json

import flask
import numpy as np
import orjson
from connexion.jsonifier import JSONEncoder, Jsonifier

from ..store import Dataset, Entry

_ORJSON = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS


def json_response(payload: dict) -> flask.Response:
    """Encode with orjson: numpy arrays go out without a Python list in between (the context
    body is 10^5 floats); NaN becomes null."""
    return flask.Response(
        orjson.dumps(payload, option=_ORJSON, default=_plain), mimetype="application/json"
    )


def _plain(value):
    """What orjson cannot encode natively: numpy scalars of odd kinds, non-contiguous arrays."""
    if isinstance(value, np.ndarray):
        return np.ascontiguousarray(value)
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"cannot encode {type(value).__name__} as JSON")


class NumpyJSONEncoder(JSONEncoder):
    """Connexion's encoder for dicts that handlers return directly, with numpy support."""

    def default(self, o):
        if isinstance(o, np.ndarray):
            return o.tolist()
        if isinstance(o, np.generic):
            return o.item()
        return super().default(o)


def jsonifier() -> Jsonifier:
    return Jsonifier(json, cls=NumpyJSONEncoder)


def dataset_summary(entry: Entry, index: dict[str, dict] | None = None) -> dict:
    """DatasetSummary of openapi.yaml; unavailable data sets carry their error and empty lists.

    ``index``: per source id, the match index's ``{"state", "percent"}`` (the workspace's)."""
    ds = entry.dataset
    if ds is None:
        return {
            "id": entry.id,
            "name": entry.id,
            "description": "",
            "available": False,
            "error": entry.public_error,
            "length": 0,
            "sequences": 0,
            "sources": [],
            "meta": [],
            "sequence_meta": [],
            "model": None,
            "searchable": False,
        }
    return {
        "id": ds.id,
        "name": ds.name,
        "description": ds.description,
        "available": True,
        "error": None,
        "length": ds.length,
        "sequences": ds.sequences,
        "sources": [
            {**s.summary(), **({"index": index[s.id]} if index and s.id in index else {})}
            for s in ds.sources.values()
        ],
        "meta": [m.summary() for m in ds.meta.values()],
        "sequence_meta": [t.summary() for t in ds.sequence_meta.values()],
        "model": model_summary(ds),
        "searchable": True,
    }


def model_summary(ds: Dataset) -> dict | None:
    """ModelSummary of openapi.yaml: what ``run`` can use (from the config; nothing is
    loaded), or None when the data set carries no model."""
    m = ds.config.model
    if m is None:
        return None
    extracted = m.extracted or (m.checkpoints[-1].id if m.checkpoints else None)
    return {
        "task": m.task,
        "classes": list(m.classes),
        "tokenizer": m.tokenizer,
        "models": list(dict.fromkeys(c.model for c in m.checkpoints)),
        "extracted": extracted,
        "checkpoints": [
            {
                "id": c.id,
                "label": c.label,
                "model": c.model,
                "step": c.step,
                "extracted": c.id == extracted,
            }
            for c in m.checkpoints
        ],
    }


def sequence_values(ds: Dataset, start: int, end: int) -> dict:
    """SequenceMetaValues of openapi.yaml: the sequences holding a step of ``start .. end``
    and every sequence-level track's value for each of them."""
    seqs = ds.sequences_between(start, end)
    return {
        "sequences": seqs,
        "values": {name: t.values(seqs) for name, t in ds.sequence_meta.items()},
    }


def meta_values(ds: Dataset, names: list[str], start: int, end: int) -> dict:
    return {name: ds.meta[name].window(start, end) for name in names}


def sequence_starts(ds: Dataset, start: int, end: int) -> np.ndarray:
    o = ds.sequence_offsets[:-1]
    return o[(o >= start) & (o <= end)]
