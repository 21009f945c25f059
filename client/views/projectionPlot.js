// A 2-D projection of states (GET /projection, papers/001_…): one dot per sampled state,
// coloured by a track; hovering a dot shows the text read up to it and its nearest
// neighbours on the plot; dragging on the background draws a lasso whose points are listed,
// and a listed point opens in the select view. One more point (your own text) may be drawn.
import d3 from "../d3.js";
import { OKABE_ITO } from "../colors.js";

const W = 560;
const H = 420;
const M = 14;
const R = 3.5;
const NEIGHBOURS = 3;
const LIST_MAX = 200; // lasso points listed (the count says how many were caught)
const EXTRA = OKABE_ITO[5]; // your text: vermillion, drawn as a larger diamond

/** Indices of the `k` points nearest to point `i` on the plot (Euclidean, itself excluded). */
export function nearest(points, i, k = NEIGHBOURS) {
  const p = points[i];
  return points.map((q, j) => [j, (q.x - p.x) ** 2 + (q.y - p.y) ** 2])
    .filter(([j]) => j !== i).sort((a, b) => a[1] - b[1] || a[0] - b[0]).slice(0, k).map(([j]) => j);
}

/** Indices of the points whose screen position [sx(x), sy(y)] lies inside `polygon`. */
export function insideLasso(points, polygon, sx, sy) {
  if (polygon.length < 3) return [];
  return points.flatMap((p, i) => (d3.polygonContains(polygon, [sx(p.x), sy(p.y)]) ? [i] : []));
}

/**
 * @param {{onOpen: (point: {seq: int, pos: int}) => void, onLasso: (indices: int[]) => void}} callbacks
 */
export function projectionPlot({ onOpen = () => {}, onLasso = () => {} } = {}) {
  const root = d3.create("div").attr("class", "projection-plot");
  const note = root.append("div").attr("class", "projection-note").attr("aria-live", "polite");
  const wrap = root.append("div").attr("class", "projection-wrap").style("position", "relative");
  const svg = wrap.append("svg").attr("class", "projection").attr("width", W).attr("height", H)
    .attr("role", "img").attr("aria-label", "projection of states");
  const back = svg.append("rect").attr("class", "lasso-area").attr("width", W).attr("height", H)
    .attr("fill", "#fcfcfc").attr("stroke", "#ddd").style("cursor", "crosshair");
  const dotsG = svg.append("g").attr("class", "dots");
  const extraG = svg.append("g").attr("class", "extra");
  const lassoPath = svg.append("path").attr("class", "lasso").attr("fill", "rgba(0,114,178,0.08)")
    .attr("stroke", "#0072B2").attr("stroke-dasharray", "4 3").attr("pointer-events", "none");
  const tip = wrap.append("div").attr("class", "projection-tip").attr("role", "tooltip")
    .style("position", "absolute").style("display", "none");
  const legend = root.append("div").attr("class", "projection-legend");
  const listHead = root.append("div").attr("class", "lasso-head");
  const list = root.append("ol").attr("class", "lasso-list").style("max-height", "16em").style("overflow-y", "auto");

  let points = [];
  let sx = d3.scaleLinear();
  let sy = d3.scaleLinear();
  let caught = [];
  let drawing = null;

  back.on("pointerdown", (event) => {
    drawing = [d3.pointer(event, svg.node())];
    back.node().setPointerCapture?.(event.pointerId);
    lassoPath.attr("d", null);
  });
  back.on("pointermove", (event) => {
    if (!drawing) return;
    drawing.push(d3.pointer(event, svg.node()));
    lassoPath.attr("d", `M${drawing.join("L")}Z`);
  });
  back.on("pointerup pointercancel", () => {
    if (!drawing) return;
    const polygon = drawing;
    drawing = null;
    caught = insideLasso(points, polygon, sx, sy);
    if (polygon.length < 3) lassoPath.attr("d", null);
    drawCaught();
    onLasso(caught);
  });

  function showTip(event, i) {
    const p = points[i];
    const near = nearest(points, i);
    tip.style("display", null).html("");
    tip.append("div").attr("class", "tip-text").text(p.text);
    tip.append("div").attr("class", "tip-where").text(`sequence ${p.seq}, step ${p.pos}`);
    const nl = tip.append("ul").attr("class", "tip-neighbours");
    nl.selectAll("li").data(near).join("li").text((j) => points[j].text);
    const [x, y] = d3.pointer(event, wrap.node());
    tip.style("left", `${Math.min(x + 12, W - 180)}px`).style("top", `${y + 12}px`);
    outline(near);
  }

  /** Strokes: neighbours of the hovered point in vermillion, lasso points thick black. */
  function outline(near = []) {
    dotsG.selectAll("circle")
      .classed("near", (_, j) => near.includes(j)).classed("caught", (_, j) => caught.includes(j))
      .attr("stroke", (_, j) => (near.includes(j) ? EXTRA : "#333"))
      .attr("stroke-width", (_, j) => (near.includes(j) ? 2 : caught.includes(j) ? 1.5 : 0.4));
  }

  function hideTip() {
    tip.style("display", "none");
    outline();
  }

  function drawCaught() {
    outline();
    listHead.text(caught.length ? `${caught.length} point${caught.length === 1 ? "" : "s"} in the lasso` +
      (caught.length > LIST_MAX ? ` (first ${LIST_MAX} listed)` : "") + "; click one to open it" : "");
    list.selectAll("li").data(caught.slice(0, LIST_MAX), (i) => i).join("li")
      .attr("class", "lasso-item").attr("tabindex", 0)
      .text((i) => `${points[i].text}  (step ${points[i].pos})`)
      .on("click", (_, i) => onOpen(points[i]))
      .on("keydown", (event, i) => { if (event.key === "Enter") onOpen(points[i]); });
  }

  /**
   * @param {{points: {x, y, seq, pos, text}[], colorOf: (i: int) => string,
   *          legend: {color: string, label: string}[], extra: {x, y, label}|null,
   *          note: string, busy: bool}} data
   */
  function update({ points: pts = [], colorOf = () => OKABE_ITO[4], legend: items = [], extra = null,
    note: text = "", busy = false }) {
    if (pts !== points) {
      points = pts;
      caught = [];
      lassoPath.attr("d", null);
    }
    root.classed("busy", busy);
    note.text(text);
    const all = extra ? [...points, extra] : points;
    const xs = d3.extent(all, (p) => p.x);
    const ys = d3.extent(all, (p) => p.y);
    sx = d3.scaleLinear().domain(xs[0] === undefined ? [0, 1] : xs).nice().range([M, W - M]);
    sy = d3.scaleLinear().domain(ys[0] === undefined ? [0, 1] : ys).nice().range([H - M, M]);
    dotsG.selectAll("circle").data(points).join("circle")
      .attr("class", "dot").attr("r", R)
      .attr("cx", (p) => sx(p.x)).attr("cy", (p) => sy(p.y))
      .attr("fill", (_, i) => colorOf(i))
      .on("pointerenter pointermove", (event, p) => showTip(event, points.indexOf(p)))
      .on("pointerleave", hideTip)
      .on("click", (_, p) => onOpen(p));
    extraG.selectAll("path").data(extra ? [extra] : []).join("path")
      .attr("class", "your-text").attr("d", d3.symbol(d3.symbolDiamond, 160))
      .attr("transform", (p) => `translate(${sx(p.x)},${sy(p.y)})`)
      .attr("fill", EXTRA).attr("stroke", "#000")
      .selectAll("title").data((p) => [p]).join("title").text((p) => p.label);
    const li = legend.selectAll("span.legend-item").data(items).join("span").attr("class", "legend-item")
      .style("margin-right", "12px").style("white-space", "nowrap");
    li.selectAll("i").data((d) => [d]).join("i").style("background", (d) => d.color)
      .style("display", "inline-block").style("width", "10px").style("height", "10px")
      .style("margin-right", "4px").style("border", "1px solid #333");
    li.selectAll("b").data((d) => [d]).join("b").style("font-weight", "normal").text((d) => d.label);
    drawCaught();
  }

  return {
    node: root.node(),
    update,
    destroy() {
      root.remove();
    },
  };
}
