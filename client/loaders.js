// The one place that loads. A load has a name (one slot per name: "context", "match", a
// panel's own name...) and a key (what it asks for). Asking a slot for the key it already
// holds returns the same promise; asking for another key aborts the older load. A load may
// wait `debounce` ms first (a drag asks once it pauses) and may report progress text; the
// slots in flight, with their labels, progress and age, are what the status line shows.
//
// Nothing here knows the app's state or the DOM: a caller gets the answer or an AbortError.

const TICK_MS = 1000; // how often the age of a long load is re-announced

/** The error a superseded or cancelled load rejects with (err.name === "AbortError"). */
export function abortError() {
  return new DOMException("superseded by a newer request", "AbortError");
}

/**
 * @param {{onChange?: (loads: {name: string, label: string, detail: string|null, seconds: number}[]) => void}} opts
 *   onChange: told the loads in flight (not those still waiting out their debounce) whenever
 *   that list, a progress text or (once a second) an age changes
 * @returns {{load, cancel, pending, inFlight, names}}
 */
export function createLoaders({ onChange = () => {} } = {}) {
  const slots = new Map(); // name -> {key, ctrl, timer, started, since, label, detail, promise}
  let ticker = null;

  function notify() {
    const list = inFlight();
    if (list.length && ticker === null) ticker = setInterval(notify, TICK_MS);
    if (!list.length && ticker !== null) {
      clearInterval(ticker);
      ticker = null;
    }
    onChange(list);
  }

  /**
   * Load into slot `name`.
   * @param {string} name
   * @param {(opts: {signal: AbortSignal, progress: (text: string|null) => void}) => Promise<any>} call
   * @param {{key?: string|null, debounce?: number, label?: string}} opts key: null never dedupes
   * @returns {Promise<any>} the answer; rejects with the call's error or an AbortError
   */
  function load(name, call, { key = null, debounce = 0, label = name } = {}) {
    const current = slots.get(name);
    if (current && key !== null && current.key === key) return current.promise;
    cancel(name);
    const ctrl = new AbortController();
    const slot = { key, ctrl, timer: null, started: false, since: 0, label, detail: null };
    let resolve;
    let reject;
    slot.promise = new Promise((res, rej) => {
      resolve = res;
      reject = rej;
    });
    ctrl.signal.addEventListener("abort", () => {
      clearTimeout(slot.timer);
      reject(abortError());
    });
    slots.set(name, slot); // before the call starts, so that its progress finds it
    const run = async () => {
      slot.started = true;
      slot.since = performance.now();
      notify();
      const progress = (text) => {
        if (slots.get(name) !== slot) return;
        slot.detail = text;
        notify();
      };
      try {
        resolve(await call({ signal: ctrl.signal, progress }));
      } catch (err) {
        reject(err);
      } finally {
        if (slots.get(name) === slot) {
          slots.delete(name);
          notify();
        }
      }
    };
    if (debounce > 0) slot.timer = setTimeout(run, debounce);
    else run();
    return slot.promise;
  }

  /** Abort the load of slot `name` (waiting or in flight), if any. */
  function cancel(name) {
    const slot = slots.get(name);
    if (!slot) return;
    slots.delete(name);
    slot.ctrl.abort();
    if (slot.started) notify();
  }

  /** Whether slot `name` holds a load, waiting out its debounce or in flight. */
  function pending(name) {
    return slots.has(name);
  }

  /** The loads in flight, oldest first. */
  function inFlight() {
    const now = performance.now();
    return [...slots.entries()].filter(([, s]) => s.started).sort((a, b) => a[1].since - b[1].since)
      .map(([name, s]) => ({ name, label: s.label, detail: s.detail, seconds: (now - s.since) / 1000 }));
  }

  /** Names of every slot holding a load. */
  function names() {
    return [...slots.keys()];
  }

  return { load, cancel, pending, inFlight, names };
}
