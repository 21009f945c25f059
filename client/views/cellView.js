// One cell (papers/000_… Neuron view, papers/004_…): the text of the current window coloured
// by the cell's value against the threshold (diverging colours, white at the threshold), the
// cell's statistics over the whole data set, its top-activating contexts, the labels of the
// meta tracks it detects best (F1 of the cell as a threshold detector) and the words it
// responds to most (expected response).
import d3 from "../d3.js";
import { OKABE_ITO, textOn } from "../colors.js";

const BAR_W = 120;

/** Diverging colour of a value against the threshold: teal above, brown below (BrBG). */
export function valueColor(lo, threshold, hi) {
  const below = Math.max(threshold - lo, 1e-9);
  const above = Math.max(hi - threshold, 1e-9);
  return (v) => {
    if (v === null || v === undefined || Number.isNaN(v)) return "#eeeeee";
    const t = v >= threshold ? 0.5 + (0.5 * Math.min(1, (v - threshold) / above))
      : 0.5 - (0.5 * Math.min(1, (threshold - v) / below));
    return d3.interpolateBrBG(t);
  };
}

/**
 * @param {{onJump: (start: int, end: int) => void, onPick: (cell: int) => void}} callbacks
 *   onJump: show a context in the select view; onPick: show another cell
 */
export function cellView({ onJump = () => {}, onPick = () => {} } = {}) {
  const root = d3.create("div").attr("class", "cell-view");
  const picker = root.append("form").attr("class", "cell-pick");
  const input = picker.append("label").text("cell ").append("input")
    .attr("type", "number").attr("name", "cell").attr("min", 0).style("width", "5em");
  picker.append("button").attr("type", "submit").text("Show");
  picker.on("submit", (event) => {
    event.preventDefault();
    const c = Number(input.property("value"));
    if (Number.isInteger(c) && c >= 0) onPick(c);
  });
  const body = root.append("div");
  const title = body.append("h3");
  const facts = body.append("div").attr("class", "cell-facts");
  const text = body.append("div").attr("class", "cell-text").attr("aria-label", "the window coloured by the cell");
  body.append("h4").text("Top contexts over the whole data set");
  const top = body.append("ol").attr("class", "cell-top");
  body.append("h4").text("Labels it detects best (F1 over every threshold)");
  const detects = body.append("table").attr("class", "cell-labels");
  body.append("h4").text("Words it responds to (mean change when the word is read)");
  const words = body.append("div").attr("class", "cell-words");
  const pos = words.append("table").attr("class", "words-positive");
  const neg = words.append("table").attr("class", "words-negative");

  /**
   * @param {{cell: int|null, threshold: number, window: {tokens: string[], values: number[]}|null,
   *          stats: object|null, top: object|null, labels: object|null, words: object|null,
   *          busy: bool}} data
   */
  function update({ cell, threshold, window, stats, top: topAnswer, labels, words: wordAnswer, busy }) {
    body.style("display", cell === null ? "none" : null);
    if (document.activeElement !== input.node()) input.property("value", cell ?? "");
    if (cell === null) return;
    title.text(`cell ${cell}${busy ? " (loading…)" : ""}`);
    const f = d3.format(".3~f");
    facts.text(stats && stats.cell === cell
      ? `min ${f(stats.min)} · median ${f(stats.median)} · mean ${f(stats.mean)} · max ${f(stats.max)}`
        + ` · threshold ${f(threshold)}`
      : "");
    const lo = stats?.cell === cell ? stats.min : -1;
    const hi = stats?.cell === cell ? stats.max : 1;
    const color = valueColor(lo, threshold, hi);
    tokens(text, window ? window.tokens.map((t, i) => ({ t, v: window.values[i] })) : [], color);
    const windows = topAnswer?.cell === cell ? topAnswer.windows : [];
    top.selectAll("li").data(windows, (w) => w.pos).join("li")
      .attr("title", "show this context in the select view")
      .on("click", (event, w) => onJump(w.start, w.end))
      .each(function (w) {
        const li = d3.select(this);
        li.selectAll("*").remove();
        li.append("span").attr("class", "top-value").text(`${f(w.value)} `);
        tokens(li.append("span"), w.tokens.map((t, i) => ({ t, v: w.values[i], at: w.start + i === w.pos })), color);
      });
    labelTable(detects, labels?.cell === cell ? labels.labels : []);
    const answer = wordAnswer?.cell === cell ? wordAnswer : { positive: [], negative: [] };
    wordTable(pos, answer.positive, OKABE_ITO[2], "raise it");
    wordTable(neg, answer.negative, OKABE_ITO[5], "lower it");
  }

  return { node: root.node(), update, destroy: () => root.remove() };
}

function tokens(container, items, color) {
  container.selectAll("span.tok").data(items).join("span").attr("class", "tok")
    .classed("at", (d) => !!d.at)
    .style("outline", (d) => (d.at ? "2px solid #000" : null)) // the chosen step of a context
    .style("background", (d) => color(d.v))
    .style("color", (d) => textOn(color(d.v)))
    .attr("title", (d) => (d.v === null ? "NaN" : d3.format(".3f")(d.v)))
    .text((d) => d.t);
}

/** One row per label: track = label, F1 (against always on), precision / recall, the rule. */
function labelTable(table, rows) {
  const f = d3.format(".2f");
  const g = d3.format(".3~g");
  table.selectAll("tr").data(rows, (r) => `${r.track}\u0000${r.label}`).join((enter) => {
    const row = enter.append("tr");
    for (const name of ["label-name", "label-f1", "label-pr", "label-rule"]) row.append("td").attr("class", name);
    return row;
  }).order()
    .call((tr) => tr.select(".label-name").text((r) => `${r.track} = ${r.label}`))
    .call((tr) => tr.select(".label-f1").text((r) => `F1 ${f(r.f1)}`)
      .attr("title", (r) => `a cell always on scores ${f(r.all_on_f1)} (${f(100 * r.share)}% of the steps)`))
    .call((tr) => tr.select(".label-pr").text((r) => `P ${f(r.precision)} · R ${f(r.recall)}`))
    .call((tr) => tr.select(".label-rule").text((r) => `on when h ${r.sign === "+" ? "≥" : "≤"} ${g(r.threshold)}`));
}

function wordTable(table, rows, fill, caption) {
  table.selectAll("caption").data([caption]).join("caption").text((d) => d);
  const top = d3.max(rows, (r) => Math.abs(r.response)) || 1;
  const tr = table.selectAll("tr").data(rows, (r) => r.word).join((enter) => {
    const row = enter.append("tr");
    row.append("td").attr("class", "word");
    row.append("td").append("svg").attr("width", BAR_W).attr("height", 10).append("rect").attr("height", 10);
    row.append("td").attr("class", "response");
    return row;
  });
  tr.order();
  tr.select(".word").text((r) => r.word);
  tr.select("rect").attr("width", (r) => (BAR_W * Math.abs(r.response)) / top).attr("fill", fill);
  tr.select(".response").text((r) => `${d3.format("+.3f")(r.response)} ×${r.count}`);
}
