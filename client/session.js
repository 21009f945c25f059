// The session: the scenario (state.js) with its place in the browser history, and the data
// loaded for it (caches). The only place that changes either; views and panels read them and
// subscribe to changes.
//
// History rule, in one place: a deliberate step ("push": brush end, padding released, run
// match, open a row, source change, jump, page, cell edits, panel opened) adds an entry, so
// Back walks back through the analysis; a continuous tweak ("replace": threshold drag, zoom,
// single steps) rewrites the current entry at most every URL_EVERY_MS (browsers limit history
// calls: Safari throws after 100 in 30 s); "fix" rewrites it at once (an answer that
// completes the entry: the server's cells, a derived threshold, a link fitted to the data
// set). A push that would not change the URL is not an entry of its own.
import { parse, serialize } from "./state.js";

const URL_EVERY_MS = 150;

/**
 * @param {{history?: History, location?: Location, onLinkErrors?: (errors: string[]) => void}} opts
 * @returns the session: {state, data, setState, setData, subscribe, restore, urlPending}
 */
export function createSession({ history = window.history, location = window.location, onLinkErrors = () => {} } = {}) {
  const subscribers = new Set();
  let changed = null; // {state: Set, data: Set, restored: bool} collected until the next notify
  let urlTimer = null;

  const session = {
    state: null,
    /** Loaded things: dataset (DatasetSummary), context, values, match, search, cellInfo, hover, ... */
    data: {},
    urlPending: false, // a replace is waiting for its turn
    setState,
    setData,
    subscribe,
    restore,
    urlOf: (state = session.state) => `?${serialize(state)}`,
  };

  function mark(kind, keys, restored = false) {
    const first = changed === null;
    if (first) changed = { state: new Set(), data: new Set(), restored: false };
    for (const k of keys) changed[kind].add(k);
    changed.restored ||= restored;
    // subscribers hear once per task, however many changes a gesture made
    if (first) queueMicrotask(notify);
  }

  function notify() {
    const c = changed;
    changed = null;
    for (const fn of [...subscribers]) fn(c, session);
  }

  /** fn({state: Set of changed fields, data: Set of changed keys, restored}, session) after changes. */
  function subscribe(fn) {
    subscribers.add(fn);
    return () => subscribers.delete(fn);
  }

  function writeURL(state) {
    clearTimeout(urlTimer);
    session.urlPending = false;
    history.replaceState(null, "", session.urlOf(state));
  }

  /**
   * Apply a patch to the scenario.
   * @param {object} patch fields of state.js
   * @param {"push"|"replace"|"fix"} mode see the history rule at the top
   */
  function setState(patch, mode = "replace") {
    const before = session.state;
    const keys = Object.keys(patch).filter((k) => !same(before[k], patch[k]));
    session.state = { ...before, ...patch };
    if (mode === "push") {
      if (session.urlPending) writeURL(before); // the entry we leave keeps its last tweak
      const url = session.urlOf();
      if (url === location.search) writeURL(session.state);
      else history.pushState(null, "", url);
    } else if (mode === "fix") {
      writeURL(session.state);
    } else if (!session.urlPending) {
      session.urlPending = true;
      urlTimer = setTimeout(() => writeURL(session.state), URL_EVERY_MS);
    }
    if (keys.length) mark("state", keys);
  }

  /** Store loaded data (caches) and tell the subscribers. */
  function setData(patch) {
    Object.assign(session.data, patch);
    mark("data", Object.keys(patch));
  }

  /** Take the scenario from the URL (page load, Back / Forward); the URL is tidied at once. */
  function restore() {
    clearTimeout(urlTimer); // a pending tweak belongs to the entry we left
    session.urlPending = false;
    const { state, errors } = parse(location.search);
    if (errors.length) onLinkErrors(errors);
    const keys = Object.keys(state).filter((k) => !session.state || !same(session.state[k], state[k]));
    session.state = state;
    history.replaceState(null, "", session.urlOf());
    mark("state", keys, true);
  }

  window.addEventListener("popstate", restore);
  return session;
}

function same(a, b) {
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((v, i) => v === b[i]);
  return a === b;
}
