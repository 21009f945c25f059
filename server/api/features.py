"""Operations of the cells-and-features analyses (correlation, a cell's top contexts and
expected response to words, the match summary). Mixed into :class:`Handlers`."""

from __future__ import annotations


class FeatureOps:
    """Handlers for correlation, cells/{cell}/top and cells/{cell}/words."""
