// Co-clusters of cells and words (GET /coclusters, RNNVis, papers/004_…): each cell cluster is
// a "memory chip" (one small square per cell, orange/blue by its response to the chosen word),
// each word cluster a word cloud (size by frequency), and lines join chips and clouds (width
// by the mean |response|, orange where words push the cells up, blue where down). Below, for
// the window shown, a glyph per step: how much each cell cluster gains up and down.
import d3 from "../d3.js";
import { OKABE_ITO } from "../colors.js";

const UP = OKABE_ITO[0]; // orange: positive response
const DOWN = OKABE_ITO[4]; // blue: negative response
const SQ = 9;
const CHIP_COLS = 12;
const CHIP_X = 10;
const CLOUD_X = 420;
const CLOUD_W = 300;
const GAP = 14;
const LINKS_PER_CHIP = 2;
const GLYPH_W = 18;
const GLYPH_H = 56;

/** Diverging colour of a response value against the largest |value| `top`. */
export function responseColor(v, top) {
  if (v === null || v === undefined || Number.isNaN(v)) return "#eeeeee";
  const t = Math.max(-1, Math.min(1, top > 0 ? v / top : 0));
  return t >= 0 ? d3.interpolateRgb("#f7f7f7", UP)(t) : d3.interpolateRgb("#f7f7f7", DOWN)(-t);
}

/**
 * Per step of a window, the positive and negative change of each cell cluster:
 * gains[t][i] = {up: sum of max(d, 0), down: sum of min(d, 0)} over the cluster's cells, with
 * d = h[t] - h[t-1], h[-1] = 0 at a sequence start; null for the window's first step when it
 * is not a sequence start (its previous state is outside the window).
 * @param {number[][]} states cells x steps (all cells, rows indexed by cell id)
 * @param {int[][]} clusters cell ids per cluster
 * @param {boolean[]} starts per step: a sequence starts here
 */
export function clusterGains(states, clusters, starts) {
  const steps = states[0]?.length ?? 0;
  const out = [];
  for (let t = 0; t < steps; t++) {
    if (t === 0 && !starts[0]) {
      out.push(null);
      continue;
    }
    out.push(clusters.map((cells) => {
      let up = 0;
      let down = 0;
      for (const c of cells) {
        const now = states[c][t];
        const before = starts[t] ? 0 : states[c][t - 1];
        if (now === null || before === null) continue;
        const d = now - before;
        if (d > 0) up += d;
        else down += d;
      }
      return { up, down };
    }));
  }
  return out;
}

/** A chip's width: its squares, or its label when that is wider. */
function chipWidth(chip) {
  return Math.max(chip.cols * SQ + 8, 100);
}

/** Lay words out in lines of width `width`: [{word, size, x, y}] and the height used. */
export function flowWords(words, sizeOf, width) {
  let x = 0;
  let y = 0;
  let line = 0;
  const out = [];
  for (const w of words) {
    const size = sizeOf(w);
    const wide = size * 0.6 * Math.max(1, w.length) + 6;
    if (x > 0 && x + wide > width) {
      x = 0;
      y += line + 2;
      line = 0;
    }
    out.push({ word: w, size, x, y: y + size });
    x += wide;
    line = Math.max(line, size);
  }
  return { words: out, height: y + line };
}

/**
 * @param {{onPickChip: (i: int) => void, onPickWord: (word: string|null) => void}} callbacks
 */
export function coclustersView({ onPickChip = () => {}, onPickWord = () => {} } = {}) {
  const root = d3.create("div").attr("class", "coclusters-view");
  const note = root.append("div").attr("class", "coclusters-note").attr("aria-live", "polite");
  const svg = root.append("svg").attr("class", "coclusters").attr("width", CLOUD_X + CLOUD_W + 10);
  const linksG = svg.append("g").attr("class", "links");
  const chipsG = svg.append("g").attr("class", "chips");
  const cloudsG = svg.append("g").attr("class", "clouds");
  root.append("div").attr("class", "glyphs-head").text("Sequence glyphs: what each cell cluster gains per step (orange up, blue down)");
  const glyphSvg = root.append("svg").attr("class", "glyphs");

  /**
   * @param {{result: object|null, word: string|null, window: {tokens: string[], gains: object[]}|null,
   *          note: string}} data  result: the Coclusters answer
   */
  function update({ result, word = null, window = null, note: text = "" }) {
    note.text(text);
    if (!result) {
      svg.attr("height", 0);
      chipsG.selectAll("*").remove();
      cloudsG.selectAll("*").remove();
      linksG.selectAll("*").remove();
      glyphSvg.attr("height", 0).selectAll("*").remove();
      return;
    }
    const r = result.response;
    const wi = word === null ? -1 : r.words.indexOf(word);
    const column = wi < 0 ? null : r.values.map((row) => row[wi]);
    const top = column ? d3.max(column, (v) => Math.abs(v ?? 0)) : 0;
    // chips, stacked
    let y = 0;
    const chips = result.cell_clusters.map((cells, i) => {
      const cols = Math.min(CHIP_COLS, cells.length);
      const rows = Math.ceil(cells.length / cols);
      const chip = { i, cells, cols, y, h: rows * SQ + 16 };
      y += chip.h + GAP;
      return chip;
    });
    const counts = new Map(r.words.map((w, j) => [w, r.counts[j]]));
    const size = d3.scaleSqrt().domain([0, d3.max(r.counts) || 1]).range([9, 22]);
    let cy = 0;
    const clouds = result.word_clusters.map((words, j) => {
      const flow = flowWords(words, (w) => size(counts.get(w) ?? 0), CLOUD_W - 8);
      const cloud = { j, words: flow.words, y: cy, h: flow.height + 10 };
      cy += cloud.h + GAP;
      return cloud;
    });
    svg.attr("height", Math.max(y, cy));

    const chip = chipsG.selectAll("g.chip").data(chips, (d) => d.i).join((enter) => {
      const g = enter.append("g").attr("class", "chip").attr("tabindex", 0).attr("role", "button");
      g.append("rect").attr("class", "chip-frame");
      g.append("text").attr("class", "chip-label").attr("y", 11);
      g.append("g").attr("class", "cells").attr("transform", "translate(4,14)");
      return g;
    });
    chip.attr("transform", (d) => `translate(${CHIP_X},${d.y})`)
      .attr("aria-label", (d) => `cell cluster ${d.i + 1}: ${d.cells.length} cells; click to select them`)
      .on("click", (_, d) => onPickChip(d.i))
      .on("keydown", (event, d) => { if (event.key === "Enter") onPickChip(d.i); });
    chip.select("rect.chip-frame").attr("width", (d) => chipWidth(d)).attr("height", (d) => d.h)
      .attr("fill", "#fafafa").attr("stroke", "#555").attr("rx", 3);
    chip.select("text.chip-label").attr("x", 4).text((d) => `#${d.i + 1} · ${d.cells.length} cells`);
    chip.select("g.cells").selectAll("rect").data((d) => d.cells.map((c, k) => ({ c, k, cols: d.cols })))
      .join("rect").attr("class", "cell-square")
      .attr("x", (d) => (d.k % d.cols) * SQ).attr("y", (d) => Math.floor(d.k / d.cols) * SQ)
      .attr("width", SQ - 1).attr("height", SQ - 1)
      .attr("fill", (d) => (column ? responseColor(column[d.c], top) : "#d9d9d9"))
      .selectAll("title").data((d) => [d]).join("title")
      .text((d) => `cell ${d.c}` + (column ? `: ${word} ${column[d.c]?.toFixed(3)}` : ""));

    const cloud = cloudsG.selectAll("g.cloud").data(clouds, (d) => d.j).join((enter) => {
      const g = enter.append("g").attr("class", "cloud");
      g.append("rect").attr("class", "cloud-frame");
      return g;
    });
    cloud.attr("transform", (d) => `translate(${CLOUD_X},${d.y})`);
    cloud.select("rect.cloud-frame").attr("width", CLOUD_W).attr("height", (d) => d.h)
      .attr("fill", "#fff").attr("stroke", "#bbb").attr("rx", 6);
    cloud.selectAll("text.word").data((d) => d.words, (d) => d.word).join("text")
      .attr("class", "word").attr("x", (d) => d.x + 4).attr("y", (d) => d.y + 2)
      .attr("font-size", (d) => d.size).attr("tabindex", 0)
      .classed("picked", (d) => d.word === word)
      .style("cursor", "pointer").style("font-weight", (d) => (d.word === word ? "bold" : null))
      .text((d) => d.word)
      .on("click", (_, d) => onPickWord(d.word === word ? null : d.word));

    // the strongest links of each chip
    const maxW = d3.max(result.links, (l) => l.weight) || 1;
    const shown = chips.flatMap((c) => result.links.filter((l) => l.cells === c.i).slice(0, LINKS_PER_CHIP));
    linksG.selectAll("path.link").data(shown, (l) => `${l.cells}-${l.words}`).join("path")
      .attr("class", "link").attr("fill", "none")
      .attr("d", (l) => {
        const a = chips[l.cells];
        const b = clouds[l.words];
        const x0 = CHIP_X + chipWidth(a);
        const y0 = a.y + a.h / 2;
        const y1 = b.y + b.h / 2;
        const mid = (x0 + CLOUD_X) / 2;
        return `M${x0},${y0}C${mid},${y0} ${mid},${y1} ${CLOUD_X},${y1}`;
      })
      .attr("stroke", (l) => (l.strength >= 0 ? UP : DOWN))
      .attr("stroke-opacity", 0.7)
      .attr("stroke-width", (l) => 1 + 7 * (l.weight / maxW))
      .selectAll("title").data((l) => [l]).join("title")
      .text((l) => `cells #${l.cells + 1} ↔ words #${l.words + 1}: mean response ${l.strength.toFixed(3)}, mean |response| ${l.weight.toFixed(3)}`);

    drawGlyphs(window, chips.length);
  }

  function drawGlyphs(window, k) {
    const gains = window?.gains ?? [];
    glyphSvg.attr("width", Math.max(1, gains.length * GLYPH_W)).attr("height", gains.length ? GLYPH_H + 16 : 0);
    const top = d3.max(gains.flat().filter(Boolean), (g) => Math.max(g.up, -g.down)) || 1;
    const bw = Math.max(1, (GLYPH_W - 4) / Math.max(1, k));
    const half = GLYPH_H / 2;
    const g = glyphSvg.selectAll("g.glyph").data(gains.map((gs, t) => ({ gs, t }))).join("g")
      .attr("class", "glyph").attr("transform", (d) => `translate(${d.t * GLYPH_W},0)`);
    g.selectAll("line.axis").data([0]).join("line").attr("class", "axis")
      .attr("x1", 1).attr("x2", GLYPH_W - 1).attr("y1", half).attr("y2", half).attr("stroke", "#999");
    g.selectAll("rect.up").data((d) => d.gs ?? []).join("rect").attr("class", "up")
      .attr("x", (_, i) => 2 + i * bw).attr("width", bw - 0.5)
      .attr("y", (b) => half - (half * b.up) / top).attr("height", (b) => (half * b.up) / top).attr("fill", UP);
    g.selectAll("rect.down").data((d) => d.gs ?? []).join("rect").attr("class", "down")
      .attr("x", (_, i) => 2 + i * bw).attr("width", bw - 0.5)
      .attr("y", half).attr("height", (b) => (half * -b.down) / top).attr("fill", DOWN);
    g.selectAll("text").data((d) => [window.tokens[d.t]]).join("text")
      .attr("x", GLYPH_W / 2).attr("y", GLYPH_H + 12).attr("text-anchor", "middle").attr("font-size", 10)
      .text((w) => w);
  }

  return {
    node: root.node(),
    update,
    destroy() {
      root.remove();
    },
  };
}
