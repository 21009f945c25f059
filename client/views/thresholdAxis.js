// The value axis of the line plot, with a histogram of the window's values beside it and
// the threshold as a handle that can be dragged (or moved with the arrow keys). The drag
// moves the threshold by the pointer's movement from where it was grabbed (a press beside
// the line does not make it jump), at a tenth of the speed with shift held; the axis may be
// any scale of scales.js, so unbounded values stay draggable on a symlog or tanh axis.
import d3 from "../d3.js";
import { THRESHOLD } from "../colors.js";

const AXIS_W = 34; // room for the tick labels at the right edge

/**
 * @param {{width: number, height: number, onThreshold: (value: number, final: boolean) => void}} opts
 */
export function thresholdAxis({ width = 110, height = 200, onThreshold = () => {} } = {}) {
  const svg = d3.create("svg").attr("class", "threshold-axis").attr("width", width).attr("height", height);
  const bars = svg.append("g").attr("class", "histogram");
  const axis = svg.append("g").attr("transform", `translate(${width - AXIS_W + 0.5},0)`);
  const handle = svg.append("g")
    .attr("class", "threshold-handle")
    .attr("tabindex", 0)
    .attr("role", "slider")
    .attr("aria-label", "threshold (arrow keys move it; shift for bigger steps)")
    .style("cursor", "ns-resize");
  handle.append("line").attr("x1", 0).attr("x2", width - AXIS_W).attr("stroke", THRESHOLD).attr("stroke-width", 2);
  handle.append("rect").attr("x", 0).attr("width", width - AXIS_W).attr("y", -6).attr("height", 12).attr("fill", "transparent");
  handle.append("path").attr("d", "M0,-7L10,0L0,7Z").attr("fill", THRESHOLD).attr("transform", `translate(${width - AXIS_W - 10},0)`);
  // the label sits on an opaque box above the line, so the histogram never shows through it
  const labelBox = handle.append("rect").attr("class", "label-box").attr("x", 0).attr("y", -17).attr("height", 12);
  const label = handle.append("text").attr("x", 2).attr("y", -7).attr("font-size", 10).attr("fill", "#7a4f00");

  let y = null;
  let value = 0;
  let binned = { values: null, key: null, bins: [] };

  // a thousandth of the axis' span, as a power of ten: 0.001 on [-1, 1], 1 on [-400, 400]
  const round = (v) => {
    const [lo, hi] = d3.extent(y.domain());
    const unit = 10 ** Math.floor(Math.log10(Math.max(1e-9, (hi - lo) / 1000)));
    const r = Math.round(v / unit) * unit;
    return Number(r.toPrecision(12)) || 0;
  };
  function place(v) {
    value = v;
    handle.attr("transform", `translate(0,${y(v)})`).attr("aria-valuenow", v);
    label.text(`θ ${v}`);
    labelBox.attr("width", Math.min(width - AXIS_W, 14 + 6 * String(v).length));
  }

  let px = 0; // the handle's pixel during a drag
  handle.call(d3.drag()
    .on("start", () => {
      px = y(value);
    })
    .on("drag", (event) => {
      px = Math.max(0, Math.min(height, px + event.dy * (event.sourceEvent?.shiftKey ? 0.1 : 1)));
      const v = round(y.invert(px));
      if (v !== value) {
        place(v);
        onThreshold(v, false);
      }
    })
    .on("end", (event) => {
      if (event.sourceEvent) onThreshold(value, true);
    }));
  handle.on("keydown", (event) => {
    const [lo, hi] = d3.extent(y.domain());
    const step = ((hi - lo) / 200) * (event.shiftKey ? 10 : 1); // 0.01 (0.1) on [-1, 1]
    const delta = { ArrowUp: step, ArrowRight: step, ArrowDown: -step, ArrowLeft: -step }[event.key];
    if (delta === undefined) return;
    event.preventDefault();
    const v = round(Math.max(lo, Math.min(hi, value + delta)));
    place(v);
    onThreshold(v, true);
  });

  // data: {y: d3 scale (value -> px), threshold: float, values: Float32Array|number[] (the window's values)}
  function update({ y: scale, threshold, values }) {
    y = scale;
    const [lo, hi] = d3.extent(y.domain());
    handle.attr("aria-valuemin", lo).attr("aria-valuemax", hi);
    axis.call(d3.axisRight(y).ticks(Math.max(2, Math.floor(height / 30))).tickSize(4));
    // binning 65,000 values costs a few ms: redo it only for new values or a new axis. Bins
    // are even in pixels, so a symlog or tanh axis gets bars of even height too.
    const key = `${lo}|${hi}|${y.kind || ""}|${y(lo / 3)}`;
    if (values !== binned.values || key !== binned.key) {
      const [bottom, top] = y.range();
      const edges = d3.range(1, 40).map((i) => y.invert(bottom + ((top - bottom) * i) / 40));
      binned = { values, key, bins: d3.bin().domain([lo, hi]).thresholds(edges)(values) };
    }
    const bins = binned.bins;
    const maxCount = d3.max(bins, (b) => b.length) || 1;
    const bw = width - AXIS_W - 2;
    bars.selectAll("rect")
      .data(bins)
      .join("rect")
      .attr("x", (b) => bw - (bw * b.length) / maxCount)
      .attr("width", (b) => (bw * b.length) / maxCount)
      .attr("y", (b) => Math.min(y(b.x0), y(b.x1)))
      .attr("height", (b) => Math.max(1, Math.abs(y(b.x0) - y(b.x1)) - 0.5))
      .attr("fill", (b) => (b.x0 >= threshold ? "#56B4E9" : "#c8c8c8"))
      .selectAll("title")
      .data((b) => [b])
      .join("title")
      .text((b) => `${b.length} values in [${d3.format(".2f")(b.x0)}, ${d3.format(".2f")(b.x1)})`);
    place(threshold);
  }

  return { node: svg.node(), update, destroy: () => svg.remove() };
}
