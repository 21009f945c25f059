// One row of coloured boxes, one per step of the window (the on-count under the words, a
// scalar meta track). Hover reports the step.
import d3 from "../d3.js";
import { HOVER } from "../colors.js";

/**
 * @param {{height: number, label: string, onHover: (step: number|null) => void}} opts
 */
export function heatmapRow({ height = 14, label = "", onHover = () => {} } = {}) {
  const svg = d3.create("svg").attr("class", "heatmap-row").attr("height", height)
    .attr("role", "img").attr("aria-label", label);

  // data: {values: (number|null)[], start: int, zoom: px, color: (v) => css colour,
  //        hovered: int|null, format: (v) => string}
  function update({ values, start, zoom, color, hovered, format = String }) {
    svg.attr("width", values.length * zoom);
    svg.selectAll("rect")
      .data(values)
      .join((enter) => enter.append("rect").call((r) => r.append("title")))
      .attr("x", (v, i) => i * zoom)
      .attr("width", Math.max(1, zoom - 1))
      .attr("height", height)
      .attr("fill", (v) => color(v))
      .attr("stroke", (v, i) => (start + i === hovered ? HOVER : null))
      .attr("stroke-width", 2)
      .each(function (v, i) {
        d3.select(this).on("mouseenter", () => onHover(start + i));
      })
      .on("mouseleave", () => onHover(null))
      .select("title")
      .text((v, i) => `${label} at step ${start + i}: ${v === null ? "no value" : format(v)}`);
  }

  return { node: svg.node(), update, destroy: () => svg.remove() };
}
