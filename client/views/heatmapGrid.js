// One heatmap of the match view on a canvas: a row of coloured cells per match row, drawn
// at the heights of the word table's rows so the two line up. One canvas instead of
// thousands of table cells keeps the match view fast.
import { HOVER } from "../colors.js";

export const HEATMAP_CELL_W = 7; // 24 steps in 168 px: each step readable and hoverable
const CELL_W = HEATMAP_CELL_W;

/**
 * @param {{label: string, onHover: (row: number|null, col: number|null) => void}} opts
 */
export function heatmapGrid({ label = "", onHover = () => {} } = {}) {
  const canvas = document.createElement("canvas");
  canvas.className = "heatmap-grid";
  canvas.setAttribute("role", "img");
  let d = null;
  let hovered = [null, null];

  // data: {rows: (number|null|undefined)[][] (per match row, per column; undefined = no step),
  //        color: (v) => css colour, tops: number[] (row top, px), heights: number[], cols: int}
  function update(next) {
    d = next;
    const width = d.cols * CELL_W;
    const n = d.rows.length;
    const height = n ? d.tops[n - 1] + d.heights[n - 1] : 0;
    const dpr = window.devicePixelRatio || 1;
    canvas.width = Math.max(1, Math.round(width * dpr));
    canvas.height = Math.max(1, Math.round(height * dpr));
    canvas.style.width = `${width}px`;
    canvas.style.height = `${height}px`;
    canvas.setAttribute("aria-label", `${label}: ${n} rows × ${d.cols} steps`);
    draw();
  }

  function draw() {
    const ctx = canvas.getContext("2d");
    const dpr = window.devicePixelRatio || 1;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    d.rows.forEach((row, r) => {
      const y = d.tops[r] + 2;
      const h = d.heights[r] - 4;
      row.forEach((v, c) => {
        if (v === undefined) return;
        ctx.fillStyle = d.color(v);
        ctx.fillRect(c * CELL_W, y, CELL_W, h); // no gaps: the cells of a row read as a band
      });
    });
    const [r, c] = hovered;
    if (r !== null && d.rows[r]) {
      ctx.strokeStyle = HOVER;
      ctx.lineWidth = 2;
      ctx.strokeRect(c * CELL_W, d.tops[r] + 1, CELL_W, d.heights[r] - 2);
    }
  }

  function at(event) {
    const rect = canvas.getBoundingClientRect();
    const x = event.clientX - rect.left;
    const y = event.clientY - rect.top;
    const col = Math.floor(x / CELL_W);
    const row = d.tops.findIndex((t, i) => y >= t && y < t + d.heights[i]);
    return row < 0 || col < 0 || col >= d.cols ? [null, null] : [row, col];
  }
  canvas.addEventListener("mousemove", (event) => {
    const [r, c] = at(event);
    if (r !== hovered[0] || c !== hovered[1]) onHover(r, c);
  });
  canvas.addEventListener("mouseleave", () => onHover(null, null));

  /** Outline the hovered cell (row, col), or none. */
  function setHover(row, col) {
    hovered = [row, col];
    if (d) draw();
  }

  return { node: canvas, update, setHover, destroy: () => canvas.remove() };
}
