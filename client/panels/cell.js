// The cell panel: one cell's values over the window against the threshold, its statistics,
// its top-activating contexts, the labels it detects best and its expected response to words
// (GET /cells/{cell}, /cells/{cell}/top, /cells/{cell}/labels, /cells/{cell}/words).
import { cellView } from "../views/cellView.js";

export const cell = {
  id: "cell",
  title: "Cell",
  urlKeys: {
    cell_id: { kind: "int", min: 0, default: null },
  },
  mount(container, { session, api, loaders, actions, settle }) {
    let asked = null;
    let answers = { stats: null, top: null, labels: null, words: null };
    let busy = false;
    const view = cellView({
      onJump: (start, end) => actions.jump(start, end),
      onPick: (c) => session.setState({ cell_id: c }, "push"),
    });
    container.append(view.node);
    let drawn = null; // skip redraws when nothing the view shows changed

    function load(s, key) {
      busy = true;
      const q = { source: s.source };
      const c = s.cell_id;
      const calls = {
        stats: (o) => api.getCellStats(s.dataset, c, q, o),
        top: (o) => api.getCellTop(s.dataset, c, { ...q, limit: 12, left: 8, right: 8 }, o),
        labels: (o) => api.getCellLabels(s.dataset, c, { ...q, limit: 6 }, o),
        words: (o) => api.getCellWords(s.dataset, c, { ...q, limit: 12 }, o),
      };
      const what = {
        stats: "cell statistics", top: "top contexts", labels: "best labels", words: "word responses",
      };
      const all = Promise.all(Object.entries(calls).map(([name, call]) => loaders.load(`cell:${name}`, call,
        { key, label: `loading the cell's ${what[name]}` }).then((r) => {
        if (asked !== key) return;
        answers = { ...answers, [name]: r };
        session.setData({ cellPanel: { key, ...answers } });
      })));
      const finish = () => {
        busy = false;
        session.setData({ cellPanel: { key, ...answers } });
      };
      settle(all, { key, current: () => asked, id: "cell", title: `Cell ${c}:`, done: finish, failed: finish });
    }

    function update(s, data) {
      if (!data.dataset) return;
      const key = s.cell_id === null ? null : JSON.stringify([s.dataset, s.source, s.cell_id]);
      if (key !== asked) {
        asked = key;
        answers = { stats: null, top: null, labels: null, words: null };
        busy = false;
        if (key) load(s, key);
      }
      const ctx = data.context;
      const inputs = [s.cell_id, s.threshold, ctx, answers, busy];
      if (drawn && inputs.every((v, i) => v === drawn[i])) return;
      drawn = inputs;
      const row = ctx && s.cell_id !== null ? ctx.cells.indexOf(s.cell_id) : -1;
      const window = row >= 0 ? { tokens: ctx.tokens, values: ctx.states[row] } : null;
      view.update({ cell: s.cell_id, threshold: s.threshold ?? 0, window, ...answers, busy });
    }

    return {
      update,
      destroy() {
        for (const name of ["stats", "top", "labels", "words"]) loaders.cancel(`cell:${name}`);
        view.destroy();
      },
    };
  },
};
