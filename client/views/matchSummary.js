// What the whole match set looks like (match?summary=true): how long the candidates are,
// their most frequent phrases, and how each meta label is enriched inside them; a toggle
// groups the returned rows by phrase ("( 4 4 4 ) ×472", the count over all candidates).
import d3 from "../d3.js";
import { SELECTED } from "../colors.js";

const W = 260;
const H = 60;

/** Rows of a match answer grouped by the tokens of their range: [{text, rows, starts}]. */
export function groupRows(matches) {
  const groups = new Map();
  for (const m of matches) {
    const a = m.start - m.window_start;
    const text = m.tokens.slice(a, a + m.length).join(" ");
    if (!groups.has(text)) groups.set(text, { text, rows: 0, starts: [] });
    const g = groups.get(text);
    g.rows += 1;
    g.starts.push(m.start);
  }
  return [...groups.values()].sort((x, y) => y.rows - x.rows || x.starts[0] - y.starts[0]);
}

/**
 * @param {{onGroup: (on: bool) => void, onOpen: (start: int) => void}} callbacks
 *   onGroup: the toggle; onOpen: show a grouped phrase's first row in the select view
 */
export function matchSummary({ onGroup = () => {}, onOpen = () => {} } = {}) {
  const root = d3.create("div").attr("class", "match-summary");
  const note = root.append("div").attr("class", "summary-note").attr("aria-live", "polite");
  root.append("h4").text("Lengths of all candidates");
  const svg = root.append("svg").attr("class", "summary-lengths").attr("width", W).attr("height", H + 14);
  root.append("h4").text("Most frequent phrases");
  const phrases = root.append("table").attr("class", "summary-phrases");
  const toggle = root.append("label").attr("class", "summary-group");
  const box = toggle.append("input").attr("type", "checkbox").attr("name", "group");
  toggle.append("span").text(" group the rows shown by phrase");
  box.on("change", () => onGroup(box.property("checked")));
  const grouped = root.append("ul").attr("class", "summary-grouped");
  const meta = root.append("div").attr("class", "summary-meta");

  /**
   * @param {{summary: object|null, candidates: int|null, matches: object[]|null, group: bool,
   *          busy: bool}} data
   */
  function update({ summary, candidates, matches, group, busy }) {
    box.property("checked", group);
    note.text(busy ? "summarising every candidate…" : summary
      ? `${d3.format(",")(candidates)} candidates` : "run a match to see its summary");
    const lengths = summary?.lengths ?? [];
    const x = d3.scaleBand().domain(lengths.map((d) => d[0])).range([0, W]).padding(0.1);
    const y = d3.scaleLinear().domain([0, d3.max(lengths, (d) => d[1]) || 1]).range([H, 0]);
    svg.selectAll("rect").data(lengths).join("rect")
      .attr("x", (d) => x(d[0])).attr("width", x.bandwidth()).attr("y", (d) => y(d[1]))
      .attr("height", (d) => H - y(d[1])).attr("fill", SELECTED)
      .selectAll("title").data((d) => [d]).join("title").text((d) => `length ${d[0]}: ${d[1]}`);
    svg.selectAll("text").data(lengths.length ? [lengths[0][0], lengths[lengths.length - 1][0]] : [])
      .join("text").attr("y", H + 12).attr("font-size", 10)
      .attr("x", (d, i) => (i === 0 ? 0 : W)).attr("text-anchor", (d, i) => (i === 0 ? "start" : "end"))
      .text((d) => `${d}`);
    const total = new Map((summary?.phrases ?? []).map((p) => [p.text, p.count]));
    phrases.selectAll("tr").data(summary?.phrases ?? [], (p) => p.text).join((enter) => {
      const tr = enter.append("tr");
      tr.append("td").attr("class", "phrase");
      tr.append("td").attr("class", "count");
      return tr;
    }).order().call((tr) => {
      tr.select(".phrase").text((p) => p.text);
      tr.select(".count").text((p) => `×${d3.format(",")(p.count)}`);
    });
    const groups = group && matches ? groupRows(matches) : [];
    grouped.selectAll("li").data(groups, (g) => g.text).join("li")
      .attr("title", "show its first row in the select view")
      .on("click", (event, g) => onOpen(g.starts[0]))
      .text((g) => `${g.text} ×${total.has(g.text) ? d3.format(",")(total.get(g.text)) : g.rows}`
        + ` (${g.rows} row${g.rows === 1 ? "" : "s"} shown)`);
    const tracks = Object.entries(summary?.meta ?? {});
    meta.selectAll("table").data(tracks, (d) => d[0]).join((enter) => {
      const t = enter.append("table").attr("class", "summary-track");
      t.append("caption");
      t.append("thead").append("tr").selectAll("th")
        .data(["label", "in matches", "overall", "ratio"]).join("th").text((d) => d);
      t.append("tbody");
      return t;
    }).each(function ([name, rows]) {
      const t = d3.select(this);
      t.select("caption").text(name);
      const pct = (v) => (v === null ? "–" : d3.format(".1%")(v));
      t.select("tbody").selectAll("tr").data(rows, (r) => r.label).join("tr").order()
        .html("")
        .call((tr) => {
          tr.append("td").text((r) => r.label);
          tr.append("td").text((r) => (r.label === "mean" ? d3.format(".3~f")(r.in_matches ?? NaN) : pct(r.in_matches)));
          tr.append("td").text((r) => (r.label === "mean" ? d3.format(".3~f")(r.overall ?? NaN) : pct(r.overall)));
          tr.append("td").text((r) => (r.ratio === null ? "–" : `${d3.format(".2f")(r.ratio)}×`));
        });
    });
  }

  return { node: root.node(), update, destroy: () => root.remove() };
}
