// The projection panel: sampled states of the source in 2-D (GET /projection), coloured by a
// track; a lasso lists points and one opens in the select view. Where a "your text" run of the
// model is loaded (session.data.run with this source's states), PCA places it as one more
// point: its last state at (h - mean) @ axes^T.
import { categoryColor, OKABE_ITO, sequential } from "../colors.js";
import { projectionPlot } from "../views/projectionPlot.js";

const METHODS = ["pca", "isomap", "tsne", "umap"];
const POINTS = ["sequence_end", "steps"];

/** The per-step tracks a point can be coloured by (categorical and scalar). */
export function colourTracks(dataset) {
  return (dataset?.meta ?? []).filter((m) => m.kind === "categorical" || m.kind === "scalar");
}

/** Where the last state of a run (values[cells][steps]) falls on a PCA plot, or null. */
export function placeRun(values, pca) {
  if (!values?.length || !pca) return null;
  const last = values.map((row) => row[row.length - 1]);
  if (last.length !== pca.mean.length || last.some((v) => v === null)) return null;
  const centred = last.map((v, i) => v - pca.mean[i]);
  const [x, y] = pca.axes.map((axis) => axis.reduce((s, a, i) => s + a * centred[i], 0));
  return { x, y };
}

/** colorOf(i) and legend entries for the meta values of the points (none: one colour). */
export function colouring(meta) {
  if (!meta) return { colorOf: () => OKABE_ITO[4], legend: [] };
  if (meta.kind === "categorical") {
    const used = [...new Set(meta.values)].sort((a, b) => a - b);
    return {
      colorOf: (i) => categoryColor(meta.values[i]),
      legend: used.map((v) => ({ color: categoryColor(v), label: meta.labels?.[v] ?? String(v) })),
    };
  }
  const [lo, hi] = meta.range ?? [0, 1];
  const scale = sequential(lo, hi, undefined);
  return {
    colorOf: (i) => scale(meta.values[i]),
    legend: [{ color: scale(lo), label: `${lo}` }, { color: scale(hi), label: `${hi}` }],
  };
}

export const projection = {
  id: "projection",
  title: "Projection",
  urlKeys: {
    proj_method: { kind: "enum", values: METHODS, default: "pca" },
    proj_points: { kind: "enum", values: POINTS, default: "sequence_end" },
    proj_n: { kind: "int", min: 1, max: 5000, default: 500 },
    proj_color: { kind: "string", default: null },
  },
  mount(container, { session, api, loaders, status, actions }) {
    let asked = null;
    let result = null;
    let busy = false;
    const form = document.createElement("form");
    form.className = "projection-form";
    form.innerHTML = `
      <label>method <select name="method">${METHODS.map((m) => `<option>${m}</option>`).join("")}</select></label>
      <label>points <select name="points">${POINTS.map((m) => `<option>${m}</option>`).join("")}</select></label>
      <label>n <input name="n" type="number" min="1" max="5000"></label>
      <label>colour by <select name="color"></select></label>
      <button type="submit">Project</button>`;
    const field = (name) => form.elements.namedItem(name);
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      session.setState({
        proj_method: field("method").value,
        proj_points: field("points").value,
        proj_n: Math.max(1, Math.min(5000, Number(field("n").value) || 500)),
        proj_color: field("color").value || null,
      }, "push");
    });
    const view = projectionPlot({ onOpen: (p) => actions.jump(p.pos) });
    container.append(form, view.node);

    function load(s, key) {
      busy = true;
      loaders.load("projection", (o) => api.getProjection(s.dataset, {
        source: s.source, method: s.proj_method, points: s.proj_points, n: s.proj_n,
        meta: s.proj_color ? [s.proj_color] : null,
      }, o), { key, label: `projecting ${s.proj_n} states (${s.proj_method})` }).then((r) => {
        if (asked !== key) return;
        busy = false;
        result = r;
        status.clear("projection");
        update(session.state, session.data);
      }, (err) => {
        if (err.name === "AbortError" || asked !== key) return;
        busy = false;
        status.error("Projection failed:", err.detail || err.message, "projection");
        update(session.state, session.data);
      });
    }

    function update(s, data) {
      if (!data.dataset || !s.source) return;
      const tracks = colourTracks(data.dataset);
      const sel = field("color");
      const options = [["", "nothing"], ...tracks.map((m) => [m.id, m.id])];
      if (sel.options.length !== options.length) {
        sel.replaceChildren(...options.map(([v, t]) => Object.assign(document.createElement("option"), { value: v, textContent: t })));
      }
      field("method").value = s.proj_method;
      field("points").value = s.proj_points;
      field("n").value = String(s.proj_n);
      sel.value = s.proj_color ?? "";
      const key = JSON.stringify([s.dataset, s.source, s.proj_method, s.proj_points, s.proj_n, s.proj_color]);
      if (key !== asked) {
        asked = key;
        result = null;
        load(s, key);
      }
      const { colorOf, legend } = colouring(result?.meta?.[s.proj_color]);
      const run = data.run?.sources?.[s.source]?.values;
      const spot = result?.pca ? placeRun(run, result.pca) : null;
      const explained = result?.explained ? ` — axes explain ${result.explained.map((e) => `${(100 * e).toFixed(1)}%`).join(" and ")} of the variance` : "";
      const note = busy ? "projecting…" : result
        ? `${result.points.length} points (${result.sampling}), ${result.method}${explained}` +
          (run && !result.pca ? "; your text is placed on PCA plots only" : "") +
          (result.nonfinite ? `; ${result.nonfinite} non-finite values counted as 0` : "")
        : "";
      view.update({ points: result?.points ?? [], colorOf, legend, note, busy,
        extra: spot && { ...spot, label: "your text" } });
    }

    return {
      update,
      destroy() {
        loaders.cancel("projection");
        view.destroy();
        form.remove();
      },
    };
  },
};
