// Colour-blind-safe palettes: Okabe-Ito for categories, viridis / cividis for quantities.
import d3 from "./d3.js";

/** Okabe & Ito (2008), distinguishable under the common colour-vision deficiencies. */
export const OKABE_ITO = ["#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7", "#000000"];

export const SELECTED = "#0072B2"; // selected cell lines and chips (blue)
export const HOVER = "#D55E00"; // the hovered cell or step (vermillion)
export const THRESHOLD = "#E69F00"; // the threshold line (orange)
export const UNSELECTED = "#8c8c8c";

/** Colour of category i; beyond eight, greys that stay distinct from the hues. */
export function categoryColor(i) {
  if (i === null || i === undefined || i < 0) return "#ffffff";
  if (i < OKABE_ITO.length) return OKABE_ITO[i];
  const g = 90 + ((i - OKABE_ITO.length) * 37) % 140;
  return d3.rgb(g, g, g).formatHex();
}

/** Sequential scale over [lo, hi] (viridis for counts, cividis for scalars); null -> light grey. */
export function sequential(lo, hi, interpolator = d3.interpolateViridis) {
  const scale = d3.scaleSequential(interpolator).domain([lo, hi === lo ? lo + 1 : hi]).clamp(true);
  const fn = (v) => (v === null || v === undefined || Number.isNaN(v) ? "#eeeeee" : scale(v));
  fn.domain = () => scale.domain();
  fn.interpolator = interpolator;
  return fn;
}

/** Count scale: 0 is white so that "no cell on" reads as empty, 1..max follow viridis reversed. */
export function countScale(max) {
  const scale = sequential(1, Math.max(1, max), (t) => d3.interpolateViridis(1 - t * 0.9));
  const fn = (v) => (v === null || v === undefined ? "#eeeeee" : v <= 0 ? "#ffffff" : scale(v));
  fn.domain = () => [0, Math.max(1, max)];
  fn.interpolator = (t) => (t <= 0 ? "#ffffff" : d3.interpolateViridis(1 - t * 0.9));
  return fn;
}

/** Black or white text, whichever reads better on `background`. */
export function textOn(background) {
  const c = d3.rgb(background);
  const lum = 0.2126 * c.r + 0.7152 * c.g + 0.0722 * c.b;
  return lum > 140 ? "#000000" : "#ffffff";
}
