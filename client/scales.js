// The value axis of the plot, per source: unbounded cell states (±30, ±400) would flatten
// every line on a linear axis over their extremes, so the user picks a view (state.js
// SCALES, the URL's `scale`), and a source's default threshold comes from its values.
//
//   clip    linear over the window's 1st..99th percentiles (and the threshold); values beyond
//           are drawn at the edge. [-1, 1] whenever the values fit, so bounded states keep
//           a steady axis while navigating.
//   full    linear over the whole window's range.
//   symlog  symmetric log (d3.scaleSymlog), linear within ±c, c = the median |value| (≤ 1).
//   tanh    tanh(value / c), c = the 90th percentile of |value|: the bulk stays linear, the
//           extremes are squeezed into the edges.
import d3 from "./d3.js";

// Order statistics of a window's values, each computed once (quickselect, O(n)): a new
// window costs a few selections, not a sort of its 65,000 values.
const stats = new WeakMap(); // values array -> Map(name -> number)

function memo(values, name, fn) {
  let m = stats.get(values);
  if (!m) {
    m = new Map();
    stats.set(values, m);
  }
  if (!m.has(name)) m.set(name, fn());
  return m.get(name);
}

function finite(values, abs) {
  const out = new Float32Array(values.length);
  let n = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (Number.isFinite(v)) out[n++] = abs ? Math.abs(v) : v;
  }
  return out.subarray(0, n);
}

/** The q-quantile (0..1) of the finite values (of their absolute values with abs), by the
 * nearest lower rank: the element at floor(q * n) of the sorted values; 0 when none. */
export function quantile(values, q, abs = false) {
  return memo(values, `${abs}|${q}`, () => {
    const a = finite(values, abs);
    if (!a.length) return 0;
    const k = Math.min(a.length - 1, Math.floor(q * a.length));
    d3.quickselect(a, k);
    return a[k];
  });
}

function extentOf(values) {
  return memo(values, "extent", () => {
    let lo = Infinity;
    let hi = -Infinity;
    for (let i = 0; i < values.length; i++) {
      const v = values[i];
      if (!Number.isFinite(v)) continue;
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    return lo > hi ? [0, 0] : [lo, hi];
  });
}

/**
 * The default threshold of a source, from the values of the window first shown: 0.3 (the
 * API's default) where the values fit [-1, 1] as after tanh; otherwise the 95th percentile of
 * the values, to two significant digits, so that about one value in twenty is on.
 * @param {{transform: string}} source
 * @param {Float32Array} values the window's values (NaN left out)
 * @returns {number}
 */
export function defaultThreshold(source, values) {
  if (source.transform === "tanh") return 0.3;
  const [lo, hi] = extentOf(values);
  if (lo >= -1 && hi <= 1) return 0.3;
  const v = Number(quantile(values, 0.95).toPrecision(2));
  return v === 0 ? 0 : v;
}

/**
 * The y scale (value -> px) of the plot and the threshold axis.
 * @param {string} kind one of state.js SCALES
 * @param {{transform: string, unsigned: boolean}} source
 * @param {Float32Array} values the window's values
 * @param {number} threshold
 * @param {[number, number]} range [bottom px, top px]
 * @returns a d3 scale (domain, range, invert, ticks, tickFormat, copy)
 */
export function valueScale(kind, source, values, threshold, range) {
  const [lo, hi] = extentOf(values);
  const th = Number.isFinite(threshold) ? Math.abs(threshold) : 0;
  const span = (m) => (source.unsigned ? [0, m] : [-m, m]);
  if (kind === "full") {
    return d3.scaleLinear().domain(span(Math.max(1e-9, Math.abs(lo), Math.abs(hi), th))).range(range).nice();
  }
  if (kind === "symlog") {
    const c = Math.min(1, Math.max(1e-3, quantile(values, 0.5, true)));
    const m = Math.max(1, Math.abs(lo), Math.abs(hi), th);
    return d3.scaleSymlog().constant(c).domain(span(m)).range(range);
  }
  if (kind === "tanh") {
    const c = Math.max(1e-6, quantile(values, 0.9, true) || 1);
    return tanhScale(c, source.unsigned, range);
  }
  // clip: [-1, 1] when the values fit, else the robust range, edges clamped
  let m = Math.max(1, th);
  if (source.transform !== "tanh" && values.length) m = Math.max(m, Math.abs(quantile(values, 0.01)), Math.abs(quantile(values, 0.99)));
  return d3.scaleLinear().domain(span(m)).range(range).clamp(true);
}

// y = linear(tanh(v / c)) over tanh's (-1, 1), with ticks at round values of v.
function tanhScale(c, unsigned, range) {
  const lin = d3.scaleLinear().domain([unsigned ? 0 : -1, 1]).range(range);
  const LIMIT = 0.995; // atanh(±1) is infinite: the axis ends where tanh is within 0.5% of 1
  const scale = (v) => lin(Math.tanh(v / c));
  scale.invert = (px) => c * Math.atanh(Math.max(-LIMIT, Math.min(LIMIT, lin.invert(px))));
  scale.domain = () => [unsigned ? 0 : -c * Math.atanh(LIMIT), c * Math.atanh(LIMIT)];
  scale.range = () => lin.range();
  scale.copy = () => tanhScale(c, unsigned, range);
  scale.ticks = (n = 6) => {
    // evenly spaced in screen space, each rounded to a short value
    const out = new Set();
    for (let i = 0; i <= n; i++) {
      const t = (unsigned ? 0 : -1) + ((unsigned ? 1 : 2) * i) / n;
      const v = c * Math.atanh(Math.max(-0.98, Math.min(0.98, t)));
      out.add(v === 0 ? 0 : Number(v.toPrecision(1)));
    }
    return [...out].sort((a, b) => a - b);
  };
  scale.tickFormat = () => (v) => (Math.abs(v) >= 1000 ? d3.format("~s")(v) : d3.format("~g")(v));
  scale.kind = "tanh";
  return scale;
}
