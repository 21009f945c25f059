"""The index's kernels against plain numpy: the fused read kernel's checksums equal to
``block_checks`` (which the build stores), its on-bits and ambiguous entries equal to the
rule on 16-bit codes; the build's grouping of low bytes by high byte and its inverse."""
from __future__ import annotations

import numpy as np
import pytest
from hiddenscope.server.engine import index as I
from hiddenscope.server.engine.errors import IndexCorrupt
from hiddenscope.server.engine.index import BLOCK, block_checks, masks_and_checks


def _plain_sum(row: np.ndarray) -> int:
    i = np.arange(1, row.size + 1, dtype=object)
    return int(sum((row.astype(object) + 1) * i) % 2**64)


def _lows(codes: np.ndarray, ks: np.ndarray, need: np.ndarray):
    """Each cell's low bytes of the steps whose high byte is its threshold's, in step order."""
    parts = [(row[(row >> 8) == (k >> 8)] & 255).astype(np.uint8) if n else
             np.empty(0, np.uint8) for row, k, n in zip(codes, np.minimum(ks, 65535), need,
                                                        strict=True)]
    lstart = np.zeros(len(parts) + 1, np.int64)
    np.cumsum([p.size for p in parts], out=lstart[1:])
    return np.concatenate(parts), lstart


@pytest.mark.parametrize("n", [1, BLOCK - 1, BLOCK, 3 * BLOCK + 17])
def test_masks_and_checks_equal_plain_versions(n):
    rng = np.random.default_rng(n)
    m = 70  # two mask words
    codes = rng.integers(0, 65536, (m, n)).astype(np.uint16)
    codes[:, : min(n, 5)] = 65535  # the largest code at the first positions...
    codes[0, -1] = 65535  # ...and at the last position of a block
    codes[5:9, ::3] = codes[5:9, :1] // 256 * 256 + 7  # many steps share a high byte
    ks = rng.integers(0, 65536, m)
    ks[3] = 70000  # nothing on
    ks[4] = int(codes[4, 0])  # ambiguous entries exist
    ks[5], ks[6] = int(codes[5, 0]) // 256 * 256 + 7, int(codes[6, 0]) // 256 * 256 + 3
    ks[7] = int(codes[7, 0]) // 256 * 256 + 255  # with ambiguous[7] = 0: low bytes not read
    ks[8] = 65535  # the largest code (nothing is on unless ambiguous)
    ambiguous = rng.integers(0, 2, m).astype(np.uint8)
    ambiguous[4] = ambiguous[5] = 1
    ambiguous[7] = 0
    need = ((ambiguous == 1) | ((ks & 255) != 255)).astype(np.uint8)
    assert need[7] == 0 and need.sum() > m // 2
    low, lstart = _lows(codes, ks, need)
    high = (codes >> 8).astype(np.uint8)
    masks = np.empty(((m + 63) // 64, n), np.uint64)
    sums = np.empty((m, -(-n // BLOCK)), np.uint64)
    steps, cells = np.empty(1 << 20, np.int64), np.empty(1 << 20, np.int64)
    na = masks_and_checks(high, ks, ambiguous, need, BLOCK, low, lstart, masks, sums, steps,
                          cells)

    want_sums = np.empty_like(sums)
    block_checks(high, BLOCK, want_sums)
    assert np.array_equal(sums, want_sums)
    assert int(sums[2, 0]) == _plain_sum(high[2, :BLOCK])
    k = np.minimum(ks, 65536)[:, None]
    on = np.where(ambiguous[:, None] == 1, codes >= k, codes > k) & (ks[:, None] <= 65535)
    bits = np.unpackbits(masks.T.copy().view(np.uint8), axis=1, bitorder="little")[:, :m]
    assert np.array_equal(bits.T.astype(bool), on)
    amb = (codes == k) & (ambiguous[:, None] == 1) & (ks[:, None] <= 65535)
    got = sorted(zip(cells[:na].tolist(), steps[:na].tolist(), strict=True))
    want = np.nonzero(amb)
    assert na > 0 and got == sorted(zip(want[0].tolist(), want[1].tolist(), strict=True))


@pytest.mark.parametrize("change", [-1, 1])
def test_low_bytes_that_do_not_fit_the_high_bytes_are_reported(change):
    """One low byte too few or too many for a cell: -1 (the index treats it as corrupt)."""
    rng = np.random.default_rng(3)
    codes = rng.integers(0, 512, (3, 1000)).astype(np.uint16)  # high bytes 0 and 1
    ks = np.array([300, 100, 511])
    need = np.ones(3, np.uint8)
    low, lstart = _lows(codes, ks, need)
    if change < 0:
        low, lstart = np.delete(low, lstart[2] - 1), lstart - np.array([0, 0, 1, 1])
    else:
        low, lstart = np.insert(low, lstart[2], 9), lstart + np.array([0, 0, 1, 1])
    args = ((codes >> 8).astype(np.uint8), ks, np.ones(3, np.uint8), need, BLOCK, low, lstart,
            np.empty((1, 1000), np.uint64), np.empty((3, 1), np.uint64),
            np.empty(8, np.int64), np.empty(8, np.int64))
    assert masks_and_checks(*args) == -1


@pytest.mark.parametrize("T,span", [(1, 4), (1000, 64), (1000, 1000), (5000, 1 << 10)])
def test_grouped_low_bytes_round_trip(T, span):
    """count_high's counts, the cell's region (heads, grouped low bytes, round-threshold
    sections) and join_codes back to the same codes; every head's ranks and checksums and
    every section's bits equal the plain ones."""
    rng = np.random.default_rng(T)
    codes = (rng.integers(0, 6, (2, T)) * 4096 + rng.integers(0, 300, (2, T))).astype(np.uint16)
    odd = rng.integers(0, 2, (2, T)).astype(np.uint8)  # the build's parity bits
    grid_codes = np.unique(codes[0, : max(1, T // 50)])  # some codes of the data...
    grid_codes = np.r_[grid_codes, 65000].astype(np.uint16)  # ...and one no step has
    t32 = rng.standard_normal(grid_codes.size + 3).astype(np.float32)
    index = 7 + rng.permutation(grid_codes.size + 3)[: grid_codes.size]  # grid indices
    grid = I.RoundGrid(0.1, 7, t32, grid_codes, index)
    high, low = (codes >> 8).astype(np.uint8), codes.astype(np.uint8)
    nspans = -(-T // span)
    counts = np.zeros((2, 256, nspans), np.uint32)
    for a in range(0, T, 97):  # in chunks, as the build counts them
        s0 = a // span
        part = np.zeros((2, 256, (min(T, a + 97) - 1) // span - s0 + 1), np.uint32)
        I.count_high(high[:, a : a + 97], a - s0 * span, span, part)
        counts[:, :, s0 : s0 + part.shape[2]] += part
    for c in range(2):
        for s in range(nspans):
            want = np.bincount(high[c, s * span : (s + 1) * span], minlength=256)
            assert counts[c, :, s].tolist() == want.tolist()
        region, sizes = I._cell_region(high[c], low[c], np.packbits(odd[c], bitorder="little"),
                                       counts[c], grid)
        assert region.size == sizes.sum() and (sizes > 0).sum() == np.unique(high[c]).size
        rel = np.r_[0, np.cumsum(sizes)]
        head_n = I._head_bytes(nspans)
        starts, ends = np.zeros(256, np.int64), np.zeros(256, np.int64)
        for g in np.flatnonzero(sizes):
            starts[g] = rel[g] + head_n
            ranks, sums = I._group_head(region[rel[g] : starts[g]], nspans,
                                        rel[g + 1] - starts[g], c, g)
            ends[g] = starts[g] + ranks[-1]
            steps = np.flatnonzero(high[c] == g)
            assert ranks.tolist() == np.searchsorted(steps, np.arange(nspans + 1) * span).tolist()
            data = region[starts[g] : ends[g]]
            assert data.tolist() == low[c, steps].tolist()
            assert [int(x) for x in sums] == [_plain_sum(data[ranks[s] : ranks[s + 1]])
                                              for s in range(nspans)]
            section = region[ends[g] : rel[g + 1]]
            for k, j in zip(grid_codes, index, strict=True):
                got = I._unpack_decisions(section, t32[j - 7], c, g)
                mine = np.flatnonzero(codes[c] == k)
                if k >> 8 != g or not mine.size:
                    assert got is None
                else:  # on where the step's parity is the threshold's
                    assert got.tolist() == (odd[c, mine] == j % 2).tolist()
        out = np.empty(T, np.uint16)
        assert I.join_codes(high[c], region, starts, ends, out)
        assert out.tolist() == codes[c].tolist()
        ends[high[c, 0]] -= 1  # a group one byte short
        assert not I.join_codes(high[c], region, starts, ends, out)


def test_a_damaged_group_head_or_section_is_refused():
    high = np.array([1, 1, 2, 1], np.uint8)
    counts = np.zeros((256, 1), np.uint32)
    counts[1, 0], counts[2, 0] = 3, 1
    t = np.float32(0.5)
    grid = I.RoundGrid(0.1, 5, np.array([t]), np.array([256 + 5], np.uint16), np.array([5]))
    region, sizes = I._cell_region(high, np.array([5, 6, 5, 5], np.uint8),
                                   np.packbits([1, 0, 1, 0], bitorder="little"), counts, grid)
    head_n = I._head_bytes(1)
    head = region[:head_n].copy()
    I._group_head(head, 1, sizes[1] - head_n, 0, 1)
    with pytest.raises(IndexCorrupt, match="cell 0, group 1"):
        I._group_head(head, 1, 14, 0, 1)  # too small for 3 low bytes and a section
    head[8] = 200  # ranks[1] = 200: more low bytes than the group holds
    with pytest.raises(IndexCorrupt):
        I._group_head(head, 1, sizes[1] - head_n, 0, 1)
    section = region[head_n + 3 : sizes[1]].copy()
    assert I._unpack_decisions(section, t, 0, 1).tolist() == [True, False]  # steps 0 and 3
    assert I._unpack_decisions(section, np.float32(0.25), 0, 1) is None
    for cut in (section[:-1], section[:5], section[:0]):
        with pytest.raises(IndexCorrupt, match="round thresholds of cell 0, group 1"):
            I._unpack_decisions(cut, t, 0, 1)
    section[5] ^= 1
    with pytest.raises(IndexCorrupt):
        I._unpack_decisions(section, t, 0, 1)


@pytest.mark.parametrize("lo,hi", [(-1, 1), (-3.7, 52.1), (2.5e-4, 7.5e-4), (-1e-3, 40)])
def test_round_thresholds_and_their_parity(lo, hi):
    """The multiples of the power of ten the client rounds a threshold handle to, each with
    the code the index gives its float32 (one per code), inside the cell's range; and
    grid_parity equal to the parity of the largest grid index at or below each value, for
    values at, next to and between the grid's float32 thresholds."""
    lo, hi = np.float32(lo), np.float32(hi)
    width = float(hi) - float(lo)
    scale = np.float32(I.TOP / width)
    grid = I._round_thresholds(lo, hi, scale, False)
    u = 10.0 ** np.floor(np.log10(width / 1000))
    assert grid.u == u and 1000 <= grid.codes.size <= 10001
    assert np.unique(grid.codes).size == grid.codes.size
    layout = {"lo": [float(lo)], "hi": [float(hi)], "scale": [float(scale)],
              "has_inf": [False]}
    for k, j in zip(grid.codes, grid.index, strict=True):
        t = grid.t32[j - grid.first]
        assert abs(float(t) / u - j) < 1e-3  # j * u, as float32
        assert I.CodeIndex.threshold_code(layout, 0, float(t)) == (int(k), True)
    rng = np.random.default_rng(int(hi))
    t32 = grid.t32
    values = np.concatenate([t32, np.nextafter(t32, np.float32(-np.inf)),
                             np.nextafter(t32, np.float32(np.inf)),
                             rng.uniform(lo, hi, 5000).astype(np.float32), [np.nan, np.inf]])
    values = values.astype(np.float32)[:, None]
    odd = np.empty((1, -(-values.size // 64)), np.uint64)
    I.grid_parity(values, np.array([1 / u]), np.array([I._margin(u, lo, hi)]),
                  np.array([grid.first]), t32[None], np.array([t32.size]), odd)
    got = np.unpackbits(odd.view(np.uint8), bitorder="little")[: values.size]
    f = grid.first + np.searchsorted(t32, values[:, 0], side="right") - 1  # plain
    inside = np.isfinite(values[:, 0]) & (values[:, 0] >= t32[0]) & (values[:, 0] < t32[-1])
    assert np.array_equal(got[inside], (f[inside] % 2).astype(np.uint8))
    assert got[-2:].tolist() == [0, 0]  # NaN and inf


def test_no_round_thresholds_for_infinite_or_constant_cells():
    for lo, hi, has_inf in ((-1, 1, True), (0, 0, False), (1e6, 1e6 + 1, False)):
        grid = I._round_thresholds(np.float32(lo), np.float32(hi), np.float32(1), has_inf)
        assert grid.u == 0 and grid.codes.size == 0
