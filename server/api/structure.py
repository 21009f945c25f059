"""Operations of the structure views (projection, co-clusters, align of two sources).
Mixed into :class:`Handlers`."""

from __future__ import annotations


class StructureOps:
    """Handlers for projection, coclusters and align."""
