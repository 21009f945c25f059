// Analysis panels: the plug-in point for views beyond select and match (correlation, a
// cell's top contexts and words, match summary, your own text, projection, co-clusters,
// compare...). main.js knows no panel; it shows the panel bar and hosts what is listed here.
//
// The contract. A panel is a plain object:
//
//   {
//     id: "correlation",         // unique, [a-z0-9_-]; the URL's `panels` lists the open ones
//     title: "Correlation",      // its button in the panel bar and its heading
//     urlKeys: {                 // its place in the URL state: state.js field specs
//       corr_feature: { kind: "string", default: null },   // kinds: string, strings, bool,
//       corr_method: { kind: "enum", values: ["pearson", "spearman"], default: "pearson" },
//     },                         //   float, int (min, max), ints, enum (values), range
//     mount(container, ctx) {    // container: an empty <div> under the panel's heading
//       ...                      // ctx: {session, api, loaders, status, actions, settle}
//       return { update(state, data) {...}, destroy() {...} };
//     },
//   }
//
// - urlKeys are registered with state.js when this module loads, so links, Back/Forward and
//   the README test see them. Prefix them with the panel id; a name taken twice throws.
//   Document each one in README.md's table of URL parameters.
// - update(state, data) runs after every change of the scenario (session.state) or of the
//   loaded data (session.data) while the panel is open; compare what you use with what you
//   drew last and return early when nothing changed. destroy() runs when it is closed.
// - Change the scenario only through ctx.session.setState(patch, mode): "push" for a
//   deliberate step (a history entry), "replace" for a continuous tweak, "fix" to complete
//   the current entry. Keep your own loaded data in your closure (or session.setData under a
//   key prefixed with your id).
// - Load only through ctx.loaders.load(name, ({signal, progress}) => ctx.api.fn(..., {signal}),
//   {key, debounce, label}): name your slots "<id>" or "<id>:<what>"; the same key again
//   returns the same promise, another key aborts the older load; an AbortError is not a
//   failure (ignore it). The label (and progress text) shows in the status line.
// - Report failures with ctx.status.error(title, detail, "<id>") and ctx.status.clear("<id>")
//   once it works again; ctx.settle(promise, {key, current, id, title, done, failed}) does
//   both for a load, and drops an AbortError or a stale answer (see settleLoad below).
// - ctx.actions: jump(start, end?) shows a step (and marks a range) in the select view;
//   addCells(cells) / removeCells(cells) edit the selection by hand (each a history entry).
// - Put the panel in client/panels/<id>.js (its drawing pieces may be views in client/views/,
//   which never fetch); register it below with an import and one entry in PANELS.

import * as api from "./api.js";
import { cell } from "./panels/cell.js";
import { coclusters } from "./panels/coclusters.js";
import { compare } from "./panels/compare.js";
import { correlation } from "./panels/correlation.js";
import { heatmap } from "./panels/heatmap.js";
import { projection } from "./panels/projection.js";
import { summary } from "./panels/summary.js";
import { yourText } from "./panels/yourText.js";
import { registerFields } from "./state.js";

/** The registered panels, in the order of the panel bar. */
export const PANELS = [
  correlation,
  cell,
  summary,
  heatmap,
  projection,
  coclusters,
  compare,
  yourText,
];

for (const panel of PANELS) registerFields(panel.urlKeys || {});

/**
 * Settle one of a panel's loads. An AbortError, and an answer or failure for a key the panel
 * no longer asks for (`current() !== key`), are dropped: a newer load owns the panel then.
 * Otherwise the status line's entry `id` is cleared and `done(answer)` runs, or the error is
 * shown there under `title` and `failed(err)` runs. Without `id` the status line is left alone.
 * @param {{error: Function, clear: Function}} status
 * @param {Promise<any>} promise usually ctx.loaders.load(...)
 * @param {{key: string, current: () => string|null, done: (answer: any) => void,
 *   failed?: (err: Error) => void, id?: string, title?: string}} opts
 * @returns {Promise<void>}
 */
export function settleLoad(status, promise, { key, current, done, failed = () => {}, id, title }) {
  return promise.then((answer) => {
    if (current() !== key) return;
    if (id) status.clear(id);
    done(answer);
  }, (err) => {
    if (err.name === "AbortError" || current() !== key) return;
    if (id) status.error(title, err.detail || err.message, id);
    failed(err);
  });
}

/** The panel with this id, or undefined. */
export function panelById(id) {
  return PANELS.find((p) => p.id === id);
}

/**
 * Host the panels: a bar of toggle buttons and, below it, the open panels in the order of
 * the URL's `panels`.
 * @param {{bar: HTMLElement, box: HTMLElement, session, loaders, status, actions}} opts
 * @returns {{update: () => void, destroy: () => void}}
 */
export function hostPanels({ bar, box, session, loaders, status, actions }) {
  const mounted = new Map(); // id -> {section, panel, instance}
  const settle = (promise, opts) => settleLoad(status, promise, opts);
  const ctx = { session, api, loaders, status, actions, settle };
  bar.replaceChildren();
  bar.hidden = PANELS.length === 0;
  const buttons = new Map();
  for (const p of PANELS) {
    const b = document.createElement("button");
    b.type = "button";
    b.className = "panel-toggle";
    b.dataset.panel = p.id;
    b.textContent = p.title;
    b.addEventListener("click", () => {
      const open = session.state.panels;
      session.setState({ panels: open.includes(p.id) ? open.filter((x) => x !== p.id) : [...open, p.id] }, "push");
    });
    bar.append(b);
    buttons.set(p.id, b);
  }

  function open(panel) {
    const section = document.createElement("section");
    section.className = "panel";
    section.dataset.panel = panel.id;
    section.setAttribute("aria-label", panel.title);
    const head = document.createElement("h2");
    head.textContent = panel.title;
    const close = document.createElement("button");
    close.type = "button";
    close.className = "close";
    close.textContent = "×";
    close.setAttribute("aria-label", `close ${panel.title}`);
    close.addEventListener("click", () => {
      session.setState({ panels: session.state.panels.filter((x) => x !== panel.id) }, "push");
    });
    head.append(close);
    const body = document.createElement("div");
    body.className = "panel-body";
    section.append(head, body);
    box.append(section);
    const instance = panel.mount(body, ctx);
    mounted.set(panel.id, { section, panel, instance });
    section.scrollIntoView({ block: "start", behavior: "instant" });
  }

  function update() {
    const unknown = session.state.panels.filter((id) => !panelById(id));
    if (unknown.length) {
      // a link from a build with other panels: say so, and drop them from the URL
      status.error("Bad link:", `panel ${unknown.map((id) => `'${id}'`).join(", ")} is not available here; `
        + `the panels are ${PANELS.map((p) => p.id).join(", ") || "none"}.`);
      session.setState({ panels: session.state.panels.filter((id) => panelById(id)) }, "fix");
    }
    const wanted = session.state.panels.filter((id) => panelById(id));
    for (const [id, m] of mounted) {
      if (!wanted.includes(id)) {
        m.instance.destroy();
        m.section.remove();
        mounted.delete(id);
      }
    }
    for (const id of wanted) if (!mounted.has(id)) open(panelById(id));
    for (const id of wanted) box.append(mounted.get(id).section); // the order of the URL
    for (const [id, b] of buttons) b.setAttribute("aria-pressed", String(wanted.includes(id)));
    for (const m of mounted.values()) m.instance.update(session.state, session.data);
  }

  function destroy() {
    for (const m of mounted.values()) m.instance.destroy();
    mounted.clear();
    box.replaceChildren();
  }

  return { update, destroy };
}
