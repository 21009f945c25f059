// The landing page: one card per data set with its description, length, sources and meta
// tracks. Ready data sets come first; a recipe not built yet is a quiet card saying so, and
// a data set that fails to load shows its error. Links open view.html with the scenario.
import d3 from "./d3.js";
import * as api from "./api.js";
import { createLoaders } from "./loaders.js";
import { serialize, makeState } from "./state.js";
import { statusBar } from "./views/statusBar.js";

const status = statusBar();
document.querySelector("#status").append(status.node);
const loaders = createLoaders({ onChange: (loads) => status.busy(loads.length ? "Loading data sets" : null) });
const fmt = d3.format(",");

function card(parent, ds) {
  const c = parent.append("article").attr("class", `card${ds.available ? "" : unbuilt(ds) ? " unbuilt" : " unavailable"}`)
    .attr("data-dataset", ds.id);
  c.append("h2").text(ds.name || ds.id);
  if (unbuilt(ds)) {
    c.append("p").attr("class", "note").text(`Not built yet: ${ds.error}`);
    return;
  }
  if (!ds.available) {
    c.append("p").attr("class", "error").attr("role", "alert").text(`Unavailable: ${ds.error || "no reason given"}`);
    return;
  }
  if (ds.description) c.append("p").attr("class", "description").text(ds.description);
  c.append("p").attr("class", "facts")
    .text(`${fmt(ds.length)} steps in ${fmt(ds.sequences)} sequence${ds.sequences === 1 ? "" : "s"}${ds.searchable ? " · searchable" : ""}`);
  const table = c.append("table").attr("class", "sources");
  table.append("caption").text("sources: open one to explore");
  table.append("thead").append("tr").selectAll("th").data(["source", "layer", "kind", "shape (steps × cells)", ""])
    .join("th").attr("scope", "col").text((t) => t);
  const tr = table.append("tbody").selectAll("tr").data(ds.sources).join("tr");
  tr.append("td").text((s) => s.label);
  tr.append("td").text((s) => s.layer);
  tr.append("td").text((s) => `${s.kind}${s.direction && s.direction !== "forward" ? ` (${s.direction})` : ""}`);
  tr.append("td").text((s) => `${fmt(s.shape[0])} × ${fmt(s.shape[1])}${s.unsigned ? " (unsigned)" : ""}`);
  tr.append("td").append("a").attr("class", "open-source")
    .attr("href", (s) => `view.html?${serialize(makeState({ dataset: ds.id, source: s.id }))}`)
    .attr("aria-label", (s) => `open ${ds.name} ${s.label}`)
    .text("open");
  if (ds.meta.length) {
    const m = c.append("p").attr("class", "meta-list");
    m.append("span").text("meta tracks: ");
    m.selectAll("span.m").data(ds.meta).join("span").attr("class", "m")
      .text((t, i) => `${t.id} (${t.kind}${t.labels ? `, ${t.labels.length} labels` : ""})${i < ds.meta.length - 1 ? ", " : ""}`);
  }
}

// A demo recipe that has not been built is not a failure (the server says how to build it).
function unbuilt(ds) {
  return !ds.available && /not built yet/.test(ds.error || "");
}

// ready first, then recipes not built yet, then the broken ones
const rank = (ds) => (ds.available ? 0 : unbuilt(ds) ? 1 : 2);

async function list() {
  try {
    const { datasets } = await loaders.load("datasets", (o) => api.listDatasets(o), { label: "loading data sets" });
    datasets.sort((a, b) => rank(a) - rank(b));
    const box = d3.select("#datasets").text("");
    if (!datasets.length) box.text("No data sets found. Start the server with a folder of data sets: hiddenscope serve DIR");
    for (const ds of datasets) card(box, ds);
    status.clear("datasets");
  } catch (err) {
    d3.select("#datasets").text("");
    status.error("Could not list the data sets:", err.detail || err.message, "datasets");
  }
}

// A data set built (or fixed) while the server runs shows up without a restart.
d3.select("main").insert("p", "#datasets").attr("class", "rescan").append("button").attr("type", "button")
  .text("Look for new data sets").on("click", async () => {
    try {
      await loaders.load("rescan", (o) => api.rescanDatasets(o), { label: "looking for data sets" });
      status.clear("rescan");
    } catch (err) {
      status.error("Could not look for data sets:", err.detail || err.message, "rescan");
    }
    await list();
  });
await list();
