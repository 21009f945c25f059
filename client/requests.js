// The app's requests: one in flight per kind (a newer one aborts it), named in the progress
// line; the match and the server's select, debounced, with answers for an older state dropped.
import * as api from "./api.js";
import { localSelect } from "./select.js";
import { applyEdits } from "./state.js";

export const MATCH_LEFT = 3; // steps shown before each match start
export const MATCH_RIGHT = 20; // steps shown after each match end
const SELECT_DEBOUNCE_MS = 200;
const MATCH_DEBOUNCE_MS = 250;

// What the progress line says while a request of each kind is in flight.
const LOADING = {
  dataset: "opening the data set", context: "loading steps", select: "selecting cells",
  match: "matching over the whole data set", search: "searching", cell: "loading cell statistics",
};

/**
 * The request functions of the app.
 * @param {object} app main.js's app object (state, context, aborts, timers, match, matchKey,
 *   matchBusy, selectPending, selectSeq); these functions update it
 * @param {{status, setState, render, reportError}} hooks
 * @returns {{fetchInto, scheduleMatch, scheduleSelect, cancelSelect}}
 */
export function requests(app, { status, setState, render, reportError }) {
  /** Run one request of a kind; a newer request of the same kind aborts it. */
  async function fetchInto(name, call) {
    app.aborts[name]?.abort();
    const ctrl = new AbortController();
    app.aborts[name] = ctrl;
    showLoading();
    try {
      return await call({ signal: ctrl.signal });
    } finally {
      if (app.aborts[name] === ctrl) delete app.aborts[name];
      showLoading();
    }
  }

  function showLoading() {
    const names = Object.keys(app.aborts);
    status.busy(names.length ? names.map((n) => LOADING[n] || n).join(", ") : null);
  }

  function matchParams(s) {
    return {
      source: s.source, cells: s.cells, threshold: s.threshold, pad_left: s.pad_left, pad_right: s.pad_right,
      min_overlap: s.min_overlap, min_len: s.min_len, max_len: s.max_len, limit: s.limit,
      left: MATCH_LEFT, right: MATCH_RIGHT, meta: s.meta.length ? s.meta : null, // heatmaps of the tracks shown
    };
  }

  function scheduleMatch() {
    const s = app.state;
    if (!s.match || !s.cells.length) {
      clearTimeout(app.timers.match);
      app.aborts.match?.abort();
      app.match = null;
      app.matchKey = null;
      app.matchBusy = false;
      return;
    }
    const params = matchParams(s);
    const key = JSON.stringify([s.dataset, params]);
    if (key === app.matchKey) return;
    app.matchKey = key;
    app.matchBusy = true;
    clearTimeout(app.timers.match);
    app.timers.match = setTimeout(async () => {
      try {
        const result = await fetchInto("match", (o) => api.matchCells(s.dataset, params, o));
        if (key !== app.matchKey) return;
        app.match = result;
      } catch (err) {
        if (err.name === "AbortError") return;
        app.match = null;
        app.matchKey = null;
        reportError(err, "Match failed:");
      }
      app.matchBusy = false;
      render();
    }, MATCH_DEBOUNCE_MS);
  }

  // The server's select is the reference; the local preview shows at once while it answers.
  function scheduleSelect() {
    cancelSelect();
    const s = app.state;
    if (s.start === null) return;
    const preview = localSelect(app.context, s);
    if (preview) setCells(preview);
    const mine = app.selectSeq;
    app.selectPending = true;
    app.timers.select = setTimeout(async () => {
      try {
        const r = await fetchInto("select", (o) => api.selectCells(s.dataset, {
          source: s.source, start: s.start, end: s.end, threshold: s.threshold,
          pad_left: s.pad_left, pad_right: s.pad_right,
        }, o));
        if (mine !== app.selectSeq) return; // a newer select or a history step replaced this one
        app.selectPending = false;
        setCells(r.cells);
      } catch (err) {
        if (err.name === "AbortError" || mine !== app.selectSeq) return;
        app.selectPending = false;
        reportError(err, "Select failed:");
      }
    }, SELECT_DEBOUNCE_MS);
  }

  /** Forget a scheduled or running select (its answer would be for another state). */
  function cancelSelect() {
    app.selectSeq += 1;
    clearTimeout(app.timers.select);
    app.aborts.select?.abort();
    app.selectPending = false;
  }

  function setCells(selected) {
    const cells = applyEdits(selected, app.state.added, app.state.removed);
    if (cells.join() !== app.state.cells.join()) setState({ cells }, "replace");
  }

  return { fetchInto, scheduleMatch, scheduleSelect, cancelSelect };
}
