// Exports from the page: the select view as a figure (SVG for a paper, PNG for a slide) and
// the match rows as CSV or JSON. The figure is a list of drawing primitives built once from
// the data on screen and written out by one of two small renderers (SVG text or a canvas), so
// both files show the same thing.
import d3 from "./d3.js";
import { SELECTED, THRESHOLD, UNSELECTED } from "./colors.js";
import { visibleToken } from "./text.js";

const AXIS_W = 48; // value axis labels
const TOP = 18; // step numbers
const PLOT_H = 200;
const WORD_H = 22;
const PNG_SCALE = 2; // PNG pixels per CSS pixel

/**
 * The primitives of the select view's figure.
 * @param {{context: object, state: object (cells shown), y: scale (value -> px over [PLOT_H-4, 4]),
 *          tickEvery: int}} d
 * @returns {{width: number, height: number, items: object[]}} items: {t: "line"|"path"|"rect"|"text", ...}
 */
export function selectFigure({ context, state, y, tickEvery }) {
  const zoom = state.zoom;
  const steps = context.tokens.length;
  const width = AXIS_W + steps * zoom;
  const items = [];
  const X = (i) => AXIS_W + (i + 0.5) * zoom;
  const Y = (v) => TOP + y(v);
  // step numbers
  for (let t = Math.ceil(context.start / tickEvery) * tickEvery; t < context.start + steps; t += tickEvery) {
    items.push({ t: "text", x: X(t - context.start), y: TOP - 5, text: d3.format(",")(t), size: 10, anchor: "middle", fill: "#666" });
  }
  // value axis
  for (const v of y.ticks(5)) {
    items.push({ t: "line", x1: AXIS_W - 4, y1: Y(v), x2: AXIS_W, y2: Y(v), stroke: "#888", width: 1 });
    items.push({ t: "text", x: AXIS_W - 6, y: Y(v) + 3, text: y.tickFormat(5)(v), size: 10, anchor: "end", fill: "#444" });
  }
  items.push({ t: "line", x1: AXIS_W, y1: TOP, x2: AXIS_W, y2: TOP + PLOT_H, stroke: "#888", width: 1 });
  items.push({ t: "line", x1: AXIS_W, y1: Y(0), x2: width, y2: Y(0), stroke: "#cccccc", width: 1 });
  // the brushed range, then the lines: unselected faint, selected on top
  if (state.start !== null && state.end >= context.start && state.start < context.start + steps) {
    const a = Math.max(0, state.start - context.start);
    const b = Math.min(steps - 1, state.end - context.start);
    items.push({ t: "rect", x: AXIS_W + a * zoom, y: TOP, w: (b - a + 1) * zoom, h: PLOT_H + WORD_H, fill: "#e8f3fb" });
  }
  const selected = new Set(state.cells);
  const alpha = Math.min(0.6, Math.max(0.05, 3 / Math.sqrt(context.cells.length)));
  const line = (row) => row.map((v, i) => (v === null ? null : [X(i), Y(v)]));
  context.cells.forEach((c, r) => {
    if (!selected.has(c)) items.push({ t: "path", pts: line(context.states[r]), stroke: UNSELECTED, width: 1, alpha, cell: c });
  });
  context.cells.forEach((c, r) => {
    if (selected.has(c)) items.push({ t: "path", pts: line(context.states[r]), stroke: SELECTED, width: 1.5, alpha: 0.9, cell: c });
  });
  items.push({ t: "line", x1: AXIS_W, y1: Y(state.threshold), x2: width, y2: Y(state.threshold), stroke: THRESHOLD, width: 1.5, dash: [6, 3] });
  items.push({ t: "text", x: AXIS_W + 4, y: Y(state.threshold) - 4, text: `θ ${state.threshold}`, size: 10, anchor: "start", fill: "#7a4f00" });
  // the words
  const wy = TOP + PLOT_H;
  context.tokens.forEach((tok, i) => {
    const marked = state.mark && context.start + i >= state.mark[0] && context.start + i <= state.mark[1];
    items.push({ t: "rect", x: AXIS_W + i * zoom, y: wy, w: zoom - 1, h: WORD_H - 2, fill: marked ? "#fff1b8" : "none", stroke: "#dddddd" });
    items.push({ t: "text", x: X(i), y: wy + WORD_H / 2 + 3, text: visibleToken(tok), size: Math.min(12, zoom * 0.7), anchor: "middle", fill: "#1b1b1b", mono: true });
  });
  return { width, height: wy + WORD_H, items };
}

/** The figure as an SVG document (text). */
export function toSVG({ width, height, items }) {
  const svg = d3.create("svg").attr("xmlns", "http://www.w3.org/2000/svg")
    .attr("width", width).attr("height", height).attr("viewBox", `0 0 ${width} ${height}`)
    .attr("font-family", "system-ui, sans-serif");
  svg.append("rect").attr("width", width).attr("height", height).attr("fill", "#ffffff");
  for (const it of items) {
    if (it.t === "line") {
      svg.append("line").attr("x1", it.x1).attr("y1", it.y1).attr("x2", it.x2).attr("y2", it.y2)
        .attr("stroke", it.stroke).attr("stroke-width", it.width).attr("stroke-dasharray", it.dash ? it.dash.join(" ") : null);
    } else if (it.t === "rect") {
      svg.append("rect").attr("x", it.x).attr("y", it.y).attr("width", it.w).attr("height", it.h)
        .attr("fill", it.fill).attr("stroke", it.stroke ?? null);
    } else if (it.t === "path") {
      svg.append("path").attr("d", pathData(it.pts)).attr("fill", "none").attr("stroke", it.stroke)
        .attr("stroke-width", it.width).attr("stroke-opacity", it.alpha).attr("data-cell", it.cell);
    } else {
      svg.append("text").attr("x", it.x).attr("y", it.y).attr("font-size", it.size).attr("text-anchor", it.anchor)
        .attr("fill", it.fill).attr("font-family", it.mono ? "ui-monospace, monospace" : null).text(it.text);
    }
  }
  return `<?xml version="1.0" encoding="UTF-8"?>\n${new XMLSerializer().serializeToString(svg.node())}`;
}

// "M x,y L x,y ..." with a new M after each missing value
function pathData(pts) {
  let d = "";
  let down = false;
  for (const p of pts) {
    if (p === null) {
      down = false;
      continue;
    }
    d += `${down ? "L" : "M"}${p[0].toFixed(1)},${p[1].toFixed(1)}`;
    down = true;
  }
  return d;
}

/** The figure drawn on a canvas at PNG_SCALE. @returns {HTMLCanvasElement} */
export function toCanvas({ width, height, items }) {
  const canvas = document.createElement("canvas");
  canvas.width = Math.ceil(width * PNG_SCALE);
  canvas.height = Math.ceil(height * PNG_SCALE);
  const ctx = canvas.getContext("2d");
  ctx.scale(PNG_SCALE, PNG_SCALE);
  ctx.fillStyle = "#ffffff";
  ctx.fillRect(0, 0, width, height);
  for (const it of items) {
    ctx.save();
    if (it.t === "line") {
      ctx.strokeStyle = it.stroke;
      ctx.lineWidth = it.width;
      if (it.dash) ctx.setLineDash(it.dash);
      ctx.beginPath();
      ctx.moveTo(it.x1, it.y1);
      ctx.lineTo(it.x2, it.y2);
      ctx.stroke();
    } else if (it.t === "rect") {
      if (it.fill !== "none") {
        ctx.fillStyle = it.fill;
        ctx.fillRect(it.x, it.y, it.w, it.h);
      }
      if (it.stroke) {
        ctx.strokeStyle = it.stroke;
        ctx.strokeRect(it.x + 0.5, it.y + 0.5, it.w - 1, it.h - 1);
      }
    } else if (it.t === "path") {
      ctx.strokeStyle = it.stroke;
      ctx.lineWidth = it.width;
      ctx.globalAlpha = it.alpha;
      ctx.beginPath();
      let down = false;
      for (const p of it.pts) {
        if (p === null) down = false;
        else if (down) ctx.lineTo(p[0], p[1]);
        else {
          ctx.moveTo(p[0], p[1]);
          down = true;
        }
      }
      ctx.stroke();
    } else {
      ctx.fillStyle = it.fill;
      ctx.font = `${it.size}px ${it.mono ? "ui-monospace, monospace" : "system-ui, sans-serif"}`;
      ctx.textAlign = it.anchor === "middle" ? "center" : it.anchor;
      ctx.fillText(it.text, it.x, it.y);
    }
    ctx.restore();
  }
  return canvas;
}

/** The match rows as CSV: one line per row, the matched words as text. */
export function matchCSV(result) {
  const head = ["start", "end", "length", "overlap", "union", "extra", "matched_tokens"];
  const rows = result.matches.map((m) => {
    const a = m.start - m.window_start;
    const words = m.tokens.slice(a, a + m.length).join(" ");
    return [m.start, m.end, m.length, m.overlap, m.union, m.extra, words];
  });
  return [head, ...rows].map((r) => r.map(csvField).join(",")).join("\r\n") + "\r\n";
}

// RFC 4180: a field with a comma, quote or line break is quoted, quotes doubled
function csvField(v) {
  const s = String(v);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** Offer `blob` as a download named `filename`. */
export function download(blob, filename) {
  const url = URL.createObjectURL(blob);
  const a = document.createElement("a");
  a.href = url;
  a.download = filename;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

export function exportSVG(figure, filename) {
  download(new Blob([toSVG(figure)], { type: "image/svg+xml" }), filename);
}

export function exportPNG(figure, filename) {
  toCanvas(figure).toBlob((blob) => download(blob, filename), "image/png");
}

export function exportCSV(result, filename) {
  download(new Blob([matchCSV(result)], { type: "text/csv" }), filename);
}

export function exportJSON(value, filename) {
  download(new Blob([JSON.stringify(value, null, 2)], { type: "application/json" }), filename);
}
