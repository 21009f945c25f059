// The x-axis of the select view: absolute step numbers above the plot, at round intervals
// (1, 2, 5, 10, 20, 50, ...) wide enough apart for their labels at the current zoom.
import d3 from "../d3.js";

const H = 16;
const MIN_GAP_PX = 48;

/** The tick interval: the smallest of 1, 2, 5, 10, 20, 50, ... whose ticks are MIN_GAP_PX apart. */
export function tickEvery(zoom) {
  for (let p = 1; ; p *= 10) {
    for (const m of [1, 2, 5]) if (m * p * zoom >= MIN_GAP_PX) return m * p;
  }
}

export function stepAxis() {
  const svg = d3.create("svg").attr("class", "step-axis").attr("height", H)
    .attr("role", "img").attr("aria-label", "step numbers");

  // data: {start: int (step of the first column), steps: int, zoom: px per step}
  function update({ start, steps, zoom }) {
    svg.attr("width", steps * zoom);
    const every = tickEvery(zoom);
    const first = Math.ceil(start / every) * every;
    const ticks = d3.range(first, start + steps, every);
    const g = svg.selectAll("g.tick").data(ticks, (t) => t).join((enter) => {
      const e = enter.append("g").attr("class", "tick");
      e.append("line").attr("y1", H - 4).attr("y2", H);
      e.append("text").attr("y", H - 6).attr("text-anchor", "middle");
      return e;
    });
    g.attr("transform", (t) => `translate(${(t - start + 0.5) * zoom},0)`);
    g.select("text").text((t) => d3.format(",")(t));
  }

  return { node: svg.node(), update, destroy: () => svg.remove() };
}
