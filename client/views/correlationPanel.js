// Which cells track a feature (GET /correlation, papers/000_…): a feature picker (the data
// set's tracks and labels, or a regex / word list typed by hand), the method, and the ranked
// cells with a bar per score. One click selects the top k cells and runs the match.
import d3 from "../d3.js";
import { OKABE_ITO } from "../colors.js";

const BAR_W = 160;
const POSITIVE = OKABE_ITO[4]; // blue
const NEGATIVE = OKABE_ITO[5]; // vermillion
const METHODS = [
  ["pearson", "Pearson r"],
  ["spearman", "Spearman ρ"],
  ["mi", "mutual information (bits)"],
];

/**
 * @param {{onRank: (q: {feature: string, method: string}) => void,
 *          onSelectTop: (k: int) => void, onPickCell: (cell: int) => void}} callbacks
 */
export function correlationPanel({ onRank = () => {}, onSelectTop = () => {}, onPickCell = () => {} } = {}) {
  const root = d3.create("div").attr("class", "correlation-panel");
  const form = root.append("form").attr("class", "correlation-form");
  const pick = form.append("label").text("feature ").append("select").attr("name", "feature");
  const typed = form.append("label").text(" or ").append("input")
    .attr("name", "feature-text").attr("type", "text").attr("size", 22)
    .attr("placeholder", "regex:^[()]$ or words:the,a");
  const method = form.append("label").text(" method ").append("select").attr("name", "method");
  method.selectAll("option").data(METHODS).join("option").attr("value", (d) => d[0]).text((d) => d[1]);
  form.append("button").attr("type", "submit").attr("class", "rank").text("Rank cells");
  const topRow = root.append("div").attr("class", "correlation-top");
  const kInput = topRow.append("label").text("top ").append("input")
    .attr("type", "number").attr("name", "k").attr("min", 1).attr("max", 100).attr("value", 10)
    .style("width", "4em");
  const selectTop = topRow.append("button").attr("type", "button").attr("class", "select-top")
    .text("Select these cells and match");
  const note = root.append("div").attr("class", "correlation-note").attr("aria-live", "polite");
  const table = root.append("table").attr("class", "correlation-cells");
  table.append("thead").append("tr").selectAll("th").data(["cell", "score", "", "p", "steps"])
    .join("th").text((d) => d);
  const body = table.append("tbody");
  let last = null;

  form.on("submit", (event) => {
    event.preventDefault();
    const text = typed.property("value").trim();
    onRank({ feature: text || pick.property("value"), method: method.property("value") });
  });
  selectTop.on("click", () => onSelectTop(clampK(Number(kInput.property("value")))));

  /**
   * @param {{features: {value: string, label: string}[], feature: string|null, method: string,
   *          k: int, result: object|null, busy: bool}} data  result: the Correlation answer
   */
  function update({ features, feature, method: m, k, result, busy }) {
    pick.selectAll("option").data(features, (d) => d.value).join("option")
      .attr("value", (d) => d.value).text((d) => d.label);
    const listed = features.some((f) => f.value === feature);
    if (feature && listed) {
      pick.property("value", feature);
      typed.property("value", "");
    } else if (feature && document.activeElement !== typed.node()) {
      typed.property("value", feature);
    }
    method.property("value", m);
    if (document.activeElement !== kInput.node()) kInput.property("value", k);
    const cells = result?.cells ?? [];
    selectTop.property("disabled", busy || !cells.some((c) => c.score !== null));
    note.text(busy ? "ranking every cell over the whole data set…"
      : result ? `${result.method} with ${result.feature} over ${d3.format(",")(result.n)} steps`
        : "pick a feature and rank the cells");
    if (result === last) return;
    last = result;
    const top = d3.max(cells, (c) => Math.abs(c.score ?? 0)) || 1;
    const f = d3.format(".3f");
    const rows = body.selectAll("tr").data(cells, (c) => c.cell).join((enter) => {
      const tr = enter.append("tr").attr("class", "corr-row");
      tr.append("td").attr("class", "cell-id");
      tr.append("td").attr("class", "score");
      tr.append("td").append("svg").attr("width", BAR_W).attr("height", 10).append("rect").attr("height", 10);
      tr.append("td").attr("class", "p");
      tr.append("td").attr("class", "n");
      return tr;
    });
    rows.order().attr("title", "open this cell").on("click", (event, c) => onPickCell(c.cell));
    rows.select(".cell-id").text((c) => c.cell);
    rows.select(".score").text((c) => (c.score === null ? "no variance" : f(c.score)));
    rows.select("rect")
      .attr("width", (c) => (BAR_W * Math.abs(c.score ?? 0)) / top)
      .attr("fill", (c) => ((c.score ?? 0) < 0 ? NEGATIVE : POSITIVE));
    rows.select(".p").text((c) => (c.p === null ? "–" : c.p < 1e-4 ? d3.format(".1e")(c.p) : f(c.p)));
    rows.select(".n").text((c) => d3.format(",")(c.n));
  }

  return { node: root.node(), update, destroy: () => root.remove() };
}

function clampK(k) {
  return Number.isFinite(k) ? Math.max(1, Math.min(100, Math.round(k))) : 10;
}
