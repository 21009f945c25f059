"""Operations that run the data set's model on the user's own text (``run``).
Mixed into :class:`Handlers`; torch is imported lazily, never by the server at start-up."""

from __future__ import annotations


class LiveOps:
    """Handlers for run."""
