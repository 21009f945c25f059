// The co-clusters panel (RNNVis): memory chips of cell clusters, word clouds and their links
// (GET /coclusters); clicking a word colours the chips by each cell's response to it, clicking
// a chip selects its cells and runs the match. Glyphs for the window shown come from the
// loaded context (all cells), so they cost no request.
import { clusterGains, coclustersView } from "../views/coclustersView.js";

export const coclusters = {
  id: "coclusters",
  title: "Co-clusters",
  urlKeys: {
    cc_k: { kind: "int", min: 1, max: 64, default: 8 },
    cc_words: { kind: "int", min: 1, max: 2000, default: 200 },
    cc_min_count: { kind: "int", min: 1, default: 5 },
    cc_word: { kind: "string", default: null },
  },
  mount(container, { session, api, loaders, settle }) {
    let asked = null;
    let result = null;
    let busy = false;
    let glyphKey = null;
    let glyphs = null;
    const form = document.createElement("form");
    form.className = "coclusters-form";
    form.innerHTML = `
      <label>clusters <input name="k" type="number" min="1" max="64"></label>
      <label>words <input name="words" type="number" min="1" max="2000"></label>
      <label>read at least <input name="min_count" type="number" min="1"> times</label>
      <button type="submit">Co-cluster</button>`;
    const field = (name) => form.elements.namedItem(name);
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      session.setState({
        cc_k: Math.max(1, Math.min(64, Number(field("k").value) || 8)),
        cc_words: Math.max(1, Math.min(2000, Number(field("words").value) || 200)),
        cc_min_count: Math.max(1, Number(field("min_count").value) || 5),
      }, "push");
    });
    const view = coclustersView({
      onPickChip: (i) => {
        const cells = [...(result?.cell_clusters[i] ?? [])].sort((a, b) => a - b);
        if (!cells.length) return;
        // the chip's cells stand alone (no brush), as a correlation's top cells do
        session.setState({ start: null, end: null, mark: null, cells, added: cells, removed: [], match: true }, "push");
      },
      onPickWord: (word) => session.setState({ cc_word: word }, "push"),
    });
    container.append(form, view.node);

    function load(s, key) {
      busy = true;
      settle(loaders.load("coclusters", (o) => api.getCoclusters(s.dataset, {
        source: s.source, k: s.cc_k, words: s.cc_words, min_count: s.cc_min_count,
      }, o), { key, label: "co-clustering cells and words over the whole data set" }), {
        key, current: () => asked, id: "coclusters", title: "Co-clustering failed:",
        done: (r) => {
          busy = false;
          result = r;
          glyphKey = null;
          update(session.state, session.data);
        },
        failed: () => {
          busy = false;
          update(session.state, session.data);
        },
      });
    }

    function windowGlyphs(ctx) {
      if (!result || !ctx || ctx.source !== result.source || ctx.cells.length !== result.response.cells.length) return null;
      const key = `${asked}|${ctx.start}|${ctx.end}`;
      if (key !== glyphKey) {
        glyphKey = key;
        const starts = ctx.tokens.map((_, t) => ctx.sequence_starts.includes(ctx.start + t));
        glyphs = { tokens: ctx.tokens, gains: clusterGains(ctx.states, result.cell_clusters, starts) };
      }
      return glyphs;
    }

    function update(s, data) {
      if (!data.dataset || !s.source) return;
      field("k").value = String(s.cc_k);
      field("words").value = String(s.cc_words);
      field("min_count").value = String(s.cc_min_count);
      const key = JSON.stringify([s.dataset, s.source, s.cc_k, s.cc_words, s.cc_min_count]);
      if (key !== asked) {
        asked = key;
        result = null;
        load(s, key);
      }
      const note = busy ? "co-clustering…" : result
        ? `${result.cell_clusters.length} cell clusters, ${result.word_clusters.length} word clusters over ` +
          `${result.response.words.length} words; click a word to colour the chips by the response to it, ` +
          "a chip to select its cells" + (s.cc_word ? ` — colouring by “${s.cc_word}”` : "")
        : "";
      view.update({ result, word: s.cc_word, window: windowGlyphs(data.context), note });
    }

    return {
      update,
      destroy() {
        loaders.cancel("coclusters");
        view.destroy();
        form.remove();
      },
    };
  },
};
