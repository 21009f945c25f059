// The heatmap panel, the select view's heatmap mode: cells × steps of the window shown,
// cells in the order of the selection or of the correlation panel's ranking.
import { cellHeatmap } from "../views/cellHeatmap.js";

export const heatmap = {
  id: "heatmap",
  title: "Cell heatmap",
  urlKeys: {
    heatmap_order: { kind: "enum", values: ["selection", "correlation"], default: "selection" },
    heatmap_rows: { kind: "int", min: 1, max: 100, default: 40 },
  },
  mount(container, { session }) {
    const view = cellHeatmap({
      onPickCell: (c) => {
        const open = session.state.panels;
        session.setState({ cell_id: c, panels: open.includes("cell") ? open : [...open, "cell"] }, "push");
      },
      onOrder: (order) => session.setState({ heatmap_order: order }, "push"),
    });
    container.append(view.node);
    let drawn = null; // what the heatmap shows, to skip redraws (hover changes data often)

    function update(s, data) {
      const ctx = data.context;
      if (!ctx) return;
      const inputs = [ctx, data.correlation, (s.cells ?? []).join(), s.threshold, s.zoom, s.heatmap_order, s.heatmap_rows];
      if (drawn && inputs.every((v, i) => v === drawn[i])) return;
      drawn = inputs;
      const ranked = (data.correlation?.cells ?? []).filter((c) => c.score !== null).map((c) => c.cell);
      const order = s.heatmap_order === "correlation" ? ranked : (s.cells ?? []);
      const cells = order.filter((c) => ctx.cells.includes(c)).slice(0, s.heatmap_rows);
      const values = cells.map((c) => ctx.states[ctx.cells.indexOf(c)]);
      let lo = Infinity;
      let hi = -Infinity;
      for (const row of values) {
        for (const v of row) {
          if (v === null) continue;
          lo = Math.min(lo, v);
          hi = Math.max(hi, v);
        }
      }
      view.update({
        cells, values, tokens: ctx.tokens, threshold: s.threshold ?? 0, zoom: s.zoom,
        order: s.heatmap_order, range: lo <= hi ? [lo, hi] : [-1, 1],
      });
    }

    return { update, destroy: () => view.destroy() };
  },
};
