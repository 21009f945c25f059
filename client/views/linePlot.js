// Parallel coordinates of cell values over the window's steps, drawn on a canvas so that
// thousands of cells stay fluid: all unselected cells are one path and one stroke call;
// selected cells are drawn on top, the hovered cell last.
import { HOVER, SELECTED, THRESHOLD, UNSELECTED } from "../colors.js";

const HIT_PX = 6; // a line within this many pixels of the pointer is "under" it

/**
 * @param {{height: number, onHover: (cell: number|null, step: number|null) => void,
 *          onToggle: (cell: number) => void}} opts  step: index into the window
 * @returns {{node: HTMLCanvasElement, update: (data: object) => void, destroy: () => void}}
 */
export function linePlot({ height = 200, onHover = () => {}, onToggle = () => {} } = {}) {
  const canvas = document.createElement("canvas");
  canvas.className = "line-plot";
  canvas.setAttribute("role", "img");
  let data = null;
  let hovered = null;
  let hoveredStep = null;

  // data: {states: float[cells][steps], cells: int[] (row ids), selected: Set<int>,
  //        hovered: int|null, threshold: float, y: d3 scale (value -> px), zoom: px per step}
  function update(next) {
    data = next;
    hovered = next.hovered;
    draw();
  }

  function draw() {
    const { states, cells, selected, threshold, y, zoom } = data;
    const steps = states.length ? states[0].length : 0;
    const width = Math.max(1, steps * zoom);
    const dpr = window.devicePixelRatio || 1;
    if (canvas.width !== Math.round(width * dpr) || canvas.height !== Math.round(height * dpr)) {
      canvas.width = Math.round(width * dpr);
      canvas.height = Math.round(height * dpr);
      canvas.style.width = `${width}px`;
      canvas.style.height = `${height}px`;
    }
    const ctx = canvas.getContext("2d");
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, width, height);
    canvas.setAttribute("aria-label", `${cells.length} cells over ${steps} steps; ${selected.size} selected`);

    // zero line and threshold line
    ctx.lineWidth = 1;
    ctx.strokeStyle = "#cccccc";
    hline(ctx, y(0), width);
    ctx.strokeStyle = THRESHOLD;
    ctx.setLineDash([6, 3]);
    hline(ctx, y(threshold), width);
    ctx.setLineDash([]);

    const x0 = zoom / 2;
    const rowsOf = (keep) => cells.map((c, r) => (keep(c) ? r : -1)).filter((r) => r >= 0);
    // unselected: one path, faint, alpha shrinking with the number of lines
    ctx.globalAlpha = Math.min(0.6, Math.max(0.05, 3 / Math.sqrt(cells.length)));
    ctx.strokeStyle = UNSELECTED;
    ctx.beginPath();
    for (const r of rowsOf((c) => !selected.has(c))) trace(ctx, states[r], x0, zoom, y);
    ctx.stroke();
    ctx.globalAlpha = 0.9;
    ctx.strokeStyle = SELECTED;
    ctx.lineWidth = 1.5;
    ctx.beginPath();
    for (const r of rowsOf((c) => selected.has(c))) trace(ctx, states[r], x0, zoom, y);
    ctx.stroke();
    ctx.globalAlpha = 1;
    const h = cells.indexOf(hovered);
    if (h >= 0) {
      ctx.strokeStyle = HOVER;
      ctx.lineWidth = 2.5;
      ctx.beginPath();
      trace(ctx, states[h], x0, zoom, y);
      ctx.stroke();
    }
  }

  // The step under the pointer and the line nearest it there (selected lines win ties).
  function hit(event) {
    if (!data || !data.states.length) return { cell: null, step: null };
    const rect = canvas.getBoundingClientRect();
    const px = event.clientX - rect.left;
    const py = event.clientY - rect.top;
    const { states, cells, selected, y, zoom } = data;
    const f = Math.max(0, Math.min(states[0].length - 1, px / zoom - 0.5));
    const i = Math.floor(f);
    const t = f - i;
    let best = null;
    let bestD = HIT_PX;
    for (let r = 0; r < cells.length; r++) {
      const row = states[r];
      const next = row[Math.min(i + 1, row.length - 1)];
      if (row[i] === null || next === null) continue;
      const v = row[i] * (1 - t) + next * t;
      const d = Math.abs(y(v) - py) - (selected.has(cells[r]) ? 1.5 : 0);
      if (d < bestD) {
        bestD = d;
        best = cells[r];
      }
    }
    return { cell: best, step: Math.min(states[0].length - 1, Math.max(0, Math.floor(px / zoom))) };
  }

  function onMove(event) {
    const { cell, step } = hit(event);
    if (cell !== hovered || step !== hoveredStep) {
      hovered = cell;
      hoveredStep = step;
      canvas.style.cursor = cell === null ? "default" : "pointer";
      onHover(cell, step);
    }
  }
  function onLeave() {
    hovered = null;
    hoveredStep = null;
    onHover(null, null);
  }
  function onClick(event) {
    const { cell } = hit(event);
    if (cell !== null) onToggle(cell);
  }
  canvas.addEventListener("mousemove", onMove);
  canvas.addEventListener("mouseleave", onLeave);
  canvas.addEventListener("click", onClick);

  function destroy() {
    canvas.removeEventListener("mousemove", onMove);
    canvas.removeEventListener("mouseleave", onLeave);
    canvas.removeEventListener("click", onClick);
    canvas.remove();
  }
  return { node: canvas, update, destroy };
}

function hline(ctx, y, width) {
  ctx.beginPath();
  ctx.moveTo(0, Math.round(y) + 0.5);
  ctx.lineTo(width, Math.round(y) + 0.5);
  ctx.stroke();
}

// One cell's line; a missing value (null: NaN in the data) lifts the pen.
function trace(ctx, row, x0, dx, y) {
  let down = false;
  for (let i = 0; i < row.length; i++) {
    const v = row[i];
    if (v === null || Number.isNaN(v)) {
      down = false;
    } else if (down) {
      ctx.lineTo(x0 + i * dx, y(v));
    } else {
      ctx.moveTo(x0 + i * dx, y(v));
      down = true;
    }
  }
}
