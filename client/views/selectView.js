// The select view: threshold axis + line plot, word row with brush and padding handles,
// on-count heatmap, meta tracks and the cell list, laid out as rows that scroll together
// horizontally while their labels stay put. It composes the smaller views and passes
// their callbacks through; it holds no app state.
import d3 from "../d3.js";
import { countScale } from "../colors.js";
import { cellInfo } from "./cellInfo.js";
import { cellList } from "./cellList.js";
import { heatmapRow } from "./heatmapRow.js";
import { legend } from "./legend.js";
import { linePlot } from "./linePlot.js";
import { metaLegend, metaTrack } from "./metaTrack.js";
import { stepAxis } from "./stepAxis.js";
import { thresholdAxis } from "./thresholdAxis.js";
import { wordRow } from "./wordRow.js";

const PLOT_H = 200;
const LABEL_W = 130;

/**
 * @param {{onThreshold, onBrush, onPadding, onHoverCell, onHoverStep, onToggleCell,
 *          onAddCell, onRemoveCell, onClear, onCloseMeta, onPickCell, onHoverPlot, onMatch}} cb
 *   onHoverPlot(cell|null, step|null): the pointer over the plot (absolute step);
 *   onMatch(): "Match these cells" 
 */
export function selectView(cb) {
  const root = d3.create("section").attr("class", "select-view").attr("aria-label", "select view");
  const grid = root.append("div").attr("class", "select-grid");
  const row = (cls, labelText) => {
    const r = grid.append("div").attr("class", `row ${cls}`);
    const label = r.append("div").attr("class", "label").style("width", `${LABEL_W}px`);
    if (labelText) label.append("span").attr("class", "row-title").text(labelText);
    return { row: r, label, content: r.append("div").attr("class", "content") };
  };

  const axis = thresholdAxis({ width: LABEL_W, height: PLOT_H, onThreshold: cb.onThreshold });
  const readout = root.append("div").attr("class", "hover-info").attr("aria-live", "polite").text("\u00a0");
  const plot = linePlot({
    height: PLOT_H,
    onHover: (c, i) => cb.onHoverPlot(c, i === null || !last ? null : last.context.start + i),
    onToggle: cb.onToggleCell,
  });
  const steps = stepAxis();
  const stepRow = row("step-row", "step");
  stepRow.content.node().append(steps.node);
  const plotRow = row("plot-row");
  plotRow.label.node().append(axis.node);
  plotRow.content.node().append(plot.node);

  const words = wordRow({ onBrush: cb.onBrush, onPadding: cb.onPadding, onHover: cb.onHoverStep });
  const wordsRow = row("words-row", "words");
  wordsRow.label.append("span").attr("class", "hint").text("drag to select; ◀ ▶ set padding");
  wordsRow.content.node().append(words.node);

  const count = heatmapRow({ label: "selected cells on", onHover: cb.onHoverStep });
  const countRow = row("count-row", "cells on");
  const countLegend = legend({ kind: "sequential", domain: [0, 1], color: countScale(1) });
  countRow.label.node().append(countLegend.node);
  countRow.content.node().append(count.node);

  const metaBox = grid.append("div").attr("class", "meta-rows");
  const tracks = new Map(); // id -> {row, view, legend}

  const cells = cellList({ onHover: cb.onHoverCell, onAdd: cb.onAddCell, onRemove: cb.onRemoveCell,
    onClear: cb.onClear, onPick: cb.onPickCell });
  root.node().append(cells.node);
  const matchButton = d3.select(cells.node).append("button").attr("type", "button")
    .attr("class", "primary open-match").text("Match these cells").on("click", () => cb.onMatch());
  const info = cellInfo({ onClose: () => cb.onPickCell(null) });
  root.node().append(info.node);

  let last = null;

  // data: {context, source, state (cells: those shown), onCount: int[], y: scale (value -> px over
  //        [PLOT_H - 4, 4], scales.js), values: Float32Array (the window's values, for the
  //        histogram), hover: {cell, step}, trackInfo: Map id -> MetaTrack,
  //        pending: bool (the cells shown are a preview of the server's select)}
  function update(data) {
    last = { ...data };
    matchButton.attr("disabled", data.state.cells.length ? null : true)
      .style("display", data.state.match ? "none" : null);
    axis.update({ y: last.y, threshold: data.state.threshold, values: data.values });
    const n = data.state.cells.length;
    last.color = countScale(n);
    countLegend.update({ kind: "sequential", domain: [0, Math.max(1, n)], color: last.color });
    updateTracks(data.state, data.context, data.trackInfo, true);
    draw();
  }

  /** Redraw only what hover changes (cheap: no histogram, no legends). */
  function setHover(hover) {
    if (!last) return;
    last.hover = hover;
    draw();
  }

  function draw() {
    const { context, source, state, onCount, hover, y, color } = last;
    const zoom = state.zoom;
    const start = context.start;
    steps.update({ start, steps: context.tokens.length, zoom });
    plot.update({ states: context.states, cells: context.cells, selected: new Set(state.cells), hovered: hover.cell, threshold: state.threshold, y, zoom });
    words.update({
      tokens: context.tokens, start, zoom, hovered: hover.step,
      brush: state.start === null ? null : [state.start, state.end],
      pad: [state.pad_left, state.pad_right], sequenceStarts: context.sequence_starts,
      background: (i) => background(state, start + i), marked: state.mark,
    });
    count.update({ values: onCount, start, zoom, color, hovered: hover.step, format: (v) => `${v} of ${state.cells.length}` });
    updateTracks(state, context, last.trackInfo, false);
    cells.update({ cells: state.cells, added: state.added, hovered: hover.cell, D: source.shape[1], pending: last.pending });
    readout.text(describeHover(context, hover, state));
  }

  function updateTracks(state, context, trackInfo, withLegends) {
    const hover = last.hover;
    const zoom = state.zoom;
    const shown = state.meta.filter((id) => context.meta && context.meta[id] && trackInfo.has(id));
    for (const [id, t] of tracks) {
      if (!shown.includes(id)) {
        t.row.remove();
        tracks.delete(id);
      }
    }
    for (const id of shown) {
      let t = tracks.get(id);
      if (!t) {
        const r = metaBox.append("div").attr("class", "row meta-row").attr("data-meta", id);
        const label = r.append("div").attr("class", "label").style("width", `${LABEL_W}px`);
        const head = label.append("div").attr("class", "meta-head");
        head.append("span").attr("class", "row-title").text(id);
        head.append("button").attr("type", "button").attr("class", "close").text("×")
          .attr("aria-label", `hide meta track ${id}`).on("click", () => cb.onCloseMeta(id));
        const view = metaTrack({ onHover: cb.onHoverStep });
        const content = r.append("div").attr("class", "content");
        content.node().append(view.node);
        t = { row: r, view, legendBox: label.append("div") };
        tracks.set(id, t);
      }
      const track = trackInfo.get(id);
      const values = context.meta[id];
      t.view.update({ track, values, start: context.start, zoom, hovered: hover.step });
      if (withLegends) {
        t.legendBox.selectAll("*").remove();
        t.legendBox.node().append(legend(metaLegend(track, values)).node);
      }
    }
    // keep the rows in the order of state.meta
    for (const id of shown) metaBox.node().append(tracks.get(id).row.node());
  }

  return { node: root.node(), update, setHover, setCellInfo: info.update, destroy: () => root.remove() };
}

// The words' background: the brushed range blue, the marked range (a match row or search
// hit opened here) yellow.
function background(state, t) {
  if (state.start !== null && t >= state.start && t <= state.end) return "#e8f3fb";
  if (state.mark && t >= state.mark[0] && t <= state.mark[1]) return "#fff1b8";
  return null;
}

// What the pointer is on: the step and its word, the cell and its value there.
function describeHover(context, hover, state) {
  const parts = [];
  const i = hover.step === null ? -1 : hover.step - context.start;
  const inWindow = i >= 0 && i < context.tokens.length;
  if (inWindow) parts.push(`step ${hover.step} ${JSON.stringify(context.tokens[i])}`);
  if (hover.cell !== null) {
    const row = context.cells.indexOf(hover.cell);
    const v = row >= 0 && i >= 0 ? context.states[row][i] : undefined;
    const on = v === undefined ? "" : v >= state.threshold ? " (on)" : " (off)";
    parts.push(`cell ${hover.cell}${state.cells.includes(hover.cell) ? ", selected" : ""}`
      + `${v === undefined || v === null ? "" : `: ${d3.format(".3f")(v)}${on}`}`);
  }
  if (inWindow) for (const id of state.meta) if (context.meta?.[id]) parts.push(`${id}: ${metaAt(context.meta[id], i)}`);
  if (inWindow) parts.push(...sequenceAt(context, hover.step));
  return parts.length ? parts.join(" · ") : "\u00a0";
}

// The sequence-level tracks (gold label, prediction, confidence...) of the sequence holding
// step t: the context lists the window's sequences in order, one more after each start.
function sequenceAt(context, t) {
  const sm = context.sequence_meta;
  const ids = Object.keys(sm?.values ?? {});
  if (!ids.length) return [];
  const j = (context.sequence_starts ?? []).filter((s) => s > context.start && s <= t).length;
  if (j >= sm.sequences.length) return [];
  return [`sequence ${sm.sequences[j]}: ${ids.map((id) => `${id} ${metaAt(sm.values[id], j)}`).join(", ")}`];
}

// A meta track's value at window index i, as text (top-K with its probabilities).
function metaAt(values, i) {
  const f = d3.format(".2f");
  if (values.kind === "categorical") {
    const v = values.values[i];
    return v === null || v < 0 ? "none" : values.labels?.[v] ?? String(v);
  }
  if (values.kind === "scalar") return values.values[i] === null ? "no value" : d3.format(".3~g")(values.values[i]);
  return values.tokens[i].map((t, k) => `${JSON.stringify(t)} ${f(values.probs[i][k])}`).join(", ");
}
