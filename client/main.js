// The app: owns the state, keeps it in the URL, fetches, and wires the views.
//
// History: deliberate steps (brush end, padding handle released, run match, open a match
// row, source change, jump, page, cell edits) push an entry, so Back walks back through
// the analysis; continuous tweaks (threshold drag, zoom, single steps) replace it.
import * as api from "./api.js";
import { MATCH_LEFT, requests } from "./requests.js";
import { fitToDataset, normaliseCells, parse, serialize } from "./state.js";
import { matchView } from "./views/matchView.js";
import { selectView } from "./views/selectView.js";
import { statusBar } from "./views/statusBar.js";
import { searchBox } from "./views/searchBox.js";
import { toolbar } from "./views/toolbar.js";
import { onCountOf, valueDomain } from "./select.js";

const URL_EVERY_MS = 150;

const app = {
  state: null,
  dataset: null, // DatasetSummary
  context: null, // the context answer (all cells of the window)
  contextKey: null,
  values: null, // Float32Array of the window's values (histogram)
  match: null, // the match answer shown
  matchKey: null,
  matchBusy: false,
  selectPending: false, // a select is scheduled or in flight
  selectSeq: 0, // answers of older selects are dropped
  urlPending: false, // the URL lags a continuous tweak by at most URL_EVERY_MS
  hover: { cell: null, step: null },
  search: { results: null }, // the last search's answer
  cellInfo: { cell: null, stats: null, busy: false }, // the cell whose details are shown
  aborts: {}, // name -> AbortController of the request in flight
  timers: {},
};

const status = statusBar();
// (function declarations below are hoisted, so they can be handed over here)
const { fetchInto, scheduleMatch, scheduleSelect, cancelSelect } = requests(app, { status, setState, render, reportError });
const header = document.querySelector("header .where");
document.querySelector("#status").append(status.node);

function reportError(err, what) {
  if (err.name === "AbortError") return;
  console.error(err);
  status.error(what, err.detail || err.message);
}

// --- state and history ------------------------------------------------------

/** Apply a patch; "push" for deliberate steps, "replace" for continuous tweaks. */
function setState(patch, mode = "replace") {
  const before = app.state;
  app.state = { ...app.state, ...patch };
  if (mode === "push") {
    if (app.urlPending) writeURL(before); // the entry we leave keeps its last tweak
    window.history.pushState(null, "", `?${serialize(app.state)}`);
  } else if (!app.urlPending) {
    // a drag tweaks the state many times a second; browsers limit history calls (Safari
    // throws after 100 in 30 s, Firefox throttles), so the URL follows every URL_EVERY_MS
    app.urlPending = true;
    app.timers.url = setTimeout(() => writeURL(app.state), URL_EVERY_MS);
  }
  refresh();
}

function writeURL(state) {
  clearTimeout(app.timers.url);
  app.urlPending = false;
  window.history.replaceState(null, "", `?${serialize(state)}`);
}

window.addEventListener("popstate", () => {
  cancelSelect(); // the restored entry holds its own cells
  clearTimeout(app.timers.url); // a pending tweak belongs to the entry we left
  app.urlPending = false;
  const { state, errors } = parse(window.location.search);
  for (const e of errors) status.error("Bad link:", e);
  app.state = state;
  refresh();
});

// --- fetching ---------------------------------------------------------------

async function loadDataset() {
  if (app.dataset && app.dataset.id === app.state.dataset) return true;
  try {
    app.dataset = await fetchInto("dataset", (o) => api.getDataset(app.state.dataset, o));
  } catch (err) {
    if (err.name === "AbortError") return false; // a newer refresh asked again
    reportError(err, `Data set '${app.state.dataset}' could not be opened:`);
    showFatal();
    return false;
  }
  if (!app.dataset.available) {
    status.error(`Data set '${app.dataset.id}' is unavailable:`, app.dataset.error || "no reason given");
    showFatal();
    return false;
  }
  app.trackInfo = new Map(app.dataset.meta.map((m) => [m.id, m]));
  document.title = `${app.dataset.name} · hiddenscope`;
  header.textContent = app.dataset.name;
  return true;
}

/** Fit the state to the data set (state.js fitToDataset); the link's faults become messages. */
function checkStateAgainstDataset() {
  const { state, errors } = fitToDataset(app.state, app.dataset);
  for (const e of errors) status.error("Bad link:", e);
  if (state !== app.state) {
    app.state = state;
    writeURL(app.state);
  }
}

function sourceOf(id) {
  return app.dataset.sources.find((x) => x.id === id);
}

async function loadContext() {
  const s = app.state;
  const key = [s.dataset, s.source, s.pos, s.left, s.right, s.meta.join(",")].join("|");
  if (key === app.contextKey) {
    // back at the window shown (a step and a step back): a request still in flight is for
    // another window, and its late answer would replace this one
    app.aborts.context?.abort();
    return true;
  }
  try {
    const ctx = await fetchInto("context", (o) => api.getContext(s.dataset, {
      source: s.source, pos: s.pos, left: s.left, right: s.right, threshold: s.threshold,
      meta: s.meta.length ? s.meta : null,
    }, o));
    app.context = ctx;
    app.contextKey = key;
    app.values = Float32Array.from(ctx.states.flat().filter((v) => v !== null)); // null: NaN
    return true;
  } catch (err) {
    reportError(err, "Could not load the steps:");
    return false;
  }
}

// --- rendering --------------------------------------------------------------

let views = null;
let lastMatchRender = null; // what the match view last drew (see renderMatch)

function buildViews() {
  const bar = toolbar(toolbarActions());
  const search = searchBox({
    onSearch: (q, regex) => runSearch(q, regex),
    onPick: (r) => setState({ pos: clampPos(r.start) }, "push"),
  });
  const select = selectView(selectActions());
  const match = matchView(matchActions());
  const matchButton = document.createElement("button");
  matchButton.type = "button";
  matchButton.className = "primary open-match";
  matchButton.textContent = "Match these cells";
  matchButton.addEventListener("click", () => {
    app.matchKey = null; // run again even when nothing changed
    setState({ match: true }, "push");
  });
  select.node.querySelector(".cell-list").append(matchButton);
  const side = document.createElement("div");
  side.className = "side";
  side.append(search.node);
  document.querySelector("main").replaceChildren(bar.node, select.node, side, match.node);
  views = { bar, search, select, match, matchButton };
  app.views = views;
  lastMatchRender = null; // a new match view has drawn nothing yet
}

// A change of threshold or padding recomputes the selection (scheduleSelect is debounced, so
// a drag asks the server once it pauses).
function selectRule(patch, mode) {
  setState(patch, mode);
  scheduleSelect();
}

function toolbarActions() {
  return {
    onSource: (id) => {
      showCellInfo(null); // its statistics belong to the old source
      selectRule({ source: id, cells: [], added: [], removed: [] }, "push");
    },
    onStep: (delta) => step(delta),
    onJump: (pos) => setState({ pos: clampPos(pos) }, "push"),
    onRange: (a, b) => selectRule({ start: clampPos(a), end: clampPos(b) }, "push"),
    onThreshold: (v) => selectRule({ threshold: v }, "replace"),
    onPadding: (l, r) => selectRule({ pad_left: l, pad_right: r }, "push"),
    onMeta: (ids) => setState({ meta: ids }, "push"),
    onZoom: (dir) => {
      const z = Math.round(app.state.zoom * (dir > 0 ? 1.25 : 0.8));
      setState({ zoom: Math.max(4, Math.min(80, z === app.state.zoom ? z + dir : z)) }, "replace");
    },
    onWindow: (n) => {
      const left = Math.min(10, Math.floor((n - 1) / 4));
      setState({ left, right: n - 1 - left }, "push");
    },
  };
}

function selectActions() {
  return {
    onThreshold: (v) => selectRule({ threshold: v }, "replace"),
    onBrush: (a, b) => selectRule({ start: a, end: b }, "push"),
    onPadding: (l, r, final) => selectRule({ pad_left: l, pad_right: r }, final ? "push" : "replace"),
    onHoverCell: (c) => hover({ cell: c }),
    onHoverStep: (t) => hover({ step: t }),
    onHoverPlot: (c, t) => hover({ cell: c, step: t }),
    onToggleCell: (c) => (app.state.cells.includes(c) ? removeCell(c) : addCell(c)),
    onAddCell: addCell,
    onRemoveCell: removeCell,
    onClear: () => setState({ cells: [], added: [], removed: [], start: null, end: null }, "push"),
    onCloseMeta: (id) => setState({ meta: app.state.meta.filter((m) => m !== id) }, "push"),
    onPickCell: (c) => showCellInfo(c),
  };
}

function matchActions() {
  return {
    onRun: (params) => {
      app.matchKey = null; // run again even when nothing changed
      setState({ match: true, ...params }, "push");
    },
    onClose: () => setState({ match: false }, "push"),
    onOpen: (m) => {
      setState({ pos: m.start }, "push");
      window.scrollTo({ top: 0 });
    },
    onMap: (id) => setState({ map: id }, "push"),
    onHover: () => {},
  };
}

// The details of one cell (its value distribution): not part of the scenario, so not in the URL.
async function showCellInfo(cell) {
  app.aborts.cell?.abort(); // a closed panel must not reopen when its answer comes late
  app.cellInfo = { cell, stats: null, busy: cell !== null };
  renderCellInfo();
  if (cell === null) return;
  try {
    const stats = await fetchInto("cell", (o) => api.getCellStats(app.state.dataset, cell, { source: app.state.source }, o));
    if (app.cellInfo.cell !== cell) return; // closed or another cell picked meanwhile
    app.cellInfo = { cell, stats, busy: false };
  } catch (err) {
    if (err.name === "AbortError" || app.cellInfo.cell !== cell) return;
    app.cellInfo = { cell: null, stats: null, busy: false };
    reportError(err, `Could not load cell ${cell}:`);
  }
  renderCellInfo();
}

function renderCellInfo() {
  views?.select.setCellInfo({ ...app.cellInfo, threshold: app.state.threshold });
}

async function runSearch(q, regex) {
  app.search = { results: null, busy: true };
  renderSearch();
  try {
    const r = await fetchInto("search", (o) => api.searchTokens(app.state.dataset, { q, regex, limit: 50 }, o));
    app.search = { results: r.results, truncated: r.truncated };
  } catch (err) {
    if (err.name === "AbortError") return;
    app.search = { results: null };
    reportError(err, "Search failed:");
  }
  renderSearch();
}

function renderSearch() {
  views?.search.update({ ...app.search, enabled: app.dataset.searchable });
}

function render() {
  if (!views || !app.context || !app.dataset) return;
  renderSelect();
  renderMatch();
}

function renderSelect() {
  const s = app.state;
  const source = sourceOf(s.source);
  const ctx = app.context;
  views.bar.update({ dataset: app.dataset, state: s });
  renderSearch();
  renderCellInfo();
  timed("hs:select-render", () => views.select.update({
    context: ctx, source, state: s, onCount: onCountOf(ctx, s.cells, s.threshold),
    yDomain: valueDomain(source, app.values, s.threshold), values: app.values, hover: app.hover,
    trackInfo: app.trackInfo,
  }));
  views.matchButton.disabled = !s.cells.length;
  views.matchButton.style.display = s.match ? "none" : null;
}

// The match table is large: redraw it only when what it shows changed.
function renderMatch() {
  const s = app.state;
  views.match.node.style.display = s.match ? null : "none";
  if (!s.match) return;
  const shown = [app.match, app.matchBusy, s.map, s.zoom, s.cells.length, s.min_overlap, s.min_len, s.max_len, s.limit];
  if (lastMatchRender && shown.every((v, i) => v === lastMatchRender[i])) return;
  lastMatchRender = shown;
  timed("hs:match-render", () => views.match.update({
    state: s, result: app.match, busy: app.matchBusy, left: MATCH_LEFT, trackInfo: app.trackInfo,
  }));
}

// A performance.measure entry lets the benchmark (bench/bench_client.py) read the last
// render time; only the last is kept, so a long session does not pile them up.
function timed(name, fn) {
  const t0 = performance.now();
  fn();
  performance.clearMeasures(name);
  performance.measure(name, { start: t0, end: performance.now() });
}

function hover(patch) {
  app.hover = { ...app.hover, ...patch };
  views?.select.setHover(app.hover);
}

function addCell(c) {
  const s = app.state;
  setState({
    cells: normaliseCells([...s.cells, c]),
    added: s.cells.includes(c) ? s.added : normaliseCells([...s.added, c]),
    removed: s.removed.filter((x) => x !== c),
  }, "push");
}

function removeCell(c) {
  const s = app.state;
  setState({
    cells: s.cells.filter((x) => x !== c),
    added: s.added.filter((x) => x !== c),
    removed: s.added.includes(c) ? s.removed : normaliseCells([...s.removed, c]),
  }, "push");
}

function clampPos(pos) {
  return Math.max(0, Math.min(app.dataset.length - 1, pos));
}

function step(delta) {
  const pos = clampPos(app.state.pos + delta);
  if (pos !== app.state.pos) setState({ pos }, Math.abs(delta) === 1 ? "replace" : "push");
}

let refreshes = 0;

async function refresh() {
  const mine = ++refreshes;
  if (!app.state.dataset) {
    status.error("No data set:", "this link names no data set (…/view.html?dataset=ID); pick one on the start page.");
    showFatal();
    return;
  }
  if (!(await loadDataset())) return;
  if (!views) buildViews();
  checkStateAgainstDataset();
  const ok = await loadContext();
  if (mine !== refreshes && !ok) return; // a newer refresh replaced this one
  scheduleMatch();
  render();
}

function showFatal() {
  const main = document.querySelector("main");
  views = null;
  const p = document.createElement("p");
  p.className = "fatal";
  p.innerHTML = 'Nothing to show for this link. <a href="./">Choose a data set</a>.';
  main.replaceChildren(p);
}

document.addEventListener("keydown", (event) => {
  if (!views || event.defaultPrevented || event.altKey || event.ctrlKey || event.metaKey) return;
  if (event.key === "Escape" && app.cellInfo.cell !== null) {
    showCellInfo(null);
    return;
  }
  const tag = event.target.tagName;
  if (["INPUT", "SELECT", "TEXTAREA"].includes(tag) || event.target.closest?.("[role=slider]")) return;
  const size = app.state.left + app.state.right + 1;
  if (event.key === "ArrowLeft") step(event.shiftKey ? -size : -1);
  else if (event.key === "ArrowRight") step(event.shiftKey ? size : 1);
  else return;
  event.preventDefault();
});

// --- boot -------------------------------------------------------------------

{
  const { state, errors } = parse(window.location.search);
  for (const e of errors) status.error("Bad link:", e);
  app.state = state;
  window.history.replaceState(null, "", `?${serialize(state)}`);
  refresh();
}
// for the browser tests and the benchmark: inspection, and a way to time a redraw
window.hiddenscope = app;
app.render = () => {
  lastMatchRender = null;
  render();
};
