// Controls of the match: min overlap, length range, limit, and the run button.
import d3 from "../d3.js";

/**
 * @param {{onRun: (params: {min_overlap, min_len, max_len, limit}) => void, onClose: () => void,
 *          onExport: (kind: "csv"|"json") => void}} opts
 */
export function matchControls({ onRun = () => {}, onClose = () => {}, onExport = () => {} } = {}) {
  const root = d3.create("form").attr("class", "match-controls toolbar").attr("aria-label", "match parameters");
  const field = (label, name, attrs) => {
    const l = root.append("label").attr("class", "field");
    l.append("span").text(label);
    const input = l.append("input").attr("type", "number").attr("step", 1).attr("name", name);
    for (const [k, v] of Object.entries(attrs)) input.attr(k, v);
    return input;
  };
  const minOverlap = field("min overlap", "min_overlap", { min: 1 });
  const minLen = field("min length", "min_len", { min: 1 });
  const maxLen = field("max length", "max_len", { min: 1, placeholder: "any" });
  const limit = field("rows", "limit", { min: 1, max: 500 });
  const run = root.append("button").attr("type", "submit").attr("class", "primary").text("Run match");
  root.append("button").attr("type", "button").text("Close match view").on("click", () => onClose());
  const exports = ["csv", "json"].map((kind) => root.append("button").attr("type", "button").attr("class", "export")
    .text(kind.toUpperCase()).attr("aria-label", `export the match rows as ${kind.toUpperCase()}`)
    .on("click", () => onExport(kind)));
  const summary = root.append("span").attr("class", "match-summary").attr("aria-live", "polite");

  root.on("submit", (event) => {
    event.preventDefault();
    if (!root.node().reportValidity()) return;
    const int = (input) => (input.property("value") === "" ? null : Number(input.property("value")));
    onRun({ min_overlap: int(minOverlap) ?? 1, min_len: int(minLen) ?? 1, max_len: int(maxLen), limit: int(limit) ?? 50 });
  });

  // A field is written only when its state value changed: a redraw for an answer that comes
  // in while the user types (the first match, say) must not undo the typing before Run.
  const written = new Map(); // input -> the state value last written into it
  const write = (input, value) => {
    if (written.has(input) && written.get(input) === value) return;
    written.set(input, value);
    input.property("value", value);
  };

  // data: {state, cells: int, result: MatchResult|null, busy: bool}
  function update({ state, cells, result, busy }) {
    write(minOverlap, state.min_overlap);
    minOverlap.attr("max", Math.max(1, cells));
    write(minLen, state.min_len);
    write(maxLen, state.max_len ?? "");
    write(limit, state.limit);
    run.attr("disabled", cells ? null : true);
    run.attr("title", cells ? null : "select cells first: brush a range of words or add cells by hand");
    for (const b of exports) b.attr("disabled", result && result.matches.length && !busy ? null : true);
    summary.text(busy ? "matching…"
      : result ? `${result.matches.length} of ${plural(result.candidates, "candidate range")} for ${plural(result.cells.length, "cell")}`
        : cells ? "" : "no cells selected");
  }

  return { node: root.node(), update, destroy: () => root.remove() };
}

function plural(n, noun) {
  return `${n.toLocaleString("en")} ${noun}${n === 1 ? "" : "s"}`;
}
