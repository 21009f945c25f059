// The heatmap mode of the select view (papers/000_… General view): cells × steps of the
// window shown, each square coloured by the cell's value against the threshold, cells in the
// order of the selection or of a correlation ranking. Clicking a row opens that cell.
import d3 from "../d3.js";
import { valueColor } from "./cellView.js";

const ROW_H = 12;
const LABEL_W = 44;

const ORDERS = [["selection", "the selection"], ["correlation", "the correlation ranking"]];

/**
 * @param {{onPickCell: (cell: int) => void, onOrder: (order: string) => void}} callbacks
 *   onOrder: "selection" or "correlation"
 */
export function cellHeatmap({ onPickCell = () => {}, onOrder = () => {} } = {}) {
  const root = d3.create("div").attr("class", "cell-heatmap");
  const pick = root.append("label").text("cells of ").append("select").attr("name", "order")
    .on("change", () => onOrder(pick.property("value")));
  pick.selectAll("option").data(ORDERS).join("option").attr("value", (d) => d[0]).text((d) => d[1]);
  const note = root.append("div").attr("class", "heatmap-note");
  const svg = root.append("svg").attr("role", "img");
  const rows = svg.append("g").attr("transform", `translate(${LABEL_W},0)`);
  const labels = svg.append("g");
  const words = svg.append("g");

  /**
   * @param {{cells: int[], values: (number|null)[][], tokens: string[], threshold: number,
   *          zoom: int, order: string, range: [number, number]}} data
   *   values[i][j]: cell cells[i] at the window's step j; range: the colour domain (lo, hi)
   */
  function update({ cells, values, tokens, threshold, zoom, order, range }) {
    pick.property("value", order);
    const steps = tokens.length;
    const width = LABEL_W + steps * zoom;
    const height = cells.length * ROW_H + 16;
    svg.attr("width", width).attr("height", height)
      .attr("aria-label", `${cells.length} cells over ${steps} steps, ordered by ${order}`);
    note.text(cells.length ? `${cells.length} cells, ordered by ${order}; white is the threshold`
      : "no cells to show: select cells, or rank them in the correlation panel");
    const color = valueColor(range[0], threshold, range[1]);
    const row = rows.selectAll("g.hm-row").data(cells.map((c, i) => ({ c, v: values[i] })), (d) => d.c)
      .join("g").attr("class", "hm-row")
      .attr("transform", (d, i) => `translate(0,${i * ROW_H})`)
      .on("click", (event, d) => onPickCell(d.c));
    row.selectAll("rect").data((d) => d.v).join("rect")
      .attr("x", (v, j) => j * zoom).attr("width", Math.max(1, zoom - 1)).attr("height", ROW_H - 1)
      .attr("fill", (v) => color(v));
    labels.selectAll("text").data(cells, (c) => c).join("text")
      .attr("x", LABEL_W - 4).attr("y", (c, i) => i * ROW_H + ROW_H - 2)
      .attr("text-anchor", "end").attr("font-size", 10).text((c) => c)
      .on("click", (event, c) => onPickCell(c));
    words.attr("transform", `translate(${LABEL_W},${cells.length * ROW_H + 12})`);
    words.selectAll("text").data(tokens).join("text")
      .attr("x", (t, j) => j * zoom + zoom / 2).attr("text-anchor", "middle").attr("font-size", 10)
      .text((t) => (t.length > 3 ? `${t.slice(0, 2)}…` : t));
  }

  return { node: root.node(), update, destroy: () => root.remove() };
}
