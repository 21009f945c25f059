// Progress of slow requests and every error, with its message, until dismissed (Esc works).
import d3 from "../d3.js";

const SHOW_AFTER_MS = 150; // fast answers never flash a spinner

export function statusBar() {
  const root = d3.create("div").attr("class", "status-bar");
  const progress = root.append("div").attr("class", "progress").attr("role", "status").attr("aria-live", "polite");
  const errors = root.append("ul").attr("class", "errors");
  let timer = null;
  let list = [];

  /** Show or hide the progress line; `label` says what is loading. */
  function busy(label) {
    clearTimeout(timer);
    if (!label) {
      progress.classed("on", false).text("");
      return;
    }
    if (progress.classed("on")) progress.text(`${label}…`); // already shown: just update it
    else timer = setTimeout(() => progress.classed("on", true).text(`${label}…`), SHOW_AFTER_MS);
  }

  /**
   * Add an error; an identical one is not repeated. `key` names what failed ("match",
   * "select", ...): a newer error of that key replaces the older, and clear(key) removes it
   * once that thing works again, so no banner outlives its problem.
   */
  function error(title, detail, key = null) {
    if (list.some((e) => e.title === title && e.detail === detail && e.key === key)) return;
    list = [...list.filter((e) => key === null || e.key !== key), { title, detail, key, id: Math.random() }];
    draw();
  }

  /** Remove the errors of `key`, or every error when no key is given. */
  function clear(key) {
    const next = key === undefined ? [] : list.filter((e) => e.key !== key);
    if (next.length === list.length) return;
    list = next;
    draw();
  }

  function draw() {
    const li = errors.selectAll("li").data(list, (e) => e.id).join((enter) => {
      const e = enter.append("li").attr("role", "alert").attr("class", "error");
      e.append("strong").text((x) => x.title);
      e.append("span").text((x) => ` ${x.detail}`);
      e.append("button").attr("type", "button").attr("class", "dismiss").attr("aria-label", "dismiss this message")
        .text("×").on("click", (event, x) => {
          list = list.filter((y) => y !== x);
          draw();
        });
      return e;
    });
    li.order();
  }

  function onKey(event) {
    if (event.key === "Escape" && list.length) clear();
  }
  document.addEventListener("keydown", onKey);

  return {
    node: root.node(), busy, error, clear, count: () => list.length,
    update: () => draw(),
    destroy: () => { document.removeEventListener("keydown", onKey); root.remove(); },
  };
}
