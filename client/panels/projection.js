// The projection panel: sampled states of the source in 2-D (GET /projection), coloured by a
// track; a lasso lists points and one opens in the select view. Your own text (proj_text) runs
// through the data set's model (GET /run, where the data set carries one) and PCA places its
// last state as one more point, at (transform(h) - mean) @ axes^T; so does a run another panel
// loaded (session.data.run). Points are coloured by a per-step track (proj_color=ID) or by a
// sequence-level one at the point's sequence (proj_color=seq:ID: gold label, prediction...).
// The text box shows only where the data set carries a model (its summary's `model`).
import { categoryColor, OKABE_ITO, sequential } from "../colors.js";
import { projectionPlot } from "../views/projectionPlot.js";

const METHODS = ["pca", "isomap", "tsne", "umap"];
const POINTS = ["sequence_end", "steps"];

export const SEQ_PREFIX = "seq:";

/** The tracks a point can be coloured by: [value, label] of the categorical and scalar
 * per-step tracks (value: the id) and of every sequence-level track (value: seq:ID). */
export function colourTracks(dataset) {
  const steps = (dataset?.meta ?? []).filter((m) => m.kind === "categorical" || m.kind === "scalar");
  return [
    ...steps.map((m) => [m.id, m.id]),
    ...(dataset?.sequence_meta ?? []).map((m) => [SEQ_PREFIX + m.id, `${m.id} (per sequence)`]),
  ];
}

/** The MetaValues colouring the points for proj_color `color` in a projection answer. */
export function colourValues(result, color) {
  if (!result || !color) return null;
  return color.startsWith(SEQ_PREFIX)
    ? result.sequence_meta?.[color.slice(SEQ_PREFIX.length)] ?? null
    : result.meta?.[color] ?? null;
}

/**
 * Where the last state of a run falls on a PCA plot, or null.
 * @param {number[][]} values cells x steps as the model computes them (before the transform)
 * @param {{mean: number[], axes: number[][]}} pca  @param {string} transform "tanh" or "none"
 */
export function placeRun(values, pca, transform = "none") {
  if (!values?.length || !pca) return null;
  const f = transform === "tanh" ? Math.tanh : (v) => v;
  const last = values.map((row) => (row[row.length - 1] === null ? null : f(row[row.length - 1])));
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
    proj_seed: { kind: "int", min: 0, max: 2147483647, default: 0 },
    proj_color: { kind: "string", default: null },
    proj_text: { kind: "string", default: null },
  },
  mount(container, { session, api, loaders, status, actions, settle }) {
    let asked = null;
    let result = null;
    let busy = false;
    let runKey = null;
    let run = null; // the run of proj_text: {sources: {id: cells x steps}}
    const form = document.createElement("form");
    form.className = "projection-form";
    form.innerHTML = `
      <label>method <select name="method">${METHODS.map((m) => `<option>${m}</option>`).join("")}</select></label>
      <label>points <select name="points">${POINTS.map((m) => `<option>${m}</option>`).join("")}</select></label>
      <label>n <input name="n" type="number" min="1" max="5000"></label>
      <label title="another seed draws another sample (and another t-SNE/UMAP start)">seed <input name="seed" type="number" min="0" max="2147483647"></label>
      <label>colour by <select name="color"></select></label>
      <label>your text <input name="text" type="text" size="28" maxlength="1000" placeholder="PCA: drawn as one more point"></label>
      <button type="submit">Project</button>`;
    const field = (name) => form.elements.namedItem(name);
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      session.setState({
        proj_method: field("method").value,
        proj_points: field("points").value,
        proj_n: Math.max(1, Math.min(5000, Number(field("n").value) || 500)),
        proj_seed: Math.max(0, Math.min(2147483647, Math.trunc(Number(field("seed").value)) || 0)),
        proj_color: field("color").value || null,
        proj_text: field("text").value.trim() || null,
      }, "push");
    });
    const view = projectionPlot({ onOpen: (p) => actions.jump(p.pos) });
    container.append(form, view.node);

    function load(s, key) {
      busy = true;
      settle(loaders.load("projection", (o) => api.getProjection(s.dataset, {
        source: s.source, method: s.proj_method, points: s.proj_points, n: s.proj_n, seed: s.proj_seed,
        meta: s.proj_color && !s.proj_color.startsWith(SEQ_PREFIX) ? [s.proj_color] : null,
      }, o), { key, label: `projecting ${s.proj_n} states (${s.proj_method})` }), {
        key, current: () => asked, id: "projection", title: "Projection failed:",
        done: (r) => {
          busy = false;
          result = r;
          update(session.state, session.data);
        },
        failed: () => {
          busy = false;
          update(session.state, session.data);
        },
      });
    }

    function loadRun(s, hasModel) {
      const key = hasModel && s.proj_text && s.proj_method === "pca" ? JSON.stringify([s.dataset, s.source, s.proj_text]) : null;
      if (key === runKey) return;
      runKey = key;
      run = null;
      if (!key) return;
      if (!api.runModel) {
        status.error("Your text:", "this client has no run operation", "projection:run");
        return;
      }
      settle(loaders.load("projection:run", (o) => api.runModel(s.dataset, { text: s.proj_text, sources: [s.source] }, o),
        { key, label: "running the model on your text" }), {
        key, current: () => runKey, id: "projection:run", title: "Your text could not be run:",
        done: (r) => {
          run = r;
          update(session.state, session.data);
        },
      });
    }

    function update(s, data) {
      if (!data.dataset || !s.source) return;
      // null: the data set carries no model (undefined: a summary that does not say; try)
      const hasModel = data.dataset.model !== null;
      field("text").closest("label").hidden = !hasModel;
      loadRun(s, hasModel);
      const sel = field("color");
      const options = [["", "nothing"], ...colourTracks(data.dataset)];
      if (sel.options.length !== options.length || [...sel.options].some((o, i) => o.value !== options[i][0])) {
        sel.replaceChildren(...options.map(([v, t]) => Object.assign(document.createElement("option"), { value: v, textContent: t })));
      }
      field("method").value = s.proj_method;
      field("points").value = s.proj_points;
      field("n").value = String(s.proj_n);
      field("seed").value = String(s.proj_seed);
      sel.value = s.proj_color ?? "";
      if (document.activeElement !== field("text")) field("text").value = s.proj_text ?? "";
      const stepColor = s.proj_color?.startsWith(SEQ_PREFIX) ? null : s.proj_color;
      const key = JSON.stringify([s.dataset, s.source, s.proj_method, s.proj_points, s.proj_n, s.proj_seed, stepColor]);
      if (key !== asked) {
        asked = key;
        result = null;
        load(s, key);
      }
      const { colorOf, legend } = colouring(colourValues(result, s.proj_color));
      const states = run?.sources?.[s.source] ?? data.run?.sources?.[s.source];
      const transform = data.dataset.sources.find((x) => x.id === s.source)?.transform;
      const spot = result?.pca ? placeRun(states, result.pca, transform) : null;
      const explained = result?.explained ? ` — axes explain ${result.explained.map((e) => `${(100 * e).toFixed(1)}%`).join(" and ")} of the variance` : "";
      const note = busy ? "projecting…" : result
        ? `${result.points.length} points (${result.sampling}), ${result.method}${explained}` +
          (s.proj_text && hasModel && !result.pca ? "; your text is placed on PCA plots only" : "") +
          (s.proj_text && !hasModel ? `; data set ${data.dataset.id} carries no model to run your text` : "") +
          (result.nonfinite ? `; ${result.nonfinite} non-finite values counted as 0` : "")
        : "";
      view.update({ points: result?.points ?? [], colorOf, legend, note, busy,
        extra: spot && { ...spot, label: "your text" } });
    }

    return {
      update,
      destroy() {
        loaders.cancel("projection");
        loaders.cancel("projection:run");
        view.destroy();
        form.remove();
      },
    };
  },
};
