// The tokens of the window under the plot, a brush snapped to tokens, and the two padding
// handles (steps before / after the brush where the cells must be off) below them. A drag
// always starts a new brush, even on top of the old one (its selection and handles let the
// pointer through: style.css), and covers every token it touches. A marked range (a match
// row or search hit opened here) is outlined.
import d3 from "../d3.js";
import { HOVER } from "../colors.js";
import { fitToken } from "../text.js";

const WORD_H = 24;
const PAD_H = 18;

/**
 * @param {{onBrush: (start: number|null, end: number|null) => void,
 *          onPadding: (padLeft: number, padRight: number, final: boolean) => void,
 *          onHover: (step: number|null) => void}} opts  positions are absolute steps
 */
export function wordRow({ onBrush = () => {}, onPadding = () => {}, onHover = () => {} } = {}) {
  const svg = d3.create("svg").attr("class", "word-row").attr("height", WORD_H + PAD_H);
  const words = svg.append("g").attr("class", "words");
  const seqMarks = svg.append("g").attr("class", "sequence-starts");
  const markG = svg.append("g").attr("class", "mark");
  const brushG = svg.append("g").attr("class", "brush").attr("aria-label", "drag over the words to select a range");
  const pads = svg.append("g").attr("class", "padding").attr("transform", `translate(0,${WORD_H})`);
  let d = null; // last data
  let hoveredStep = null;
  let brushKey = null;

  // The brush overlay covers the words, so hover is tracked on the whole row.
  function hover(step) {
    if (step !== hoveredStep) {
      hoveredStep = step;
      onHover(step);
    }
  }
  svg.on("mousemove", (event) => {
    const [x, y] = d3.pointer(event);
    const i = Math.floor(x / d.zoom);
    hover(y < WORD_H && i >= 0 && i < d.tokens.length ? d.start + i : null);
  }).on("mouseleave", () => hover(null));

  const brush = d3.brushX().on("end", (event) => {
    if (!event.sourceEvent) return; // programmatic moves (restored state) never loop back
    if (!event.selection) {
      brushKey = null;
      onBrush(null, null);
      return;
    }
    const [x0, x1] = event.selection;
    const a = Math.max(0, Math.min(d.tokens.length - 1, Math.floor(x0 / d.zoom)));
    const b = Math.max(a, Math.min(d.tokens.length - 1, Math.ceil(x1 / d.zoom) - 1));
    brushG.call(brush.move, [a * d.zoom, (b + 1) * d.zoom]);
    brushKey = null; // the next update places the brush from the state
    onBrush(d.start + a, d.start + b);
  });

  // One padding handle: side -1 (before the brush) or +1 (after it).
  function padDrag(side) {
    return d3.drag()
      .on("drag", (event) => {
        const edge = side < 0 ? (d.brush[0] - d.start) * d.zoom : (d.brush[1] - d.start + 1) * d.zoom;
        const x = Math.max(0, Math.min(d.tokens.length * d.zoom, event.x));
        const n = Math.max(0, Math.round((side < 0 ? edge - x : x - edge) / d.zoom));
        const next = side < 0 ? [n, d.pad[1]] : [d.pad[0], n];
        if (next[0] !== d.pad[0] || next[1] !== d.pad[1]) {
          d = { ...d, pad: next };
          drawPads();
          onPadding(next[0], next[1], false);
        }
      })
      .on("end", (event) => {
        if (event.sourceEvent) onPadding(d.pad[0], d.pad[1], true);
      });
  }
  function padKey(side) {
    return (event) => {
      const delta = { ArrowLeft: -side, ArrowRight: side }[event.key];
      if (delta === undefined) return;
      event.preventDefault();
      const i = side < 0 ? 0 : 1;
      const next = [...d.pad];
      next[i] = Math.max(0, next[i] + delta);
      onPadding(next[0], next[1], true);
    };
  }

  function drawPads() {
    const { brush: br, pad, start, zoom } = d;
    const visible = br !== null;
    pads.style("display", visible ? null : "none");
    if (!visible) return;
    const x0 = (br[0] - start) * zoom;
    const x1 = (br[1] - start + 1) * zoom;
    const specs = [
      { side: -1, edge: x0, at: x0 - pad[0] * zoom, n: pad[0], name: "pad_left" },
      { side: 1, edge: x1, at: x1 + pad[1] * zoom, n: pad[1], name: "pad_right" },
    ];
    pads.selectAll("g.pad")
      .data(specs, (s) => s.side)
      .join((enter) => {
        const g = enter.append("g").attr("class", (s) => `pad ${s.name}`)
          .attr("tabindex", 0).attr("role", "slider")
          .attr("aria-label", (s) => `${s.name}: steps ${s.side < 0 ? "before" : "after"} the brush where cells must be off (arrow keys)`);
        g.append("line").attr("class", "whisker").attr("y1", PAD_H / 2).attr("y2", PAD_H / 2);
        g.append("path").attr("class", "knob");
        g.append("text").attr("y", PAD_H - 4).attr("font-size", 10);
        g.each(function (s) {
          d3.select(this).call(padDrag(s.side)).on("keydown", padKey(s.side));
        });
        return g;
      })
      .attr("aria-valuenow", (s) => s.n)
      .call((g) => g.select("line").attr("x1", (s) => s.edge).attr("x2", (s) => s.at))
      .call((g) => g.select("path").attr("d", (s) => `M${s.at},2L${s.at + 7 * s.side},${PAD_H / 2}L${s.at},${PAD_H - 2}Z`))
      .call((g) => g.select("text").attr("x", (s) => s.at + (s.side < 0 ? -4 : 4))
        .attr("text-anchor", (s) => (s.side < 0 ? "end" : "start")).text((s) => (s.n ? `${s.n} off` : "")));
  }

  // data: {tokens: str[], start: int (step of tokens[0]), zoom: px, brush: [a, b]|null (absolute),
  //        pad: [pl, pr], sequenceStarts: int[], hovered: int|null, background: (i) => colour|null,
  //        marked: [a, b]|null (absolute steps, outlined)}
  function update(next) {
    d = next;
    const width = d.tokens.length * d.zoom;
    svg.attr("width", width);
    const cells = words.selectAll("g.word")
      .data(d.tokens.map((t, i) => ({ t, i })))
      .join((enter) => {
        const g = enter.append("g").attr("class", "word");
        g.append("rect").attr("height", WORD_H - 2).attr("y", 1);
        g.append("text").attr("y", WORD_H / 2 + 4).attr("text-anchor", "middle");
        g.append("title");
        return g;
      })
      .attr("transform", (w) => `translate(${w.i * d.zoom},0)`);
    cells.select("rect").attr("width", Math.max(1, d.zoom - 1))
      .attr("fill", (w) => (d.background ? d.background(w.i) : null) || "#ffffff")
      .attr("stroke", (w) => (d.start + w.i === d.hovered ? HOVER : "#dddddd"))
      .attr("stroke-width", (w) => (d.start + w.i === d.hovered ? 2 : 1));
    cells.select("text").attr("x", d.zoom / 2).text((w) => fitToken(w.t, d.zoom));
    cells.select("title").text((w) => `${JSON.stringify(w.t)} at step ${d.start + w.i}`);
    seqMarks.selectAll("line")
      .data(d.sequenceStarts.filter((s) => s > d.start))
      .join("line")
      .attr("x1", (s) => (s - d.start) * d.zoom).attr("x2", (s) => (s - d.start) * d.zoom)
      .attr("y1", 0).attr("y2", WORD_H)
      .attr("stroke", "#000").attr("stroke-width", 3);

    const mk = d.marked && d.marked[1] >= d.start && d.marked[0] < d.start + d.tokens.length ? [d.marked] : [];
    markG.selectAll("rect").data(mk).join("rect")
      .attr("x", (m) => Math.max(0, (m[0] - d.start) * d.zoom) + 1)
      .attr("width", (m) => Math.max(2, (Math.min(m[1] - d.start + 1, d.tokens.length) - Math.max(0, m[0] - d.start)) * d.zoom - 2))
      .attr("y", 1).attr("height", WORD_H - 2);

    // hover redraws often: set the brush up again only when its extent or range changed
    const br = d.brush;
    const key = `${width}|${d.start}|${d.zoom}|${br}`;
    if (key !== brushKey) {
      brushKey = key;
      brush.extent([[0, 0], [width, WORD_H]]);
      brushG.call(brush);
      // a drag on the old selection starts a new brush instead of moving or resizing it
      brushG.selectAll(".selection, .handle").style("pointer-events", "none");
      const inView = br && br[1] >= d.start && br[0] < d.start + d.tokens.length;
      brushG.call(brush.move, inView
        ? [Math.max(0, (br[0] - d.start) * d.zoom), Math.min(width, (br[1] - d.start + 1) * d.zoom)]
        : null);
    }
    drawPads();
  }

  return { node: svg.node(), update, destroy: () => svg.remove() };
}
