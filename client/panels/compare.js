// The compare panel: this source and another (of this data set, or of another data set over
// the same tokens: a checkpoint, another model) side by side over the window shown, with one
// shared brush. "Carry" finds, for each selected cell, the best-correlated cell there
// (GET /align); "Match there" swaps the sides, so the carried cells are matched in the other
// model and Back returns.
import { carried, compareView } from "../views/compareView.js";

const ALIGN_LIMIT = 3;

/** Sources to compare with: this data set's others, then those of data sets of equal length. */
export function targetsOf(dataset, source, all) {
  const out = [];
  for (const s of dataset.sources) {
    if (s.id !== source) out.push({ dataset: dataset.id, source: s.id, label: s.id });
  }
  for (const d of all ?? []) {
    if (d.id === dataset.id || !d.available || d.length !== dataset.length) continue;
    for (const s of d.sources) out.push({ dataset: d.id, source: s.id, label: `${d.id} · ${s.id}` });
  }
  return out;
}

function rowsOf(ctx, cells) {
  const at = new Map(ctx.cells.map((c, i) => [c, i]));
  const kept = cells.filter((c) => at.has(c));
  return { start: ctx.start, tokens: ctx.tokens, cells: kept, states: kept.map((c) => ctx.states[at.get(c)]) };
}

export const compare = {
  id: "compare",
  title: "Compare",
  urlKeys: {
    cmp_dataset: { kind: "string", default: null },
    cmp_source: { kind: "string", default: null },
    cmp_cells: { kind: "ints", default: [] },
  },
  mount(container, { session, api, loaders, settle }) {
    let all = null; // every data set's summary (for targets in other data sets)
    let pairs = null;
    let pairsKey = null;
    let other = null; // the other side's context window
    let otherKey = null;

    const view = compareView({
      onTarget: ({ dataset, source }) => session.setState({
        cmp_dataset: dataset === session.state.dataset ? null : dataset, cmp_source: source, cmp_cells: [],
      }, "push"),
      onCarry: () => carry(session.state),
      onMatchThere: () => {
        const s = session.state;
        const t = target(s, session.data);
        if (!t || !s.cmp_cells.length) return;
        const cells = [...s.cmp_cells].sort((a, b) => a - b);
        session.setState({
          dataset: t.dataset, source: t.source, cells, added: cells, removed: [], start: null, end: null,
          mark: null, match: true,
          cmp_dataset: t.dataset === s.dataset ? null : s.dataset, cmp_source: s.source, cmp_cells: s.cells ?? [],
        }, "push");
      },
      onBrush: ([a, b]) => session.setState({ start: a, end: b, mark: null }, "push"),
    });
    container.append(view.node);
    loaders.load("compare:datasets", (o) => api.listDatasets(o), { key: "all", label: "listing data sets" })
      .then((r) => { all = r.datasets; update(session.state, session.data); }, () => {});

    function target(s, data) {
      if (!data.dataset) return null;
      const list = targetsOf(data.dataset, s.source, all);
      const ds = s.cmp_dataset ?? s.dataset;
      return list.find((t) => t.dataset === ds && t.source === s.cmp_source) ?? (s.cmp_source ? { dataset: ds, source: s.cmp_source } : list[0] ?? null);
    }

    function carry(s) {
      const t = target(s, session.data);
      if (!t || !s.cells?.length) return;
      const key = JSON.stringify([s.dataset, s.source, s.cells, t.dataset, t.source]);
      pairsKey = key;
      settle(loaders.load("compare:align", (o) => api.alignCells(s.dataset, {
        source: s.source, cells: s.cells, to_source: t.source,
        to_dataset: t.dataset === s.dataset ? null : t.dataset, limit: ALIGN_LIMIT,
      }, o), { key, label: "correlating the cells with every cell there, over the whole data set" }), {
        key, current: () => pairsKey, id: "compare", title: "Align failed:",
        done: (r) => {
          pairs = r.pairs;
          session.setState({ cmp_dataset: t.dataset === s.dataset ? null : t.dataset, cmp_source: t.source,
            cmp_cells: carried(r.pairs) }, "push");
        },
      });
    }

    function loadOther(s, t, ctx) {
      const key = JSON.stringify([t.dataset, t.source, s.cmp_cells, ctx.start, ctx.end]);
      if (key === otherKey) return;
      otherKey = key;
      other = null;
      if (!s.cmp_cells.length) return;
      settle(loaders.load("compare:context", (o) => api.getContext(t.dataset, {
        source: t.source, pos: ctx.start, left: 0, right: Math.min(500, ctx.end - ctx.start), cells: s.cmp_cells,
      }, o), { key, label: "loading the other side" }), {
        key, current: () => otherKey, id: "compare", title: "Compare failed:",
        done: (r) => {
          other = r;
          update(session.state, session.data);
        },
      });
    }

    function update(s, data) {
      const ctx = data.context;
      if (!data.dataset || !ctx) return;
      const t = target(s, data);
      if (t) loadOther(s, t, ctx);
      const cells = s.cells ?? [];
      const pairsNow = pairs && pairs.every((p) => cells.includes(p.cell)) ? pairs : null;
      const mark = s.start !== null && s.end !== null ? [s.start, s.end] : s.mark;
      view.update({
        targets: data.dataset ? targetsOf(data.dataset, s.source, all) : [],
        target: t,
        left: { title: `${s.dataset} · ${s.source}: ${cells.length} selected cells`, window: rowsOf(ctx, cells) },
        right: {
          title: t ? `${t.dataset} · ${t.source}: ${s.cmp_cells.length} carried cells` : "no other source",
          window: other ? rowsOf(other, s.cmp_cells) : null,
        },
        pairs: pairsNow,
        mark,
        note: !t ? "this data set has one source; serve a second model or checkpoint over the same tokens to compare"
          : cells.length ? "" : "select cells (brush a range) to carry them",
        canCarry: !!t && cells.length > 0,
        canMatch: !!t && s.cmp_cells.length > 0,
      });
    }

    return {
      update,
      destroy() {
        loaders.cancel("compare:align");
        loaders.cancel("compare:context");
        loaders.cancel("compare:datasets");
        view.destroy();
      },
    };
  },
};
