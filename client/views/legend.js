// Colour legends: swatches for categories, a ramp with its range for quantities.
import d3 from "../d3.js";

/**
 * @param {{kind: "categorical", labels: string[], color: (i: number) => string, present?: number[]}
 *        | {kind: "sequential", domain: [number, number], color: (v: number) => string, title?: string}} spec
 * @returns {{node: HTMLElement, update: (spec) => void, destroy: () => void}}
 */
export function legend(spec) {
  const root = d3.create("div").attr("class", "legend");

  function update(s) {
    root.selectAll("*").remove();
    if (s.title) root.append("span").attr("class", "legend-title").text(s.title);
    if (s.kind === "categorical") {
      // `present`: only the categories that occur in what is shown (long label lists stay short)
      const ids = s.present ?? s.labels.map((l, i) => i);
      const items = root.selectAll("span.item").data(ids).join("span").attr("class", "item");
      items.append("span").attr("class", "swatch").style("background", (i) => s.color(i));
      items.append("span").text((i) => s.labels[i] ?? String(i));
      if (ids.length < s.labels.length) root.attr("title", `${ids.length} of ${s.labels.length} categories occur here`);
      return;
    }
    const [lo, hi] = s.domain;
    const stops = d3.range(11).map((i) => s.color(lo + ((hi - lo) * i) / 10));
    const fmt = Number.isInteger(lo) && Number.isInteger(hi) ? d3.format("d") : d3.format(".3~g");
    root.append("span").attr("class", "lo").text(fmt(lo));
    root.append("span").attr("class", "ramp").style("background", `linear-gradient(to right, ${stops.join(",")})`);
    root.append("span").attr("class", "hi").text(fmt(hi));
  }
  update(spec);
  return { node: root.node(), update, destroy: () => root.remove() };
}
