"""Operations that run the data set's model on the user's own text (``run``).
Mixed into :class:`Handlers`; torch is imported lazily, never by the server at start-up.

The model of a data set is its ``model:`` section (store/models.py). A loaded checkpoint is
kept per (data set load, checkpoint file) and used by one request at a time (its recurrent modules
are tapped while it runs, as in the extractor). Without torch installed ``run`` answers 503
naming the ``extract`` extra; every other operation works as before.
"""

from __future__ import annotations

import importlib
import threading

from ..store.arrays import file_fingerprint
from ..store.models import UnsafeModelFile, check_weights_file
from .errors import ApiError, not_found
from .payloads import json_response

EXTRA_HINT = "install the extract extra: pip install 'hiddenscope[extract]'"


class LiveOps:
    """Handlers for run."""

    def _init_live(self) -> None:
        """Called once by Handlers.__init__: loaded models by (data set, load, checkpoint,
        file identity), and the lock of each load in progress."""
        self._live_models: dict[tuple, object] = {}
        self._live_load_locks: dict[tuple, threading.Lock] = {}

    def runModel(
        self,
        dataset: str,
        text: str,
        checkpoint: str | None = None,
        sources: list[str] | None = None,
    ):
        ds = self.dataset(dataset)
        config = ds.config.model
        if config is None:
            raise ApiError(
                400,
                f"data set {ds.id!r} carries no model (its dataset.yml has no model: section), "
                "so there is nothing to run; use a data set built with one, e.g. "
                "`hiddenscope build datasets/sentiment`",
            )
        chosen = config.checkpoint(checkpoint)
        if chosen is None:
            raise not_found(
                f"checkpoint of data set {ds.id!r}:", checkpoint, [c.id for c in config.checkpoints]
            )
        live, lock = self._live_model(ds, config, chosen)
        live_module = _live_module()
        with lock:
            try:
                result = live.run(text, sources)
            except live_module.RunError as exc:
                raise ApiError(400, str(exc)) from None
        result.update(
            dataset=ds.id,
            checkpoint={
                "id": chosen.id,
                "label": chosen.label,
                "model": chosen.model,
                "step": chosen.step,
                "extracted": chosen.id == (config.extracted or config.checkpoints[-1].id),
            },
            checkpoints=[
                {"id": c.id, "label": c.label, "model": c.model, "step": c.step}
                for c in config.checkpoints
            ],
        )
        return json_response(result)

    def _live_model(self, ds, config, chosen):
        """The loaded checkpoint and its lock, loaded once per (data set load, checkpoint,
        checkpoint file identity): a rebuilt data set or a re-saved checkpoint loads anew.
        Loading holds that key's lock only, so other models answer meanwhile."""
        key = (ds.id, self.load(ds), chosen.id, file_fingerprint(chosen.file))
        with self._lock:
            cache, locks = self._live_models, self._live_load_locks
            if key in cache:
                return cache[key]
            load_lock = locks.setdefault(key, threading.Lock())
        with load_lock:
            with self._lock:
                if key in cache:
                    return cache[key]
            try:
                loaded = self._load_live(ds, config, chosen)
            finally:
                with self._lock:
                    locks.pop(key, None)
            with self._lock:
                # an older load of the same checkpoint is of no more use
                for old in [k for k in cache if k[0] == ds.id and k[2] == chosen.id]:
                    cache.pop(old, None)
                cache[key] = loaded
            return loaded

    @staticmethod
    def _load_live(ds, config, chosen):
        live_module = _live_module()
        try:
            if chosen.format == "state_dict":  # read, never run, before torch sees it
                check_weights_file(chosen.file)
            return live_module.LiveModel(config, chosen, ds.vocab), threading.Lock()
        except UnsafeModelFile as exc:
            raise ApiError(
                503,
                f"checkpoint {chosen.id!r} of data set {ds.id!r} was refused: {exc}; "
                "re-save it with torch.save(model.state_dict()) or torch.jit.save",
            ) from None


def _live_module():
    """``hiddenscope.extract.live`` (imports torch), or a 503 naming the extra to install."""
    try:
        live = importlib.import_module("hiddenscope.extract.live")
    except ImportError as exc:
        raise ApiError(
            503, f"run needs torch, which this server cannot import ({exc}); {EXTRA_HINT}"
        ) from None
    return live
