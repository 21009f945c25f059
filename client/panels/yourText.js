// The "your text" panel: the data set's model on a sentence you type (GET /run), kept in the
// URL (`text`), with the states of the current source, the prediction, word impact and
// saliency; `text_all` adds one row per checkpoint (the model learning, paper 001);
// `text_checkpoint` picks the checkpoint of the main view. Dragging over words selects the
// cells on there; for the checkpoint whose states the data set holds, they match against
// the corpus. The run is shared as session.data.run (the projection panel places it).
// The data set summary's `model` says whether there is a model at all: without one the panel
// says so instead of offering a text box; with one, its checkpoints fill the menu at once.
import { selectOnText, yourTextView } from "../views/yourTextView.js";

export const yourText = {
  id: "text",
  title: "Your text",
  urlKeys: {
    text: { kind: "string", default: null },
    text_checkpoint: { kind: "string", default: null },
    text_all: { kind: "bool", default: false },
  },
  mount(container, { session, api, loaders, settle }) {
    let asked = null;
    let run = null;
    let note = "";
    let rowsKey = null;
    let rows = [];
    let model; // the summary's model: null when the data set carries none
    let datasetId = null;
    const view = yourTextView({
      onRun: (text, all) => session.setState({ text, text_all: all }, "push"),
      onSelectWords: (a, b) => {
        const s = session.state;
        const values = run?.sources?.[s.source];
        if (!values || !run.checkpoint.extracted) return;
        const cells = selectOnText(values, a, b, s.threshold ?? 0.3, s.pad_left ?? 0, s.pad_right ?? 0);
        session.setState({ start: null, end: null, mark: null, cells, added: cells, removed: [], match: false }, "push");
      },
      onMatch: () => session.setState({ match: true }, "push"),
      onCheckpoint: (id) => session.setState({ text_checkpoint: id }, "push"),
    });
    container.append(view.node);

    function loadMain(s, key) {
      settle(loaders.load("text", (o) => api.runModel(s.dataset, {
        text: s.text, ...(s.text_checkpoint ? { checkpoint: s.text_checkpoint } : {}),
      }, o), { key, label: "running the model on your text" }), {
        key, current: () => asked, id: "text", title: "Your text could not be run:",
        done: (r) => {
          run = r;
          note = "";
          session.setData({ run: r });
          draw(session.state);
        },
        failed: (err) => {
          run = null;
          note = err.detail || err.message;
          draw(session.state);
        },
      });
    }

    function loadRows(s, key) {
      rows = run.checkpoints.map((checkpoint) => ({ checkpoint, run: null }));
      rows.forEach((row, i) => {
        // a row's failure shows in its row, not in the status line (no id)
        settle(loaders.load(`text:${i}`, (o) => api.runModel(s.dataset, { text: s.text, checkpoint: row.checkpoint.id }, o),
          { key: `${key}:${row.checkpoint.id}`, label: `running checkpoint ${row.checkpoint.label}` }), {
          key, current: () => rowsKey,
          done: (r) => {
            row.run = r;
            draw(session.state);
          },
          failed: (err) => {
            row.error = err.detail || err.message;
            draw(session.state);
          },
        });
      });
    }

    function draw(s) {
      if (model === null) {
        view.update({ noModel: `Data set ${datasetId} carries no model, so there is nothing to run on your text; ` +
          "open a data set built with one (e.g. `hiddenscope build datasets/sentiment`).", text: s.text, rows: [] });
        return;
      }
      const extracted = run?.checkpoint?.extracted;
      const hasSource = !!run?.sources?.[s.source];
      let why = note;
      if (run && !hasSource) why = `checkpoint ${run.checkpoint.label} has no state ${s.source}; pick another source or the extracted checkpoint`;
      else if (run && !extracted) why = `these are the states of ${run.checkpoint.label}; the data set holds those of another checkpoint, so its cells cannot be matched against the corpus`;
      view.update({
        text: s.text, all: s.text_all, run: hasSource ? run : null, source: s.source, cells: s.cells ?? [],
        threshold: s.threshold ?? 0.3, matchable: !!extracted && hasSource, note: why,
        rows: s.text_all ? rows : [], checkpoints: model?.checkpoints ?? [],
        selected: s.text_checkpoint ?? model?.extracted ?? null,
      });
    }

    function update(s, data) {
      if (!data.dataset) return;
      model = data.dataset.model;
      datasetId = data.dataset.id;
      const key = s.text && model !== null ? JSON.stringify([s.dataset, s.text, s.text_checkpoint]) : null;
      if (key !== asked) {
        asked = key;
        run = null;
        note = "";
        rowsKey = null;
        rows = [];
        if (key) loadMain(s, key);
      }
      if (run && s.text_all && rowsKey !== asked) {
        rowsKey = asked;
        loadRows(s, asked);
      }
      draw(s);
    }

    return {
      update,
      destroy() {
        loaders.cancel("text");
        rows.forEach((_, i) => loaders.cancel(`text:${i}`));
        view.destroy();
      },
    };
  },
};
