// One cell's value distribution over the whole data set (GET /cells/{cell}): the numbers and
// a small histogram with the threshold, to judge whether the threshold suits this cell.
import d3 from "../d3.js";
import { SELECTED, THRESHOLD } from "../colors.js";

const W = 220;
const H = 36;

export function cellInfo({ onClose = () => {} } = {}) {
  const root = d3.create("div").attr("class", "cell-info").attr("aria-live", "polite");
  const head = root.append("div").attr("class", "cell-info-head");
  const title = head.append("strong");
  head.append("button").attr("type", "button").attr("class", "close").text("×")
    .attr("aria-label", "close the cell details").on("click", () => onClose());
  const svg = root.append("svg").attr("width", W).attr("height", H).attr("role", "img");
  const facts = root.append("div").attr("class", "facts");

  // data: {cell: int|null, stats: CellStats|null, busy: bool, threshold: float}
  function update({ cell, stats, busy, threshold }) {
    root.style("display", cell === null ? "none" : null);
    if (cell === null) return;
    title.text(`cell ${cell}${busy ? " (loading…)" : ""}`);
    if (!stats || stats.cell !== cell) {
      svg.selectAll("*").remove();
      facts.text("");
      return;
    }
    const f = d3.format(".3~f");
    const p = stats.percentiles;
    facts.text(`min ${f(stats.min)} · median ${f(stats.median)} · mean ${f(stats.mean)} · max ${f(stats.max)} · `
      + `5th–95th percentile ${f(p["5"])} to ${f(p["95"])}${stats.nan ? ` · ${stats.nan} NaN` : ""}`);
    const { edges, counts } = stats.histogram;
    const x = d3.scaleLinear().domain([edges[0], edges[edges.length - 1]]).range([0, W]);
    const y = d3.scaleLinear().domain([0, d3.max(counts) || 1]).range([H - 2, 0]);
    svg.attr("aria-label", `histogram of cell ${cell}'s values from ${f(stats.min)} to ${f(stats.max)}`);
    svg.selectAll("rect").data(counts).join("rect")
      .attr("x", (c, i) => x(edges[i]))
      .attr("width", (c, i) => Math.max(1, x(edges[i + 1]) - x(edges[i]) - 0.5))
      .attr("y", (c) => y(c))
      .attr("height", (c) => H - 2 - y(c))
      .attr("fill", (c, i) => (edges[i] >= threshold ? SELECTED : "#bdbdbd"));
    svg.selectAll("line").data([threshold]).join("line")
      .attr("x1", (t) => x(t)).attr("x2", (t) => x(t)).attr("y1", 0).attr("y2", H)
      .attr("stroke", THRESHOLD).attr("stroke-width", 2)
      .style("display", (t) => (t >= edges[0] && t <= edges[edges.length - 1] ? null : "none"));
  }

  return { node: root.node(), update, destroy: () => root.remove() };
}
