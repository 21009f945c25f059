// The select view's controls: source switch, step / page navigation, jump to a position,
// threshold and padding fields, meta track toggles, zoom. Real inputs and buttons, so all
// of it works from the keyboard. Reports intent through callbacks only.
import d3 from "../d3.js";

export const MAX_STEPS = 511; // left (at most 10) + pos + right (at most 500)
// the value axes of state.js SCALES, as the menu names them
const SCALE_NAMES = [["clip", "linear, clipped"], ["full", "linear, full range"], ["symlog", "symmetric log"], ["tanh", "tanh"]];

/**
 * @param {{onSource, onStep, onJump, onRange, onThreshold, onPadding, onMeta, onZoom, onWindow, onScale, onExport}} cb
 *   onStep(delta steps), onJump(pos), onRange(start, end), onThreshold(value), onPadding(pl, pr),
 *   onMeta(ids), onZoom(direction +1/-1), onWindow(steps), onScale(kind), onExport("svg"|"png")
 */
export function toolbar(cb) {
  const root = d3.create("div").attr("class", "toolbar");
  const field = (parent, label, attrs) => {
    const l = parent.append("label").attr("class", "field");
    l.append("span").text(label);
    const input = l.append("input");
    for (const [k, v] of Object.entries(attrs)) input.attr(k, v);
    return input;
  };

  const src = root.append("label").attr("class", "field");
  src.append("span").text("source");
  const source = src.append("select").attr("name", "source").on("change", (event) => cb.onSource(event.target.value));

  const nav = root.append("div").attr("class", "group nav").attr("role", "group").attr("aria-label", "navigation");
  const button = (parent, text, label, fn) => parent.append("button").attr("type", "button")
    .attr("aria-label", label).attr("title", label).text(text).on("click", fn);
  let page = 70;
  button(nav, "⇤", "previous page", () => cb.onStep(-page));
  button(nav, "←", "previous step (arrow left)", () => cb.onStep(-1));
  const jump = nav.append("form").attr("class", "jump");
  const pos = field(jump, "pos", { type: "number", min: 0, step: 1, name: "pos" });
  jump.append("button").attr("type", "submit").text("Go");
  jump.on("submit", (event) => {
    event.preventDefault();
    const v = Number(pos.property("value"));
    if (Number.isInteger(v)) cb.onJump(v);
  });
  button(nav, "→", "next step (arrow right)", () => cb.onStep(1));
  button(nav, "⇥", "next page", () => cb.onStep(page));

  const sel = root.append("div").attr("class", "group").attr("role", "group").attr("aria-label", "selection rule");
  // the brush, typed: the keyboard way to select a range
  const range = sel.append("form").attr("class", "range");
  const from = field(range, "range", { type: "number", min: 0, step: 1, name: "start", "aria-label": "range start step" });
  const to = field(range, "–", { type: "number", min: 0, step: 1, name: "end", "aria-label": "range end step" });
  range.append("button").attr("type", "submit").text("Select");
  range.on("submit", (event) => {
    event.preventDefault();
    const a = Number(from.property("value"));
    const b = to.property("value") === "" ? a : Number(to.property("value"));
    if (from.property("value") !== "" && Number.isInteger(a) && Number.isInteger(b) && a >= 0 && b >= a) cb.onRange(a, b);
  });
  const threshold = field(sel, "threshold", { type: "number", step: 0.01, name: "threshold" })
    .on("change", (event) => {
      const v = Number(event.target.value);
      if (event.target.value !== "" && Number.isFinite(v)) cb.onThreshold(v);
    });
  const padL = field(sel, "pad left", { type: "number", min: 0, step: 1, name: "pad_left" });
  const padR = field(sel, "pad right", { type: "number", min: 0, step: 1, name: "pad_right" });
  const onPad = () => {
    const l = Number(padL.property("value"));
    const r = Number(padR.property("value"));
    if (Number.isInteger(l) && Number.isInteger(r) && l >= 0 && r >= 0) cb.onPadding(l, r);
  };
  padL.on("change", onPad);
  padR.on("change", onPad);

  const view = root.append("div").attr("class", "group").attr("role", "group").attr("aria-label", "view");
  button(view, "−", "narrower tokens (zoom out)", () => cb.onZoom(-1));
  button(view, "+", "wider tokens (zoom in)", () => cb.onZoom(+1));
  // the API serves at most 500 steps on each side of pos
  const steps = field(view, "steps", { type: "number", min: 2, max: MAX_STEPS, step: 1, name: "steps" })
    .on("change", (event) => {
      const n = Number(event.target.value);
      if (Number.isInteger(n) && n >= 2 && n <= MAX_STEPS) cb.onWindow(n);
      else event.target.reportValidity();
    });

  const sc = view.append("label").attr("class", "field");
  sc.append("span").text("values");
  const scale = sc.append("select").attr("name", "scale").attr("aria-label", "value axis")
    .on("change", (event) => cb.onScale(event.target.value));
  scale.selectAll("option").data(SCALE_NAMES).join("option").attr("value", (d) => d[0]).text((d) => d[1]);
  const exp = root.append("div").attr("class", "group").attr("role", "group").attr("aria-label", "export");
  button(exp, "SVG", "export the select view as SVG", () => cb.onExport("svg"));
  button(exp, "PNG", "export the select view as PNG", () => cb.onExport("png"));

  const metas = root.append("fieldset").attr("class", "group metas");
  metas.append("legend").text("meta tracks");

  // data: {dataset: DatasetSummary, state}
  function update({ dataset, state }) {
    source.selectAll("option").data(dataset.sources, (s) => s.id).join("option")
      .attr("value", (s) => s.id)
      .text((s) => `${s.label} (${s.shape[1]} cells)`);
    source.property("value", state.source);
    page = Math.max(1, state.left + state.right + 1);
    pos.attr("max", dataset.length - 1);
    // a field being typed in keeps its text: a redraw for an answer must not undo the typing
    const typing = (...inputs) => inputs.some((input) => document.activeElement === input.node());
    if (!typing(pos)) pos.property("value", state.pos);
    if (!typing(threshold)) threshold.property("value", state.threshold);
    if (!typing(from, to)) {
      from.property("value", state.start ?? "");
      to.property("value", state.end ?? "");
    }
    if (!typing(padL, padR)) {
      padL.property("value", state.pad_left);
      padR.property("value", state.pad_right);
    }
    if (!typing(steps)) steps.property("value", state.left + state.right + 1);
    scale.property("value", state.scale);
    const shown = new Set(state.meta);
    const items = metas.selectAll("label").data(dataset.meta, (m) => m.id).join((enter) => {
      const l = enter.append("label").attr("class", "inline");
      l.append("input").attr("type", "checkbox").attr("name", (m) => `meta-${m.id}`);
      l.append("span").text((m) => `${m.id} (${m.kind})`);
      return l;
    });
    items.select("input").property("checked", (m) => shown.has(m.id))
      .on("change", () => {
        cb.onMeta(dataset.meta.map((m) => m.id).filter((id) =>
          metas.select(`input[name="meta-${CSS.escape(id)}"]`).property("checked")));
      });
    metas.style("display", dataset.meta.length ? null : "none");
  }

  return { node: root.node(), update, destroy: () => root.remove() };
}
