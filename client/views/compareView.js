// Two sources side by side over one window (LSTMVis issue #22, RNNVis's model comparison):
// the selected cells of this source and the cells carried to the other (GET /align), as
// heatmaps over the same tokens, one above the other step under step, with one shared brush;
// a table of the carried pairs and r.
import d3 from "../d3.js";
import { OKABE_ITO } from "../colors.js";

const CELL_H = 10;
const STEP_W = 14;
const TOKENS_H = 18;
const LABEL_W = 34;
const MAX_ROWS = 60;

/** Diverging colour of a value in [-1, 1] (orange high, blue low, white 0). */
export function valueColor(v) {
  if (v === null || v === undefined || Number.isNaN(v)) return "#eeeeee";
  const t = Math.max(-1, Math.min(1, v));
  return t >= 0 ? d3.interpolateRgb("#f7f7f7", OKABE_ITO[0])(t) : d3.interpolateRgb("#f7f7f7", OKABE_ITO[4])(-t);
}

/** The carried cells: the best match of each pair, each once, in pair order. */
export function carried(pairs) {
  const out = [];
  for (const p of pairs ?? []) {
    const best = p.matches[0]?.cell;
    if (best !== undefined && !out.includes(best)) out.push(best);
  }
  return out;
}

function pane(parent, side, onBrush) {
  const box = parent.append("div").attr("class", `compare-pane compare-${side}`);
  const title = box.append("div").attr("class", "compare-title");
  const svg = box.append("svg").attr("class", "compare-heatmap");
  const rows = svg.append("g").attr("class", "rows").attr("transform", `translate(${LABEL_W},0)`);
  const labels = svg.append("g").attr("class", "labels");
  const tokens = svg.append("g").attr("class", "tokens").attr("transform", `translate(${LABEL_W},0)`);
  const markG = svg.append("g").attr("class", "mark").attr("transform", `translate(${LABEL_W},0)`);
  const brushG = svg.append("g").attr("class", "brush").attr("transform", `translate(${LABEL_W},0)`);
  let start = 0;
  let steps = 0;
  const brush = d3.brushX().on("end", (event) => {
    if (!event.sourceEvent || !event.selection) return; // only a person's gesture
    const [x0, x1] = event.selection;
    const a = start + Math.max(0, Math.floor(x0 / STEP_W));
    const b = start + Math.min(steps - 1, Math.ceil(x1 / STEP_W) - 1);
    brushG.call(brush.move, null);
    if (b >= a) onBrush([a, b]);
  });

  function update({ title: text, window, mark }) {
    title.text(text);
    if (!window) {
      svg.attr("width", 0).attr("height", 0);
      return;
    }
    start = window.start;
    steps = window.tokens.length;
    const shown = window.cells.slice(0, MAX_ROWS);
    const height = shown.length * CELL_H;
    svg.attr("width", LABEL_W + steps * STEP_W + 4).attr("height", height + TOKENS_H + 4);
    rows.selectAll("g.row").data(shown.map((c, i) => ({ c, i, values: window.states[i] })), (d) => d.c)
      .join("g").attr("class", "row").attr("transform", (d) => `translate(0,${d.i * CELL_H})`)
      .selectAll("rect").data((d) => d.values).join("rect")
      .attr("x", (_, t) => t * STEP_W).attr("width", STEP_W - 1).attr("height", CELL_H - 1)
      .attr("fill", valueColor);
    labels.selectAll("text").data(shown).join("text").attr("x", LABEL_W - 4)
      .attr("y", (_, i) => i * CELL_H + CELL_H - 2).attr("text-anchor", "end").attr("font-size", 9)
      .text((c) => c);
    tokens.selectAll("text").data(window.tokens).join("text")
      .attr("x", (_, t) => t * STEP_W + STEP_W / 2).attr("y", height + 13)
      .attr("text-anchor", "middle").attr("font-size", 10).text((w) => w);
    const m = mark && mark[1] >= start && mark[0] < start + steps
      ? [Math.max(mark[0], start) - start, Math.min(mark[1], start + steps - 1) - start] : null;
    markG.selectAll("rect").data(m ? [m] : []).join("rect")
      .attr("x", (d) => d[0] * STEP_W - 1).attr("width", (d) => (d[1] - d[0] + 1) * STEP_W + 1)
      .attr("y", 0).attr("height", height + TOKENS_H).attr("fill", "none")
      .attr("stroke", "#000").attr("stroke-width", 1.5);
    brush.extent([[0, 0], [Math.max(1, steps * STEP_W), height + TOKENS_H]]);
    brushG.call(brush);
  }

  return { update };
}

/**
 * @param {{onTarget: (t: {dataset: string, source: string}) => void, onCarry: () => void,
 *          onMatchThere: () => void, onBrush: (range: int[]) => void}} callbacks
 */
export function compareView({ onTarget = () => {}, onCarry = () => {}, onMatchThere = () => {}, onBrush = () => {} } = {}) {
  const root = d3.create("div").attr("class", "compare-view");
  const bar = root.append("div").attr("class", "compare-bar");
  const pick = bar.append("label").text("compare with ").append("select").attr("name", "target");
  const carry = bar.append("button").attr("type", "button").attr("class", "carry")
    .text("Carry the selection there");
  const there = bar.append("button").attr("type", "button").attr("class", "match-there")
    .text("Match there");
  const note = root.append("div").attr("class", "compare-note").attr("aria-live", "polite");
  // one above the other, step under step: the shared window reads straight down
  const panes = root.append("div").attr("class", "compare-panes").style("display", "flex")
    .style("flex-direction", "column").style("gap", "8px").style("overflow-x", "auto");
  const left = pane(panes, "left", (r) => onBrush(r));
  const right = pane(panes, "right", (r) => onBrush(r));
  const table = root.append("table").attr("class", "compare-pairs");
  pick.on("change", () => {
    const [dataset, source] = JSON.parse(pick.property("value"));
    onTarget({ dataset, source });
  });
  carry.on("click", () => onCarry());
  there.on("click", () => onMatchThere());

  /**
   * @param {{targets: {dataset, source, label}[], target: {dataset, source}|null,
   *          left: {title, window}, right: {title, window}, pairs: object[]|null,
   *          mark: int[]|null, note: string, canCarry: bool, canMatch: bool}} data
   */
  function update({ targets = [], target = null, left: l, right: r, pairs = null, mark = null, note: text = "",
    canCarry = false, canMatch = false }) {
    pick.selectAll("option").data(targets, (t) => `${t.dataset}/${t.source}`).join("option")
      .attr("value", (t) => JSON.stringify([t.dataset, t.source])).text((t) => t.label);
    if (target) pick.property("value", JSON.stringify([target.dataset, target.source]));
    carry.attr("disabled", canCarry ? null : true);
    there.attr("disabled", canMatch ? null : true);
    note.text(text);
    left.update({ ...l, mark });
    right.update({ ...r, mark });
    const rows = (pairs ?? []).map((p) => ({ cell: p.cell, best: p.matches[0] ?? null, more: p.matches.slice(1) }));
    table.selectAll("thead").data(rows.length ? [0] : []).join("thead").selectAll("tr").data([0]).join("tr")
      .selectAll("th").data(["cell", "best match", "r", "next"]).join("th").text((d) => d);
    table.selectAll("tbody").data([0]).join("tbody").selectAll("tr.pair").data(rows, (d) => d.cell).join("tr")
      .attr("class", "pair")
      .selectAll("td").data((d) => [d.cell, d.best?.cell ?? "—", d.best ? d.best.r.toFixed(3) : "",
        d.more.map((m) => `${m.cell} (${m.r.toFixed(2)})`).join(", ")]).join("td").text((v) => v);
  }

  return {
    node: root.node(),
    update,
    destroy() {
      root.remove();
    },
  };
}
