// The selected cells as chips linked to the plot by hover, with add / remove by hand and
// a clear button. Cells added by hand are marked, so the user sees which came from select.
import d3 from "../d3.js";

/**
 * @param {{onHover: (cell: number|null) => void, onAdd: (cell: number) => void,
 *          onRemove: (cell: number) => void, onClear: () => void,
 *          onPick: (cell: number) => void (show the cell's details)}} opts
 */
export function cellList({ onHover = () => {}, onAdd = () => {}, onRemove = () => {}, onClear = () => {}, onPick = () => {} } = {}) {
  const root = d3.create("div").attr("class", "cell-list");
  const head = root.append("div").attr("class", "cell-list-head");
  const count = head.append("span").attr("class", "count").attr("aria-live", "polite");
  const form = head.append("form").attr("class", "add-cell");
  const input = form.append("input").attr("type", "number").attr("min", 0).attr("step", 1)
    .attr("placeholder", "cell").attr("aria-label", "cell number to add").attr("name", "cell");
  form.append("button").attr("type", "submit").text("Add cell");
  const clear = head.append("button").attr("type", "button").attr("class", "clear").text("Clear selection")
    .on("click", () => onClear());
  const chips = root.append("ul").attr("class", "chips").attr("aria-label", "selected cells");
  let D = Infinity;

  form.on("submit", (event) => {
    event.preventDefault();
    const raw = input.property("value").trim();
    const c = Number(raw);
    if (raw === "" || !Number.isInteger(c) || c < 0 || c >= D) {
      input.node().setCustomValidity(`cell '${raw}' is not a cell of this source (0..${D - 1})`);
      input.node().reportValidity();
      return;
    }
    input.node().setCustomValidity("");
    input.property("value", "");
    onAdd(c);
  });
  input.on("input", () => input.node().setCustomValidity(""));

  // data: {cells: int[], added: int[], hovered: int|null, D: int (cells of the source),
  //        pending: bool (the server's select has not answered yet)}
  function update({ cells, added, hovered, D: size, pending = false }) {
    D = size;
    input.attr("max", D - 1);
    count.text(`${cells.length} selected cell${cells.length === 1 ? "" : "s"}${pending ? " (selecting…)" : ""}`);
    clear.attr("disabled", cells.length ? null : true);
    const addedSet = new Set(added);
    const li = chips.selectAll("li")
      .data(cells, (c) => c)
      .join((enter) => {
        const e = enter.append("li").attr("class", "chip");
        e.append("button").attr("type", "button").attr("class", "id").text((c) => c)
          .attr("aria-label", (c) => `details of cell ${c}`)
          .on("click", (event, c) => onPick(c));
        e.append("button").attr("type", "button").attr("class", "remove").text("×")
          .attr("aria-label", (c) => `remove cell ${c}`)
          .attr("title", (c) => `remove cell ${c}`)
          .on("click", (event, c) => onRemove(c));
        return e;
      })
      .classed("hovered", (c) => c === hovered)
      .classed("manual", (c) => addedSet.has(c))
      .attr("title", (c) => (addedSet.has(c) ? `cell ${c} (added by hand)` : `cell ${c}`))
      .on("mouseenter", (event, c) => onHover(c))
      .on("mouseleave", () => onHover(null));
    li.order();
  }

  return { node: root.node(), update, destroy: () => root.remove() };
}
