// The correlation panel: rank every cell by how it tracks a feature (GET /correlation) and
// select the top k cells to match. Its ranking is also shared as session.data.correlation
// (the heatmap panel orders cells by it).
import { correlationPanel } from "../views/correlationPanel.js";

const LIMIT = 100; // ranked cells asked for (the heatmap shows up to this many)

/** The features a data set offers: each label of a categorical track, each scalar track. */
export function featuresOf(dataset) {
  const out = [];
  for (const m of dataset?.meta ?? []) {
    if (m.kind === "categorical") {
      for (const label of m.labels ?? []) out.push({ value: `meta:${m.id}=${label}`, label: `${m.id} = ${label}` });
      out.push({ value: `meta:${m.id}`, label: `${m.id}: all labels (mutual information)` });
    } else if (m.kind === "scalar") {
      out.push({ value: `meta:${m.id}`, label: `${m.id} (scalar)` });
    }
  }
  return out;
}

export const correlation = {
  id: "correlation",
  title: "Correlation",
  urlKeys: {
    corr_feature: { kind: "string", default: null },
    corr_method: { kind: "enum", values: ["pearson", "spearman", "mi"], default: "pearson" },
    corr_k: { kind: "int", min: 1, max: 100, default: 10 },
  },
  mount(container, { session, api, loaders, settle }) {
    let asked = null; // key of the ranking shown or loading
    let result = null;
    let busy = false;
    const view = correlationPanel({
      onRank: ({ feature, method }) => session.setState({ corr_feature: feature, corr_method: method }, "push"),
      onSelectTop: (k) => {
        const cells = (result?.cells ?? []).filter((c) => c.score !== null).slice(0, k).map((c) => c.cell)
          .sort((a, b) => a - b);
        if (!cells.length) return;
        // the cells stand alone (no brush): a link reopens the same set, and the match runs
        session.setState({ corr_k: k, start: null, end: null, mark: null, cells, added: cells, removed: [], match: true }, "push");
      },
      onPickCell: (cell) => {
        const open = session.state.panels;
        session.setState({ cell_id: cell, panels: open.includes("cell") ? open : [...open, "cell"] }, "push");
      },
    });
    container.append(view.node);

    function load(s, key) {
      busy = true;
      settle(loaders.load("correlation", (o) => api.getCorrelation(s.dataset, {
        source: s.source, feature: s.corr_feature, method: s.corr_method, limit: LIMIT,
      }, o), { key, label: "ranking every cell over the whole data set" }), {
        key, current: () => asked, id: "correlation", title: "Correlation failed:",
        done: (r) => {
          busy = false;
          result = r;
          session.setData({ correlation: r });
        },
        failed: () => {
          busy = false;
          session.setData({ correlation: null });
        },
      });
    }

    function update(s, data) {
      if (!data.dataset) return;
      const key = s.corr_feature && s.source ? JSON.stringify([s.dataset, s.source, s.corr_feature, s.corr_method]) : null;
      if (key !== asked) {
        asked = key;
        result = null;
        busy = false;
        if (key) load(s, key);
      }
      view.update({ features: featuresOf(data.dataset), feature: s.corr_feature, method: s.corr_method, k: s.corr_k, result, busy });
    }

    return {
      update,
      destroy() {
        loaders.cancel("correlation");
        view.destroy();
      },
    };
  },
};
