// The page: wires the session (scenario and loaded data), the loaders, the analysis steps and
// the views. Views get data and callbacks; every gesture becomes a session.setState with its
// history mode (session.js states the rule), and every change redraws what it touches.
import { MATCH_LEFT, createAnalysis, windowOf } from "./analysis.js";
import { exportCSV, exportJSON, exportPNG, exportSVG, selectFigure } from "./exports.js";
import { createLoaders } from "./loaders.js";
import { hostPanels } from "./panels.js";
import { onCountOf } from "./select.js";
import { valueScale } from "./scales.js";
import { createSession } from "./session.js";
import { normaliseCells } from "./state.js";
import { matchView } from "./views/matchView.js";
import { searchBox } from "./views/searchBox.js";
import { selectView } from "./views/selectView.js";
import { statusBar } from "./views/statusBar.js";
import { tickEvery } from "./views/stepAxis.js";
import { toolbar } from "./views/toolbar.js";

const LABEL_W = 130; // the select view's label column
const PLOT_H = 200;

const status = statusBar();
document.querySelector("#status").append(status.node);
const header = document.querySelector("header .where");

const loaders = createLoaders({ onChange: (loads) => status.busy(progressText(loads)) });
const session = createSession({ onLinkErrors: (errors) => errors.forEach((e) => status.error("Bad link:", e)) });
const data = session.data;
const analysis = createAnalysis({ session, loaders, status, viewportSteps, onFatal: showFatal });

// "matching over the whole data set: scanning 3,000 steps · 4 s": what, how far, how long
function progressText(loads) {
  if (!loads.length) return null;
  return loads.map((l) => `${l.label}${l.detail ? `: ${l.detail}` : ""}${l.seconds >= 2 ? ` · ${Math.floor(l.seconds)} s` : ""}`).join(", ");
}

// Steps the plot has room for at the current zoom (the window is widened to fill it).
function viewportSteps() {
  const width = document.querySelector("main").clientWidth - LABEL_W - 40;
  return Math.max(1, Math.floor(width / session.state.zoom));
}

// --- views ------------------------------------------------------------------

let views = null;
let hover = { cell: null, step: null };
let lastMatchRender = null; // what the match view last drew (see renderMatch)
let scrollToMatch = false;

function buildViews() {
  const bar = toolbar(toolbarActions());
  const search = searchBox({ onSearch: analysis.runSearch, onPick: (r) => jump(r.start, r.end) });
  const select = selectView(selectActions());
  const match = matchView(matchActions());
  const panelBar = document.createElement("nav");
  panelBar.className = "panel-bar";
  panelBar.setAttribute("aria-label", "analysis panels");
  const panelBox = document.createElement("div");
  panelBox.className = "panels";
  const side = document.createElement("div");
  side.className = "side";
  side.append(search.node);
  document.querySelector("main").replaceChildren(bar.node, select.node, side, panelBar, match.node, panelBox);
  const panels = hostPanels({ bar: panelBar, box: panelBox, session, loaders, status, actions: panelActions() });
  views = { bar, search, select, match, panels };
  lastMatchRender = null; // a new match view has drawn nothing yet
}

// The cells shown: the scenario's, or the local preview while the server's select answers.
function shownCells(s) {
  return s.cells ?? data.preview ?? [];
}

// A change of the selection rule recomputes the brush's cells (null: the server's select is
// asked; the URL leaves them out until it answers, so a link copied meanwhile selects again).
function rule(patch, mode) {
  const s = { ...session.state, ...patch };
  session.setState({ ...patch, cells: s.start === null ? session.state.cells ?? [] : null }, mode);
}

function toolbarActions() {
  return {
    onSource: (id) => {
      analysis.showCellInfo(null); // its statistics belong to the old source
      // a source has its own values: its threshold is derived again
      rule({ source: id, threshold: null, added: [], removed: [], cells: [] }, "push");
    },
    onStep: (delta) => step(delta),
    onJump: (pos) => session.setState({ pos: clampPos(pos) }, "push"),
    onRange: (a, b) => rule({ start: clampPos(a), end: clampPos(b) }, "push"),
    onThreshold: (v) => rule({ threshold: v }, "replace"),
    onPadding: (l, r) => rule({ pad_left: l, pad_right: r }, "push"),
    onMeta: (ids) => session.setState({ meta: ids }, "push"),
    onZoom: (dir) => {
      const z0 = session.state.zoom;
      const z = Math.round(z0 * (dir > 0 ? 1.25 : 0.8));
      session.setState({ zoom: Math.max(4, Math.min(80, z === z0 ? z + dir : z)) }, "replace");
    },
    onWindow: (n) => {
      const left = Math.min(10, Math.floor((n - 1) / 4));
      session.setState({ left, right: n - 1 - left }, "push");
    },
    onScale: (kind) => session.setState({ scale: kind }, "push"),
    onExport: (kind) => exportSelect(kind),
  };
}

function selectActions() {
  return {
    onThreshold: (v) => rule({ threshold: v }, "replace"),
    onBrush: (a, b) => rule({ start: a, end: b }, "push"),
    onPadding: (l, r, final) => rule({ pad_left: l, pad_right: r }, final ? "push" : "replace"),
    onHoverCell: (c) => setHover({ cell: c }),
    onHoverStep: (t) => setHover({ step: t }),
    onHoverPlot: (c, t) => setHover({ cell: c, step: t }),
    onToggleCell: (c) => (shownCells(session.state).includes(c) ? removeCells([c]) : addCells([c])),
    onAddCell: (c) => addCells([c]),
    onRemoveCell: (c) => removeCells([c]),
    onClear: () => session.setState({ cells: [], added: [], removed: [], start: null, end: null }, "push"),
    onCloseMeta: (id) => session.setState({ meta: session.state.meta.filter((m) => m !== id) }, "push"),
    onPickCell: (c) => analysis.showCellInfo(c),
    onMatch: () => runMatch({}),
  };
}

function runMatch(params) {
  analysis.rerunMatch(); // run again even when nothing changed (no history entry then)
  scrollToMatch = true;
  session.setState({ match: true, ...params }, "push");
  analysis.refresh();
}

function matchActions() {
  return {
    onRun: (params) => runMatch(params),
    onClose: () => session.setState({ match: false }, "push"),
    onOpen: (m) => jump(m.start, m.end),
    onMap: (id) => session.setState({ map: id }, "push"),
    onHover: () => {},
    onExport: (kind) => exportMatch(kind),
  };
}

function panelActions() {
  return { jump, addCells, removeCells };
}

/** Show step `start` in the select view, its range [start, end] marked. */
function jump(start, end = start) {
  session.setState({ pos: clampPos(start), mark: [clampPos(start), clampPos(end)] }, "push");
  views?.select.node.scrollIntoView({ block: "start", behavior: "instant" });
}

function addCells(cs) {
  const s = session.state;
  const cells = shownCells(s);
  session.setState({
    cells: s.cells === null ? null : normaliseCells([...s.cells, ...cs]),
    added: normaliseCells([...s.added, ...cs.filter((c) => !cells.includes(c))]),
    removed: s.removed.filter((x) => !cs.includes(x)),
  }, "push");
}

function removeCells(cs) {
  const s = session.state;
  session.setState({
    cells: s.cells === null ? null : s.cells.filter((x) => !cs.includes(x)),
    added: s.added.filter((x) => !cs.includes(x)),
    removed: normaliseCells([...s.removed, ...cs.filter((c) => !s.added.includes(c))]),
  }, "push");
}

function clampPos(pos) {
  return Math.max(0, Math.min(data.dataset.length - 1, pos));
}

function step(delta) {
  const pos = clampPos(session.state.pos + delta);
  if (pos !== session.state.pos) session.setState({ pos }, Math.abs(delta) === 1 ? "replace" : "push");
}

// --- rendering --------------------------------------------------------------

function render() {
  if (!views || !data.context || !data.dataset) return;
  renderSelect();
  renderMatch();
  views.panels.update();
}

function renderSelect() {
  const s = session.state;
  const source = data.dataset.sources.find((x) => x.id === s.source);
  const ctx = data.context;
  const cells = shownCells(s);
  const threshold = s.threshold ?? 0.3; // until the source's own is derived
  views.bar.update({ dataset: data.dataset, state: s });
  views.search.update({ ...(data.search || { results: null }), enabled: data.dataset.searchable });
  views.select.setCellInfo({ ...(data.cellInfo || { cell: null }), threshold });
  const shown = { ...s, cells, threshold };
  timed("hs:select-render", () => views.select.update({
    context: ctx, source, state: shown, onCount: onCountOf(ctx, cells, threshold),
    y: valueScale(s.scale, source, data.values, threshold, [PLOT_H - 4, 4]), values: data.values, hover,
    trackInfo: data.trackInfo, pending: s.cells === null, canMatch: cells.length > 0 && !s.match,
  }));
}

// The match table is large: redraw it only when what it shows changed.
function renderMatch() {
  const s = session.state;
  views.match.node.style.display = s.match ? null : "none";
  if (!s.match) return;
  const busy = !!data.matchAsked;
  const shown = [data.match, busy, s.map, s.zoom, shownCells(s).length, s.min_overlap, s.min_len, s.max_len, s.limit];
  if (!lastMatchRender || !shown.every((v, i) => v === lastMatchRender[i])) {
    lastMatchRender = shown;
    timed("hs:match-render", () => views.match.update({
      state: { ...s, cells: shownCells(s) }, result: data.match, busy, left: MATCH_LEFT, trackInfo: data.trackInfo,
    }));
  }
  if (scrollToMatch && data.match && !busy) { // once its rows are in: the page is tall enough then
    scrollToMatch = false;
    views.match.node.scrollIntoView({ block: "start", behavior: "instant" });
  }
}

// A performance.measure entry lets the benchmark (bench/bench_client.py) read the last
// render time; only the last is kept, so a long session does not pile them up.
function timed(name, fn) {
  const t0 = performance.now();
  fn();
  performance.clearMeasures(name);
  performance.measure(name, { start: t0, end: performance.now() });
}

function setHover(patch) {
  hover = { ...hover, ...patch };
  views?.select.setHover(hover);
}

function showFatal() {
  views?.panels.destroy();
  views = null;
  const p = document.createElement("p");
  p.className = "fatal";
  p.append("Nothing to show for this link. ");
  const a = document.createElement("a");
  a.href = "./";
  a.textContent = "Choose a data set";
  p.append(a, ".");
  document.querySelector("main").replaceChildren(p);
}

// --- exports ----------------------------------------------------------------

// The select view as drawn now: the window, the cells shown, the axis in use.
function exportSelect(kind) {
  if (!views || !data.context) return;
  const s = session.state;
  const source = data.dataset.sources.find((x) => x.id === s.source);
  const threshold = s.threshold ?? 0.3;
  const figure = selectFigure({
    context: data.context, state: { ...s, cells: shownCells(s), threshold },
    y: valueScale(s.scale, source, data.values, threshold, [PLOT_H - 4, 4]), tickEvery: tickEvery(s.zoom),
  });
  const name = `${s.dataset}-${s.source}-${data.context.start}`;
  if (kind === "svg") exportSVG(figure, `${name}.svg`);
  else exportPNG(figure, `${name}.png`);
}

function exportMatch(kind) {
  if (!data.match) return;
  const s = session.state;
  const name = `${s.dataset}-${s.source}-match`;
  if (kind === "csv") exportCSV(data.match, `${name}.csv`);
  else exportJSON({ link: window.location.href, query: { dataset: s.dataset, ...analysis.matchParams(s) }, ...data.match }, `${name}.json`);
}

// --- wiring -----------------------------------------------------------------

session.subscribe((change) => {
  if (data.dataset && !views && session.state.dataset === data.dataset.id) {
    buildViews();
    document.title = `${data.dataset.name} · hiddenscope`;
    header.textContent = data.dataset.name;
  }
  if (change.state.size || change.restored) analysis.refresh();
  if (change.state.has("source") || change.restored) hover = { cell: null, step: null };
  render();
});

document.addEventListener("keydown", (event) => {
  if (!views || event.defaultPrevented || event.altKey || event.ctrlKey || event.metaKey) return;
  if (event.key === "Escape" && data.cellInfo?.cell != null) {
    analysis.showCellInfo(null);
    return;
  }
  const tag = event.target.tagName;
  if (["INPUT", "SELECT", "TEXTAREA"].includes(tag) || event.target.closest?.("[role=slider]")) return;
  const s = session.state;
  const size = s.left + s.right + 1;
  if (event.key === "ArrowLeft") step(event.shiftKey ? -size : -1);
  else if (event.key === "ArrowRight") step(event.shiftKey ? size : 1);
  else return;
  event.preventDefault();
});

session.restore();

// For the browser tests and the benchmark: inspection, and a way to time a redraw.
window.hiddenscope = {
  session,
  loaders,
  get state() { return session.state; },
  get context() { return data.context ?? null; },
  get aborts() { return Object.fromEntries(loaders.names().map((n) => [n, true])); },
  get matchBusy() { return loaders.pending("match") || !!data.matchAsked; },
  get selectPending() { return loaders.pending("select"); },
  get urlPending() { return session.urlPending; },
  window: () => windowOf(session.state, data.dataset.length, viewportSteps()),
  render: () => {
    lastMatchRender = null;
    render();
  },
};
