// What the scenario asks of the server, through the loaders into the session: the data set,
// the window of steps, the server's select of the brush, the match, search and cell details.
// Called after every change of the scenario; each step is keyed, so asking again for what is
// loaded or loading costs nothing, and an answer for an older scenario is dropped.
import * as api from "./api.js";
import { localSelect } from "./select.js";
import { defaultThreshold } from "./scales.js";
import { applyEdits, fitToDataset } from "./state.js";

export const MATCH_LEFT = 3; // steps shown before each match start
export const MATCH_RIGHT = 20; // steps shown after each match end
const SELECT_DEBOUNCE_MS = 200;
const MATCH_DEBOUNCE_MS = 250;
const INDEX_POLL_MS = 2000; // a long match asks the data set summary how the index build goes
const MAX_SIDE = 500; // the API serves at most 500 steps on each side of pos

/**
 * The window actually loaded: the scenario's, widened to fill the plot. At the start of the
 * data set the steps missing on the left are added on the right; when zoomed out, steps are
 * added on the right until the plot is full.
 * @param {{pos: int, left: int, right: int}} s
 * @param {int} length steps of the data set
 * @param {int} minSteps steps the plot has room for
 * @returns {{pos: int, left: int, right: int}}
 */
export function windowOf(s, length, minSteps) {
  const left = Math.min(s.left, s.pos);
  let right = s.right + (s.left - left);
  right = Math.max(right, minSteps - left - 1);
  right = Math.max(0, Math.min(right, MAX_SIDE, length - 1 - s.pos));
  return { pos: s.pos, left, right };
}

/**
 * What a long match is doing, from the data set summary's match index of the source
 * (sources[].index: {state: fresh|missing|stale|building|unavailable, percent}): without a
 * fresh index the server scans every step.
 * @returns {string} e.g. "scanning 3,000 steps (match index being built: 42%)"
 */
export function matchProgress(summary, sourceId) {
  const src = summary?.sources?.find((x) => x.id === sourceId);
  const index = src?.index;
  const scan = `scanning ${(summary?.length ?? 0).toLocaleString("en")} steps`;
  if (!index || typeof index !== "object") return scan;
  if (index.state === "fresh") return "using the match index";
  if (index.state === "building") {
    const pct = Number.isFinite(index.percent) ? `: ${Math.round(index.percent)}%` : "";
    return `${scan} (match index being built${pct})`;
  }
  if (index.state === "missing" || index.state === "stale") return `${scan} (no ${index.state === "stale" ? "fresh " : ""}match index yet)`;
  return scan;
}

/**
 * @param {{session, loaders, status, viewportSteps: () => int, onFatal: () => void}} deps
 *   status: the status bar (error(title, detail, key), clear(key)); onFatal: nothing to show
 */
export function createAnalysis({ session, loaders, status, viewportSteps, onFatal }) {
  const data = session.data;
  let selectAsked = null; // key of the select whose answer is awaited
  let matchAsked = null; // key of the match whose answer is awaited
  let matchRun = 0; // "Run match" with nothing changed runs it again

  function fail(err, title, key) {
    if (err.name === "AbortError") return;
    console.error(err);
    status.error(title, err.detail || err.message, key);
  }

  const sourceOf = (id) => data.dataset.sources.find((x) => x.id === id);

  async function ensureDataset(id) {
    if (data.dataset?.id === id) return true;
    let ds;
    try {
      ds = await loaders.load("dataset", (o) => api.getDataset(id, o), { key: id, label: "opening the data set" });
    } catch (err) {
      if (err.name === "AbortError") return false; // a newer refresh asked again
      fail(err, `Data set '${id}' could not be opened:`, "dataset");
      onFatal();
      return false;
    }
    if (!ds.available) {
      status.error(`Data set '${ds.id}' is unavailable:`, ds.error || "no reason given", "dataset");
      onFatal();
      return false;
    }
    if (data.dataset?.id !== ds.id) session.setData({ dataset: ds, trackInfo: new Map(ds.meta.map((m) => [m.id, m])) });
    return true;
  }

  /** Fit the scenario to the data set; the link's faults become messages. */
  function fit() {
    const { state, errors } = fitToDataset(session.state, data.dataset);
    for (const e of errors) status.error("Bad link:", e);
    if (state !== session.state) session.setState(state, "fix");
  }

  async function ensureContext() {
    const s = session.state;
    const w = windowOf(s, data.dataset.length, viewportSteps());
    const key = [s.dataset, s.source, w.pos, w.left, w.right, s.meta.join(",")].join("|");
    if (key === data.contextKey) {
      // back at the window shown (a step and a step back): a request still in flight is for
      // another window, and its late answer would replace this one
      loaders.cancel("context");
      return true;
    }
    try {
      const ctx = await loaders.load("context", (o) => api.getContext(s.dataset, {
        source: s.source, ...w, meta: s.meta.length ? s.meta : null,
      }, o), { key, label: "loading steps" });
      if (data.contextKey !== key) {
        const values = Float32Array.from(ctx.states.flat().filter((v) => v !== null)); // null: NaN
        session.setData({ context: ctx, contextKey: key, values });
      }
      status.clear("context");
      return true;
    } catch (err) {
      fail(err, "Could not load the steps:", "context");
      return false;
    }
  }

  // A source's first window sets its default threshold (written to the URL, so a link keeps it).
  function deriveThreshold() {
    const s = session.state;
    if (s.threshold !== null || data.context?.source !== s.source) return;
    session.setState({ threshold: defaultThreshold(sourceOf(s.source), data.values) }, "fix");
  }

  function selectKey(s) {
    return JSON.stringify([s.dataset, s.source, s.start, s.end, s.threshold, s.pad_left, s.pad_right]);
  }

  // cells null: the brush's cells are still to come from the server's select.
  function ensureSelect() {
    const s = session.state;
    if (s.cells !== null) {
      selectAsked = null;
      loaders.cancel("select"); // a restored entry holds its own cells
      if (data.preview) session.setData({ preview: null });
      return;
    }
    if (s.start === null) {
      session.setState({ cells: applyEdits([], s.added, s.removed) }, "fix");
      return;
    }
    if (s.threshold === null) return; // derived once the window is in
    const key = selectKey(s);
    if (key === selectAsked && loaders.pending("select")) return;
    selectAsked = key;
    const preview = localSelect(data.context, s); // shown at once while the server answers
    session.setData({ preview: preview && applyEdits(preview, s.added, s.removed) });
    loaders.load("select", (o) => api.selectCells(s.dataset, {
      source: s.source, start: s.start, end: s.end, threshold: s.threshold, pad_left: s.pad_left, pad_right: s.pad_right,
    }, o), { key, debounce: SELECT_DEBOUNCE_MS, label: "selecting cells" }).then((r) => {
      const now = session.state;
      if (now.cells !== null || selectKey(now) !== key) return; // answered for another scenario
      status.clear("select");
      session.setData({ preview: null });
      session.setState({ cells: applyEdits(r.cells, now.added, now.removed) }, "fix");
    }, (err) => {
      if (selectAsked === key) session.setData({ preview: null });
      fail(err, "Select failed:", "select");
    });
  }

  function matchParams(s) {
    return {
      source: s.source, cells: s.cells, threshold: s.threshold, pad_left: s.pad_left, pad_right: s.pad_right,
      min_overlap: s.min_overlap, min_len: s.min_len, max_len: s.max_len, limit: s.limit,
      left: MATCH_LEFT, right: MATCH_RIGHT, meta: s.meta.length ? s.meta : null, // heatmaps of the tracks shown
    };
  }

  function scheduleMatch() {
    const s = session.state;
    if (!s.match || !s.cells?.length || s.threshold === null) {
      loaders.cancel("match");
      matchAsked = null;
      if (data.match || data.matchAsked) session.setData({ match: null, matchKey: null, matchAsked: null });
      return;
    }
    const params = matchParams(s);
    const key = JSON.stringify([s.dataset, params, matchRun]);
    if (key === data.matchKey || key === matchAsked) return;
    matchAsked = key;
    session.setData({ matchAsked: key });
    loaders.load("match", async ({ signal, progress }) => {
      progress(matchProgress(data.dataset, s.source));
      // the first match of a source may scan while its index is built: say how far it got
      const poll = setInterval(async () => {
        try {
          progress(matchProgress(await api.getDataset(s.dataset, { signal }), s.source));
        } catch {
          // the summary is a courtesy; the match itself reports failures
        }
      }, INDEX_POLL_MS);
      try {
        return await api.matchCells(s.dataset, params, { signal });
      } finally {
        clearInterval(poll);
      }
    }, { key, debounce: MATCH_DEBOUNCE_MS, label: "matching over the whole data set" }).then((result) => {
      if (matchAsked !== key) return;
      matchAsked = null;
      status.clear("match");
      session.setData({ match: result, matchKey: key, matchAsked: null });
    }, (err) => {
      if (err.name === "AbortError" || matchAsked !== key) return;
      matchAsked = null;
      session.setData({ match: null, matchKey: null, matchAsked: null });
      fail(err, "Match failed:", "match");
    });
  }

  /** Bring the scenario's data up to date (after any change of the scenario). */
  async function refresh() {
    const s = session.state;
    if (!s.dataset) {
      status.error("No data set:", "this link names no data set (…/view.html?dataset=ID); pick one on the start page.");
      onFatal();
      return;
    }
    if (!(await ensureDataset(s.dataset))) return;
    fit();
    if (!(await ensureContext())) return;
    deriveThreshold();
    ensureSelect();
    scheduleMatch();
    closeStaleCellInfo();
  }

  /** "Run match": runs even when nothing changed (the history gets no entry then). */
  function rerunMatch() {
    matchRun += 1;
  }

  // The details of one cell (its value distribution): not part of the scenario, so not in the URL.
  async function showCellInfo(cell) {
    loaders.cancel("cell"); // a closed panel must not reopen when its answer comes late
    session.setData({ cellInfo: { cell, stats: null, busy: cell !== null } });
    if (cell === null) return;
    const s = session.state;
    try {
      const stats = await loaders.load("cell", (o) => api.getCellStats(s.dataset, cell, { source: s.source }, o),
        { label: "loading cell statistics" });
      if (data.cellInfo.cell === cell) session.setData({ cellInfo: { cell, stats, busy: false } });
      status.clear("cell");
    } catch (err) {
      if (err.name === "AbortError" || data.cellInfo.cell !== cell) return;
      session.setData({ cellInfo: { cell: null, stats: null, busy: false } });
      fail(err, `Could not load cell ${cell}:`, "cell");
    }
  }

  // The details belong to a selected cell (and to its source): they close when it goes.
  function closeStaleCellInfo() {
    const info = data.cellInfo;
    const s = session.state;
    if (!info || info.cell === null) return;
    if ((s.cells !== null && !s.cells.includes(info.cell)) || (info.stats && info.stats.source !== s.source)) showCellInfo(null);
  }

  async function runSearch(q, regex) {
    session.setData({ search: { results: null, busy: true } });
    try {
      const r = await loaders.load("search", (o) => api.searchTokens(session.state.dataset, { q, regex, limit: 50 }, o),
        { label: "searching" });
      session.setData({ search: { results: r.results, truncated: r.truncated } });
      status.clear("search");
    } catch (err) {
      if (err.name === "AbortError") return;
      session.setData({ search: { results: null } });
      fail(err, "Search failed:", "search");
    }
  }

  return { refresh, rerunMatch, showCellInfo, runSearch, matchParams };
}
