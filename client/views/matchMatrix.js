// The match results: a table with, per row, an "open" button, the scores and the words
// aligned at the match start with the matched range outlined; beside it the match-count
// heatmap and one heatmap per meta track, drawn at the table's row positions. One heatmap's
// colours can be mapped onto the words' background; hover links all of them.
import d3 from "../d3.js";
import { textOn } from "../colors.js";
import { visibleToken } from "../text.js";
import { HEATMAP_CELL_W, heatmapGrid } from "./heatmapGrid.js";
import { legend } from "./legend.js";

const MAX_COLS = 120; // word columns shown per row; longer windows are cut
const HEATMAP_COLS = 24; // heatmap columns: 3 steps before the aligned match start, 20 after

/**
 * @param {{onOpen: (match: object) => void, onMap: (id: string|null) => void,
 *          onHover: (row: number|null, col: number|null) => void}} opts
 */
export function matchMatrix({ onOpen = () => {}, onMap = () => {}, onHover = () => {} } = {}) {
  const root = d3.create("div").attr("class", "match-matrix");
  const heads = root.append("div").attr("class", "heatmap-heads");
  const info = root.append("div").attr("class", "hover-info").attr("aria-live", "polite").text("\u00a0");
  const scroll = root.append("div").attr("class", "matrix-scroll");
  const table = scroll.append("table").attr("class", "matrix");
  const thead = table.append("thead");
  const tbody = table.append("tbody");
  const gridBox = d3.create("div").attr("class", "heatmap-grids"); // lives in the first row's rowspan cell
  const grids = new Map(); // heatmap id -> {block, label, grid}
  let hovered = [null, null];
  let heatmapsShown = [];
  let rowsShown = [];

  // data: {matches: Match[], left: int (steps shown before each start), zoom: px,
  //        heatmaps: [{id, label, color: (v) => colour, values: (m) => (v|null)[] per window step,
  //                    legend: legend spec, format: (v) => string}], mapped: id|null}
  function update({ matches, left, zoom, heatmaps, mapped }) {
    const cols = Math.min(MAX_COLS, d3.max(matches, (m) => left - (m.start - m.window_start) + m.tokens.length) || 0);
    drawHeads(heatmaps, mapped);
    const header = ["", "overlap", "union", "length"].map((t) => ({ t, cls: "score" }))
      .concat([{ t: "heatmaps", cls: "hm-head" }])
      .concat([{ t: "words, aligned at the match start; the match is outlined", cls: "words-head", span: cols }]);
    thead.selectAll("tr").data([header]).join("tr").selectAll("th").data((r) => r).join("th")
      .attr("class", (h) => h.cls).attr("colspan", (h) => h.span || null).attr("scope", "col").text((h) => h.t);
    // the heatmaps' labels, each as wide as its canvas
    const hmWidth = Math.min(cols, HEATMAP_COLS) * HEATMAP_CELL_W;
    thead.select("th.hm-head").text("").selectAll("span").data(heatmaps).join("span")
      .attr("class", "hm-label").style("width", `${hmWidth}px`).text((h) => h.label);

    const mappedMap = heatmaps.find((h) => h.id === mapped) || null;
    const rows = matches.map((m) => rowCells(m, left, cols, mappedMap));
    if (rows.length) rows[0].cells.splice(4, 0, { cls: "heatmaps-cell", rowspan: rows.length, keep: true });
    table.style("--zoom", `${zoom}px`);
    const tr = tbody.selectAll("tr").data(rows).join("tr").attr("class", "match-row")
      .attr("data-start", (row) => row.match.start).attr("data-end", (row) => row.match.end);
    // ~2,000 cells: plain attribute writes only, no per-cell closures or children
    tr.selectAll("td").data((row) => row.cells).join("td")
      .attr("class", (c) => c.cls)
      .attr("data-col", (c) => c.col ?? null)
      .attr("rowspan", (c) => c.rowspan ?? null)
      // CSSOM, not a style attribute: the page's Content-Security-Policy allows no inline styles
      .style("background", (c) => c.bg)
      .style("color", (c) => (c.bg ? textOn(c.bg) : null))
      .filter((c) => !c.keep)
      .text((c) => c.text ?? "");
    const hmCell = tbody.select("td.heatmaps-cell").node();
    if (hmCell && gridBox.node().parentNode !== hmCell) hmCell.append(gridBox.node());
    tr.select("td.open-cell").selectAll("button").data((row) => [row.match]).join("button")
      .attr("type", "button").attr("class", "open").text("open")
      .attr("aria-label", (m) => `open step ${m.start} in the select view`)
      .on("click", (event, m) => onOpen(m));
    tr.each(function (row) {
      d3.select(this).selectAll("td.score").attr("title", (c, i) => scoreTitle(row.match, i));
    });
    heatmapsShown = heatmaps;
    rowsShown = rows;
    drawGrids(heatmaps, rows, cols);
    tbody.on("mouseover", (event) => {
      if (event.target.closest("td.heatmaps-cell")) return; // the canvases report their own hover
      const td = event.target.closest("td[data-col]");
      const tr2 = event.target.closest("tr");
      setHover(td ? tr2.rowIndex - 1 : null, td ? Number(td.dataset.col) : null);
    }).on("mouseleave", () => setHover(null, null));
    markHover();
  }

  // The heatmaps sit beside the table, drawn at the table's measured row positions.
  function drawGrids(heatmaps, rows, cols) {
    const trs = [...tbody.node().rows];
    const first = trs.length ? trs[0].offsetTop : 0;
    const hmCols = Math.min(cols, HEATMAP_COLS);
    const tops = trs.map((t) => t.offsetTop - first);
    const heights = trs.map((t) => t.offsetHeight);
    for (const [id, g] of grids) {
      if (!heatmaps.some((h) => h.id === id)) {
        g.block.remove();
        grids.delete(id);
      }
    }
    for (const h of heatmaps) {
      let g = grids.get(h.id);
      if (!g) {
        const block = gridBox.append("div").attr("class", "heatmap-block").attr("data-heatmap", h.id);
        const grid = heatmapGrid({ label: h.label, onHover: (r, c) => setHover(r, c) });
        block.node().append(grid.node);
        g = { block, grid };
        grids.set(h.id, g);
      }
      const values = rows.map((row) => {
        const vals = h.values(row.match);
        return d3.range(hmCols).map((col) => vals[col - row.offset]);
      });
      g.grid.update({ rows: values, color: h.color, tops, heights, cols: hmCols });
      gridBox.node().append(g.block.node());
    }
  }

  function setHover(row, col) {
    if (row === hovered[0] && col === hovered[1]) return;
    hovered = [row, col];
    markHover();
    info.text(row === null ? "\u00a0" : describe(rowsShown[row], col, heatmapsShown));
    onHover(row, col);
  }

  // Touch only the cells that change.
  function markHover() {
    const [row, col] = hovered;
    tbody.selectAll("td.hover").classed("hover", false);
    tbody.selectAll("tr.hover-row").classed("hover-row", false);
    for (const g of grids.values()) g.grid.setHover(row, col);
    const tr = row === null ? null : tbody.node().rows[row];
    if (!tr) return;
    tr.classList.add("hover-row");
    for (const td of tr.querySelectorAll(`td[data-col="${col}"]`)) td.classList.add("hover");
  }

  function drawHeads(heatmaps, mapped) {
    const head = heads.selectAll("div.hm").data(heatmaps, (h) => h.id).join((enter) => {
      const e = enter.append("div").attr("class", "hm");
      e.append("span").attr("class", "hm-label");
      e.append("button").attr("type", "button").attr("class", "map");
      e.append("div").attr("class", "hm-legend");
      return e;
    });
    head.select(".hm-label").text((h) => h.label);
    head.select("button.map")
      .attr("aria-pressed", (h) => String(h.id === mapped))
      .text((h) => (h.id === mapped ? "unmap from words" : "map onto words"))
      .on("click", (event, h) => onMap(h.id === mapped ? null : h.id));
    head.select(".hm-legend").each(function (h) {
      const box = d3.select(this);
      box.selectAll("*").remove();
      box.node().append(legend(h.legend).node);
    });
  }

  return { node: root.node(), update, destroy: () => root.remove(), hover: setHover };
}

// The <td> specs of one row.
function rowCells(m, left, cols, mapped) {
  const offset = left - (m.start - m.window_start);
  const stepAt = (col) => m.window_start + col - offset; // absolute step shown in a column
  const inWindow = (col) => col - offset >= 0 && col - offset < m.tokens.length;
  const cells = [
    { cls: "open-cell", text: null },
    { text: m.overlap, cls: "score" },
    { text: m.union, cls: "score" },
    { text: m.length, cls: "score" },
  ];
  const mappedVals = mapped ? mapped.values(m) : null;
  for (let col = 0; col < cols; col++) {
    if (!inWindow(col)) {
      cells.push({ col, cls: "word empty" });
      continue;
    }
    const step = stepAt(col);
    const inMatch = step >= m.start && step <= m.end;
    const cls = ["word"];
    if (inMatch) cls.push("matched");
    if (step === m.start) cls.push("match-first");
    if (step === m.end || (inMatch && col === cols - 1)) cls.push("match-last");
    const tok = m.tokens[col - offset];
    const v = mappedVals ? mappedVals[col - offset] : undefined;
    cells.push({ col, cls: cls.join(" "), text: visibleToken(tok), bg: v === undefined ? null : mapped.color(v) });
  }
  return { match: m, cells, offset };
}

function scoreTitle(m, i) {
  return [
    `overlap |S ∩ S2| = ${m.overlap} cells`,
    `union |S ∪ S2| = ${m.union} cells (${m.extra} on here but not selected)`,
    `match ${m.start}–${m.end}: ${m.length} steps`,
  ][i];
}

// The line under the table says what the pointer is on: the step, its word, every heatmap value.
function describe(row, col, heatmaps) {
  const m = row.match;
  const i = col - row.offset;
  if (i < 0 || i >= m.tokens.length) return `match ${m.start}–${m.end}`;
  const parts = [`step ${m.window_start + i} ${JSON.stringify(m.tokens[i])}`];
  for (const h of heatmaps) {
    const v = h.values(m)[i];
    parts.push(`${h.label}: ${v === null || v === undefined ? "no value" : h.format(v)}`);
  }
  return `match ${m.start}–${m.end} · ${parts.join(" · ")}`;
}
