// The match view: parameters, then the matrix of results with its heatmaps (match count
// and one per meta track) and their legends.
import d3 from "../d3.js";
import { countScale } from "../colors.js";
import { matchControls } from "./matchControls.js";
import { matchMatrix } from "./matchMatrix.js";
import { metaColor, metaLegend } from "./metaTrack.js";

/**
 * @param {{onRun, onClose, onOpen, onMap, onHover, onExport}} cb  see matchControls and matchMatrix
 */
export function matchView(cb) {
  const root = d3.create("section").attr("class", "match-view").attr("aria-label", "match view");
  root.append("h2").text("Match: where else do the selected cells behave the same way?");
  const controls = matchControls({ onRun: cb.onRun, onClose: cb.onClose, onExport: cb.onExport });
  root.node().append(controls.node);
  const empty = root.append("p").attr("class", "empty");
  const matrix = matchMatrix({ onOpen: cb.onOpen, onMap: cb.onMap, onHover: cb.onHover });
  root.node().append(matrix.node);

  // data: {state, result: MatchResult|null, busy: bool, left: int, trackInfo: Map id -> MetaTrack}
  function update({ state, result, busy, left, trackInfo }) {
    controls.update({ state, cells: state.cells.length, result, busy });
    root.classed("busy", busy);
    const matches = result ? result.matches : [];
    empty.text(result && !matches.length
      ? "No range matches: lower the min overlap or the threshold, or widen the length range." : "");
    empty.style("display", result && !matches.length ? null : "none");
    matrix.node.style.display = matches.length ? null : "none";
    if (!result) return;
    matrix.update({ matches, left, zoom: state.zoom, heatmaps: heatmapsOf(result, trackInfo), mapped: state.map });
  }

  return { node: root.node(), update, destroy: () => root.remove() };
}

// The heatmap specs: match count first, then every meta track the server returned.
function heatmapsOf(result, trackInfo) {
  const n = result.cells.length;
  const count = countScale(n);
  const out = [{
    id: "count", label: "match count", color: count, values: (m) => m.on_count,
    legend: { kind: "sequential", domain: [0, Math.max(1, n)], color: count }, format: (v) => `${v} of ${n} cell${n === 1 ? "" : "s"} on`,
  }];
  const first = result.matches[0];
  for (const id of Object.keys(first ? first.meta : {})) {
    const track = trackInfo.get(id) || { id, kind: first.meta[id].kind };
    const sample = first.meta[id];
    if (sample.kind === "topk") {
      const color = metaColor(track, sample);
      out.push({ id, label: `${id} (top-1 p)`, color, values: (m) => m.meta[id].probs.map((p) => p[0] ?? null),
        legend: metaLegend(track, sample), format: d3.format(".3f") });
      continue;
    }
    const color = metaColor(track, sample);
    const labels = sample.labels || track.labels || [];
    const occurring = sample.kind === "categorical" ? result.matches.flatMap((m) => m.meta[id].values) : null;
    out.push({ id, label: id, color, values: (m) => m.meta[id].values, legend: metaLegend(track, sample, occurring),
      format: sample.kind === "categorical" ? (v) => labels[v] ?? String(v) : d3.format(".3~g") });
  }
  return out;
}
