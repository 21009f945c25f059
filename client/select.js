// Pure helpers over a context answer: the local select preview and on-counts (the value
// axis is scales.js).
// Same rule as the server (DESIGN.md): on(t, c) := value >= threshold; steps outside the
// window are unknown here, so the preview gives up (null) when the padding leaves it.

/**
 * Preview of the server's select from the window's values, or null when it cannot be exact.
 * @param {object} ctx context answer with all cells (states: float[D][steps])
 * @param {object} s state (start, end, threshold, pad_left, pad_right, source)
 * @returns {int[]|null}
 */
export function localSelect(ctx, s) {
  if (!ctx || ctx.source !== s.source || s.start === null) return null;
  const a = s.start - ctx.start;
  const b = s.end - ctx.start;
  const steps = ctx.tokens.length;
  if (a < 0 || b >= steps) return null;
  const starts = ctx.sequence_starts.map((t) => t - ctx.start);
  if (starts.some((t) => t > a && t <= b)) return null; // crosses a boundary: the server says why
  // positions outside the range's sequence count as off, so its bounds cut the padding
  const before = starts.filter((t) => t <= a);
  const after = starts.filter((t) => t > b);
  const lo = Math.max(a - s.pad_left, before.length ? Math.max(...before) : -Infinity);
  const hi = Math.min(b + s.pad_right, after.length ? Math.min(...after) - 1 : Infinity);
  if (lo < 0 || hi >= steps) return null; // the padding leaves the window: wait for the server
  const out = [];
  for (let r = 0; r < ctx.cells.length; r++) {
    const row = ctx.states[r];
    let ok = true;
    for (let t = a; t <= b && ok; t++) ok = row[t] >= s.threshold;
    for (let t = lo; t < a && ok; t++) ok = !(row[t] >= s.threshold);
    for (let t = b + 1; t <= hi && ok; t++) ok = !(row[t] >= s.threshold);
    if (ok) out.push(ctx.cells[r]);
  }
  return out;
}

/** Per step of the window, how many of `cells` are on. @returns {int[]} */
export function onCountOf(ctx, cells, threshold) {
  const steps = ctx.tokens.length;
  const counts = new Array(steps).fill(0);
  const rowOf = new Map(ctx.cells.map((c, r) => [c, r]));
  for (const c of cells) {
    const row = ctx.states[rowOf.get(c)];
    if (!row) continue;
    for (let t = 0; t < steps; t++) if (row[t] >= threshold) counts[t] += 1;
  }
  return counts;
}
