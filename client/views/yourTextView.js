// "Your text": the data set's model on a typed sentence (GET /run). Draws the states of the
// text with the selected cells, their on/off over the words (drag over words to select the
// cells on there), the prediction, the word-impact strip (paper 001: green raises the
// predicted class, red lowers it, grey within 10% of the largest |impact|; opacity =
// strength), the saliency heatmap (words x embedding dimensions, paper 003) with per-word
// bars, and one compact row per checkpoint. It never fetches and never reads the URL.
import d3 from "../d3.js";
import { SELECTED, THRESHOLD, UNSELECTED, countScale, sequential } from "../colors.js";

export const IMPACT_UP = "#1a9850"; // raises the predicted class
export const IMPACT_DOWN = "#d73027"; // lowers it
export const IMPACT_NEUTRAL = "#9e9e9e";
const WORD_W = 64;
const PLOT_H = 150;

/**
 * 001's word-impact colours: per word {kind, color, opacity}; |impact| < 0.1 x the largest
 * |impact| of the sentence is neutral (grey); opacity = |impact| / largest.
 * @param {number[]} impact
 */
export function impactColors(impact) {
  const max = Math.max(0, ...impact.map((v) => Math.abs(v ?? 0)));
  return impact.map((v) => {
    const a = Math.abs(v ?? 0);
    const opacity = max > 0 ? a / max : 0;
    if (max === 0 || a < 0.1 * max) return { kind: "neutral", color: IMPACT_NEUTRAL, opacity };
    return { kind: v > 0 ? "up" : "down", color: v > 0 ? IMPACT_UP : IMPACT_DOWN, opacity };
  });
}

/**
 * DESIGN.md's select on your text: cells on (>= threshold) at every word of [a, b] and off on
 * the pad_left words before and pad_right after (words outside the text count as off).
 * @param {number[][]} values cells x words  @returns {number[]} cell ids, ascending
 */
export function selectOnText(values, a, b, threshold, padLeft = 0, padRight = 0) {
  const out = [];
  values.forEach((row, c) => {
    for (let t = a; t <= b; t++) if (!(row[t] >= threshold)) return;
    for (let t = Math.max(0, a - padLeft); t < a; t++) if (row[t] >= threshold) return;
    for (let t = b + 1; t <= Math.min(row.length - 1, b + padRight); t++) if (row[t] >= threshold) return;
    out.push(c);
  });
  return out;
}

/** How many of `cells` are on at each word. */
export function onCountOnText(values, cells, threshold) {
  const n = values[0]?.length ?? 0;
  return Array.from({ length: n }, (_, t) => cells.filter((c) => values[c]?.[t] >= threshold).length);
}

function predictionText(output) {
  if (!output) return "";
  if (output.kind === "classifier") {
    return `${output.label} (p = ${output.probs[output.predicted].toFixed(3)})`;
  }
  return `next token: ${output.top_tokens?.[0] ?? output.predicted}`;
}

function impactStrip(tokens, impact) {
  const strip = document.createElement("div");
  strip.className = "yt-impact";
  impactColors(impact).forEach((c, i) => {
    const word = document.createElement("span");
    word.className = `yt-word impact-${c.kind}`;
    word.textContent = tokens[i];
    Object.assign(word.style, { padding: "1px 4px", marginRight: "3px", borderRadius: "3px", display: "inline-block" });
    const rgb = d3.rgb(c.color);
    word.style.background = `rgba(${rgb.r}, ${rgb.g}, ${rgb.b}, ${Math.max(0.08, c.opacity).toFixed(3)})`;
    word.title = `${tokens[i]}: impact ${impact[i] >= 0 ? "+" : ""}${impact[i].toFixed(4)}`;
    strip.append(word);
  });
  return strip;
}

function saliencyBars(tokens, saliency, width = WORD_W) {
  const max = Math.max(1e-12, ...saliency);
  const svg = d3.create("svg").attr("class", "yt-bars").attr("width", tokens.length * width).attr("height", 40);
  svg.selectAll("rect").data(saliency).join("rect")
    .attr("x", (_, i) => i * width + 4).attr("width", width - 8)
    .attr("y", (v) => 38 - 36 * (v / max)).attr("height", (v) => 36 * (v / max))
    .attr("fill", SELECTED)
    .append("title").text((v, i) => `${tokens[i]}: saliency ${v.toPrecision(3)}`);
  return svg.node();
}

function saliencyHeatmap(tokens, dims, className = "yt-saliency") {
  const E = dims[0]?.length ?? 0;
  const cell = Math.max(3, Math.min(10, Math.floor(480 / Math.max(1, E))));
  const max = Math.max(1e-12, ...dims.flat());
  const color = sequential(0, max);
  const svg = d3.create("svg").attr("class", className)
    .attr("width", 90 + E * cell).attr("height", tokens.length * 14 + 4);
  svg.selectAll("text").data(tokens).join("text").attr("x", 86).attr("y", (_, i) => i * 14 + 11)
    .attr("text-anchor", "end").attr("font-size", 11).text((t) => t);
  svg.selectAll("g.row").data(dims).join("g").attr("class", "row")
    .attr("transform", (_, i) => `translate(90, ${i * 14})`)
    .selectAll("rect").data((row) => row).join("rect")
    .attr("x", (_, d) => d * cell).attr("width", cell).attr("height", 13).attr("fill", (v) => color(v));
  return svg.node();
}

/**
 * @param {{onRun: (text: string, all: boolean) => void, onSelectWords: (a: number, b: number) => void,
 *          onMatch: () => void, onCheckpoint: (id: string) => void}} callbacks
 */
export function yourTextView({ onRun, onSelectWords, onMatch, onCheckpoint }) {
  const node = document.createElement("div");
  node.className = "your-text";
  const form = document.createElement("form");
  form.className = "yt-form";
  form.innerHTML = `
    <label>your text <input name="text" type="text" size="60" maxlength="1000" placeholder="type a sentence, e.g. the movie was not boring"></label>
    <label>checkpoint <select name="checkpoint"></select></label>
    <label><input name="all" type="checkbox"> every checkpoint</label>
    <button type="submit">Run the model</button>`;
  const field = (name) => form.elements.namedItem(name);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = field("text").value.trim();
    if (text) onRun(text, field("all").checked);
  });
  field("checkpoint").addEventListener("change", (event) => onCheckpoint(event.target.value));
  const body = document.createElement("div");
  body.className = "yt-body";
  node.append(form, body);
  let drag = null; // the word a drag started on
  const endDrag = () => { drag = null; };
  window.addEventListener("pointerup", endDrag);

  function statesPlot(values, cells, threshold) {
    const n = values[0]?.length ?? 0;
    const flat = values.flat().filter((v) => v !== null);
    const y = d3.scaleLinear().domain(d3.extent([...flat, threshold])).nice().range([PLOT_H - 4, 4]);
    const x = (t) => t * WORD_W + WORD_W / 2;
    const svg = d3.create("svg").attr("class", "yt-states").attr("width", n * WORD_W).attr("height", PLOT_H);
    const line = d3.line().defined((v) => v !== null).x((_, t) => x(t)).y((v) => y(v));
    const chosen = new Set(cells);
    const order = values.map((_, c) => c).sort((a, b) => chosen.has(a) - chosen.has(b));
    svg.selectAll("path.cell").data(order).join("path")
      .attr("class", (c) => (chosen.has(c) ? "cell selected" : "cell"))
      .attr("fill", "none").attr("stroke", (c) => (chosen.has(c) ? SELECTED : UNSELECTED))
      .attr("stroke-opacity", (c) => (chosen.has(c) ? 0.9 : 0.25)).attr("stroke-width", (c) => (chosen.has(c) ? 1.6 : 0.8))
      .attr("d", (c) => line(values[c]));
    svg.append("line").attr("class", "threshold").attr("x1", 0).attr("x2", n * WORD_W)
      .attr("y1", y(threshold)).attr("y2", y(threshold)).attr("stroke", THRESHOLD).attr("stroke-dasharray", "4 3");
    return svg.node();
  }

  function wordsRow(tokens, counts, nCells, unknown) {
    const color = countScale(Math.max(1, nCells));
    const svg = d3.create("svg").attr("class", "yt-words").attr("width", tokens.length * WORD_W).attr("height", 24);
    const odd = new Set(unknown.map((u) => u.index));
    const g = svg.selectAll("g").data(tokens).join("g").attr("class", "yt-token")
      .attr("transform", (_, i) => `translate(${i * WORD_W}, 0)`);
    g.append("rect").attr("width", WORD_W - 1).attr("height", 22).attr("fill", (_, i) => color(counts[i]))
      .attr("stroke", "#ccc");
    g.append("text").attr("x", WORD_W / 2).attr("y", 15).attr("text-anchor", "middle").attr("font-size", 12)
      .attr("font-style", (_, i) => (odd.has(i) ? "italic" : null)).text((t) => t);
    g.append("title").text((t, i) => `${t}${odd.has(i) ? " (unknown to the model)" : ""}: ${counts[i]} of ${nCells} selected cells on`);
    g.on("pointerdown", (event, _) => {
      drag = g.nodes().indexOf(event.currentTarget);
    }).on("pointerup", (event) => {
      if (drag === null) return;
      const i = g.nodes().indexOf(event.currentTarget);
      onSelectWords(Math.min(drag, i), Math.max(drag, i));
      drag = null;
    });
    return svg.node();
  }

  function checkpointRows(rows) {
    const table = document.createElement("table");
    table.className = "yt-checkpoints";
    table.innerHTML = "<thead><tr><th>checkpoint</th><th>prediction</th><th>word impact</th><th>saliency</th></tr></thead>";
    const tbody = document.createElement("tbody");
    for (const { checkpoint, run, error } of rows) {
      const tr = document.createElement("tr");
      tr.dataset.checkpoint = checkpoint.id;
      const name = document.createElement("td");
      name.textContent = checkpoint.label;
      const pred = document.createElement("td");
      pred.className = "yt-prediction";
      const strip = document.createElement("td");
      const bars = document.createElement("td");
      if (run) {
        pred.textContent = predictionText(run.output);
        strip.append(impactStrip(run.tokens, run.impact));
        bars.append(saliencyBars(run.tokens, run.saliency, 28));
      } else {
        pred.textContent = error ?? "running...";
      }
      tr.append(name, pred, strip, bars);
      tbody.append(tr);
    }
    table.append(tbody);
    return table;
  }

  function section(title, ...children) {
    const div = document.createElement("div");
    div.className = "yt-section";
    const h = document.createElement("h4");
    h.textContent = title;
    div.append(h, ...children);
    return div;
  }

  /**
   * @param {{text: string|null, all: boolean, run: object|null, source: string, cells: number[],
   *          threshold: number, matchable: boolean, note: string, rows: object[],
   *          checkpoints?: object[], selected?: string, noModel?: string}} d
   *   checkpoints: the menu before a run; noModel: why there is no text box
   */
  function update(d) {
    form.hidden = !!d.noModel;
    if (d.noModel) {
      body.replaceChildren(Object.assign(document.createElement("p"), { className: "yt-note yt-no-model", textContent: d.noModel }));
      return;
    }
    if (document.activeElement !== field("text")) field("text").value = d.text ?? "";
    field("all").checked = !!d.all;
    const choices = d.run?.checkpoints ?? d.checkpoints ?? [];
    const select = field("checkpoint");
    if (select.options.length !== choices.length) {
      select.replaceChildren(...choices.map((c) => new Option(c.label, c.id)));
    }
    if (d.run) select.value = d.run.checkpoint.id;
    else if (d.selected) select.value = d.selected;
    select.disabled = !choices.length;
    body.replaceChildren();
    const r = d.run;
    if (!r) {
      if (d.note) body.append(Object.assign(document.createElement("p"), { className: "yt-note", textContent: d.note }));
      return;
    }
    const values = r.sources[d.source] ?? [];
    const cells = d.cells.filter((c) => c < values.length);
    const pred = document.createElement("p");
    pred.className = "yt-prediction";
    pred.textContent = `${r.checkpoint.label}: ${predictionText(r.output)}` +
      (r.unknown.length ? `; unknown to the model: ${r.unknown.map((u) => u.token).join(", ")}` : "");
    const match = document.createElement("button");
    match.type = "button";
    match.className = "yt-match";
    match.textContent = "Match these cells against the corpus";
    match.disabled = !d.matchable || cells.length === 0;
    match.addEventListener("click", () => onMatch());
    const hint = document.createElement("p");
    hint.className = "yt-note";
    hint.textContent = d.note || "Drag over words to select the cells on there (threshold and padding as in the select view).";
    body.append(
      pred,
      section(`states of ${d.source} (${cells.length} selected cells highlighted)`,
        statesPlot(values, cells, d.threshold), wordsRow(r.tokens, onCountOnText(values, cells, d.threshold), cells.length, r.unknown)),
      hint, match,
      section("word impact (green raises the prediction, red lowers it, grey: within 10% of the largest)", impactStrip(r.tokens, r.impact)),
      section("saliency |dS/de| per word", saliencyBars(r.tokens, r.saliency)),
      section("saliency per embedding dimension (words x dimensions)", saliencyHeatmap(r.tokens, r.saliency_dims)),
      section("variance: (e_ij - mean over the words of e_.j)^2 (paper 003)", saliencyHeatmap(r.tokens, r.variance, "yt-variance")),
    );
    if (d.rows?.length) body.append(section("every checkpoint", checkpointRows(d.rows)));
  }

  return {
    node,
    update,
    destroy() {
      window.removeEventListener("pointerup", endDrag);
      node.remove();
    },
  };
}
