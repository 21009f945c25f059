// A meta track under the words: categorical as labelled coloured boxes, scalar as a
// heatmap row, top-K as K rows of tokens with their probabilities.
import d3 from "../d3.js";
import { HOVER, categoryColor, sequential, textOn } from "../colors.js";
import { visibleToken } from "../text.js";

const ROW_H = 16;

/** Colour function of a meta track: categorical ids -> Okabe-Ito, scalars -> cividis over range. */
export function metaColor(track, values) {
  if (track.kind === "categorical") return categoryColor;
  if (track.kind === "scalar") {
    const range = track.range || values.range || d3.extent(values.values.filter((v) => v !== null));
    return sequential(range[0] ?? 0, range[1] ?? 1, d3.interpolateCividis);
  }
  return sequential(0, 1, (t) => d3.interpolateBlues(0.1 + 0.8 * t)); // top-K probabilities
}

/**
 * The legend spec of a track (see legend.js); a categorical legend lists the categories of
 * `occurring` (ids; default: those in `values`).
 */
export function metaLegend(track, values, occurring = null) {
  const color = metaColor(track, values);
  if (track.kind === "categorical") {
    const ids = occurring ?? values.values;
    const present = [...new Set(ids.filter((v) => v !== null && v >= 0))].sort((a, b) => a - b);
    return { kind: "categorical", labels: values.labels || track.labels || [], color, present };
  }
  if (track.kind === "scalar") return { kind: "sequential", domain: color.domain(), color };
  return { kind: "sequential", domain: [0, 1], color, title: "probability" };
}

/**
 * @param {{onHover: (step: number|null) => void}} opts
 */
export function metaTrack({ onHover = () => {} } = {}) {
  const svg = d3.create("svg").attr("class", "meta-track");

  // data: {track: MetaTrack, values: MetaValues, start: int, zoom: px, hovered: int|null}
  function update({ track, values, start, zoom, hovered }) {
    const color = metaColor(track, values);
    const cells = toCells(values, color);
    const rows = values.kind === "topk" ? Math.max(1, ...values.ids.map((r) => r.length)) : 1;
    svg.attr("width", (cells.length ? cells[cells.length - 1].i + 1 : 0) * zoom).attr("height", rows * ROW_H)
      .attr("role", "img").attr("aria-label", `meta track ${track.id}`);
    const g = svg.selectAll("g.cell")
      .data(cells)
      .join((enter) => {
        const e = enter.append("g").attr("class", "cell");
        e.append("rect").attr("height", ROW_H - 1);
        e.append("text").attr("y", ROW_H - 4).attr("text-anchor", "middle").attr("font-size", 10);
        e.append("title");
        return e;
      })
      .attr("transform", (c) => `translate(${c.i * zoom},${c.k * ROW_H})`)
      .on("mouseenter", (event, c) => onHover(start + c.i))
      .on("mouseleave", () => onHover(null));
    g.select("rect").attr("width", Math.max(1, zoom - 1)).attr("fill", (c) => c.fill)
      .attr("stroke", (c) => (start + c.i === hovered ? HOVER : null)).attr("stroke-width", 2);
    // a run of equal categories carries one label across its whole width
    g.select("text").attr("x", (c) => ((c.span ?? 1) * zoom) / 2).attr("fill", (c) => textOn(c.fill))
      .text((c) => (c.span === 0 ? "" : label(c, zoom * (c.span ?? 1))));
    g.filter((c) => c.span > 1).raise(); // painted after the rest of their run, so not covered
    g.select("title").text((c) => `${track.id} at step ${start + c.i}: ${c.title}`);
  }

  return { node: svg.node(), update, destroy: () => svg.remove() };
}

// Flatten MetaValues into boxes {i: step index, k: row, fill, text, title}.
function toCells(values, color) {
  if (values.kind === "categorical") {
    const labels = values.labels || [];
    const short = withoutCommonPrefix(labels); // "depth 0", "depth 1" -> "0", "1" in the boxes
    const vs = values.values;
    return vs.map((v, i) => {
      const label = v === null || v < 0 ? "—" : labels[v] ?? String(v);
      let span = 0; // the first step of a run labels it; the others stay blank
      if (i === 0 || vs[i - 1] !== v) while (i + span < vs.length && vs[i + span] === v) span += 1;
      return { i, k: 0, fill: color(v), text: short[v] ?? label, title: label, span };
    });
  }
  if (values.kind === "scalar") {
    const fmt = d3.format(".3~g");
    return values.values.map((v, i) => ({ i, k: 0, fill: color(v), text: "", title: v === null ? "no value" : fmt(v) }));
  }
  const out = [];
  values.ids.forEach((row, i) => row.forEach((id, k) => {
    const p = values.probs[i][k];
    const tok = values.tokens[i][k];
    out.push({ i, k, fill: color(p), text: visibleToken(tok), prob: p, title: `#${k + 1} ${JSON.stringify(tok)} p=${d3.format(".3f")(p)}` });
  }));
  return out;
}

// Top-K boxes wide enough show the probability too ("( .52").
function label(c, zoom) {
  if (zoom < 14) return "";
  if (c.prob === undefined || zoom < 36) return cut(c.text, zoom);
  return `${cut(c.text, zoom - 22)} ${d3.format(".2f")(c.prob).replace(/^0/, "")}`;
}

// "depth 0", "depth 1" -> "0", "1": a prefix shared by every label is dropped up to its last
// word break only, so "Comment", "Code" stay whole
function withoutCommonPrefix(labels) {
  if (labels.length < 2) return labels;
  let n = 0;
  while (labels.every((l) => l.length > n + 1 && l[n] === labels[0][n])) n += 1;
  const cut = Math.max(...[" ", "_", "-", ":", "/", "="].map((c) => labels[0].lastIndexOf(c, n - 1))) + 1;
  return labels.map((l) => l.slice(cut));
}

function cut(text, zoom) {
  const chars = Math.max(1, Math.floor((zoom - 2) / 6));
  return text.length <= chars ? text : `${text.slice(0, Math.max(1, chars - 1))}…`;
}
