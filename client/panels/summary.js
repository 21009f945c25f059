// The match summary panel: lengths, frequent phrases and meta enrichment over ALL candidates
// of the current match (GET /match?summary=true, one row asked for), beside the match view's
// table, and the rows shown grouped by phrase.
import { matchSummary } from "../views/matchSummary.js";

export const summary = {
  id: "summary",
  title: "Match summary",
  urlKeys: {
    summary_group: { kind: "bool", default: false },
  },
  mount(container, { session, api, loaders, actions, settle }) {
    let asked = null;
    let answer = null;
    let busy = false;
    const view = matchSummary({
      onGroup: (on) => session.setState({ summary_group: on }, "push"),
      onOpen: (start) => actions.jump(start),
    });
    container.append(view.node);
    let drawn = null; // skip redraws when nothing the view shows changed

    function paramsOf(s) {
      return {
        source: s.source, cells: s.cells, threshold: s.threshold, pad_left: s.pad_left, pad_right: s.pad_right,
        min_overlap: s.min_overlap, min_len: s.min_len, max_len: s.max_len, limit: 1, left: 0, right: 0,
        meta: s.meta.length ? s.meta : null, summary: true,
      };
    }

    function update(s, data) {
      if (!data.dataset) return;
      const ready = s.match && s.cells?.length && s.threshold !== null;
      const key = ready ? JSON.stringify([s.dataset, paramsOf(s)]) : null;
      if (key !== asked) {
        asked = key;
        answer = null;
        busy = !!key;
        if (key) {
          settle(loaders.load("summary", (o) => api.matchCells(s.dataset, paramsOf(s), o),
            { key, label: "summarising every candidate of the match" }), {
            key, current: () => asked, id: "summary", title: "Match summary failed:",
            done: (r) => {
              answer = r;
              busy = false;
              session.setData({ summaryKey: key });
            },
            failed: () => {
              busy = false;
              session.setData({ summaryKey: null });
            },
          });
        }
      }
      const inputs = [answer, data.match, s.summary_group, busy];
      if (drawn && inputs.every((v, i) => v === drawn[i])) return;
      drawn = inputs;
      view.update({
        summary: answer?.summary ?? null, candidates: answer?.candidates ?? null,
        matches: data.match?.matches ?? null, group: s.summary_group, busy,
      });
    }

    return {
      update,
      destroy() {
        loaders.cancel("summary");
        view.destroy();
      },
    };
  },
};
