// Phrase or regex search over the data set's text; results are buttons that jump there.
import d3 from "../d3.js";
import { visibleToken } from "../text.js";

/**
 * @param {{onSearch: (q: string, regex: boolean) => void, onPick: (result: object) => void}} opts
 */
export function searchBox({ onSearch = () => {}, onPick = () => {} } = {}) {
  const root = d3.create("div").attr("class", "search-box");
  const form = root.append("form").attr("role", "search");
  const q = form.append("input").attr("type", "search").attr("name", "q").attr("maxlength", 200)
    .attr("placeholder", "search a phrase").attr("aria-label", "search text");
  const rx = form.append("label").attr("class", "inline");
  const regex = rx.append("input").attr("type", "checkbox").attr("name", "regex");
  rx.append("span").text("regex");
  form.append("button").attr("type", "submit").text("Search");
  const status = root.append("div").attr("class", "search-status").attr("aria-live", "polite");
  const list = root.append("ol").attr("class", "search-results");

  form.on("submit", (event) => {
    event.preventDefault();
    const text = q.property("value");
    if (text.trim() !== "") onSearch(text, regex.property("checked"));
  });

  // data: {results: [{start, end, snippet, snippet_start}]|null, truncated: bool, busy: bool, enabled: bool}
  function update({ results, truncated = false, busy = false, enabled = true }) {
    form.selectAll("input, button").attr("disabled", enabled ? null : true);
    q.attr("placeholder", enabled ? "search a phrase" : "this data set is not searchable");
    status.text(busy ? "searching…" : results === null ? "" : `${results.length}${truncated ? "+" : ""} result${results.length === 1 ? "" : "s"}`);
    const items = list.selectAll("li")
      .data(results || [])
      .join((enter) => enter.append("li").call((li) => li.append("button").attr("type", "button")));
    // the snippet is plain text; .text() keeps corpus text from being read as HTML
    items.select("button")
      .on("click", (event, r) => onPick(r))
      .call((b) => b.selectAll("*").remove())
      .each(function (r) {
        const b = d3.select(this);
        b.append("span").attr("class", "at").text(r.end > r.start ? `${r.start}–${r.end}` : `${r.start}`);
        b.append("span").attr("class", "snippet").text(visibleToken(r.snippet, { spaces: false }));
      });
  }

  return { node: root.node(), update, destroy: () => root.remove() };
}
