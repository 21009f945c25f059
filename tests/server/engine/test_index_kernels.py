"""The index's fused read kernel against its parts written plainly: checksums equal to
``block_checks`` (which the build stores), on-bits and ambiguous entries equal to numpy's."""
from __future__ import annotations

import numpy as np
import pytest
from hiddenscope.server.engine.index import BLOCK, block_checks, masks_and_checks


@pytest.mark.parametrize("n", [1, BLOCK - 1, BLOCK, 3 * BLOCK + 17])
def test_masks_and_checks_equal_plain_versions(n):
    rng = np.random.default_rng(n)
    m = 70  # two mask words
    codes = rng.integers(0, 65536, (m, n)).astype(np.uint16)
    codes[:, : min(n, 5)] = 65535  # the largest code at the first positions...
    codes[0, -1] = 65535  # ...and at the last position of a block
    ks = rng.integers(0, 65536, m)
    ks[3] = 70000  # nothing on
    ks[4] = int(codes[4, 0])  # ambiguous entries exist
    ambiguous = rng.integers(0, 2, m).astype(np.uint8)
    ambiguous[4] = 1
    masks = np.empty(((m + 63) // 64, n), np.uint64)
    sums = np.empty((m, -(-n // BLOCK)), np.uint64)
    steps, cells = np.empty(1 << 20, np.int64), np.empty(1 << 20, np.int64)
    na = masks_and_checks(codes, ks, ambiguous, BLOCK, masks, sums, steps, cells)

    want_sums = np.empty_like(sums)
    block_checks(codes, BLOCK, want_sums)
    assert np.array_equal(sums, want_sums)
    k = np.minimum(ks, 65536)[:, None]
    on = np.where(ambiguous[:, None] == 1, codes >= k, codes > k) & (ks[:, None] <= 65535)
    bits = np.unpackbits(masks.T.copy().view(np.uint8), axis=1, bitorder="little")[:, :m]
    assert np.array_equal(bits.T.astype(bool), on)
    amb = (codes == k) & (ambiguous[:, None] == 1) & (ks[:, None] <= 65535)
    got = sorted(zip(cells[:na].tolist(), steps[:na].tolist(), strict=True))
    want = np.nonzero(amb)
    assert na > 0 and got == sorted(zip(want[0].tolist(), want[1].tolist(), strict=True))
