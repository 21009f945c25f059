// The scenario: one typed object, and its URL form.
//
// The URL is the scenario (DESIGN.md): every field below is written to the query string
// under the same name the API uses, and parse(serialize(s)) deep-equals s for every valid
// state. parse() never throws: a bad value is replaced by its default and reported in
// `errors`, so a damaged link still opens a page that says what was wrong.
//
// Two fields may wait for the data: `threshold` null means "derive it from the source's
// values" (session.js writes the derived value back, so a link always carries a number once
// the page has seen the data), and `cells` null means "the server's select of the brush has
// not answered yet": such a URL has no `cells=`, and opening it selects again, so a link
// copied at any moment names the same cells. Panels (panels.js) add their own fields with
// registerFields().

/** Defaults of every field; `null` means "not set". */
const DEFAULTS_TABLE = {
  dataset: null, // string: data set id
  source: null, // string: source id (layer/kind); null = the data set's first source
  pos: 0, // int: step shown after the left context
  left: 10, // int: steps shown before pos (context window [pos-left, pos+right])
  right: 59, // int: steps shown after pos
  threshold: null, // float: a cell is on at a step when its value >= threshold; null: derived from the data
  start: null, // int: first step of the brushed range (absolute position)
  end: null, // int: last step of the brushed range (inclusive)
  pad_left: 0, // int: steps before `start` where the cells must be off
  pad_right: 0, // int: steps after `end` where the cells must be off
  cells: Object.freeze([]), // int[]: the selected cells, manual edits included (sorted, unique); null: select pending
  added: Object.freeze([]), // int[]: cells added by hand; kept when the selection is recomputed
  removed: Object.freeze([]), // int[]: cells removed by hand; kept when the selection is recomputed
  meta: Object.freeze([]), // string[]: meta tracks shown
  map: null, // string: heatmap whose colours are mapped onto the match matrix ("count" or a meta id)
  match: false, // bool: the match view is shown (and re-run when the page opens)
  min_overlap: 1, // int
  min_len: 1, // int
  max_len: null, // int or null (unbounded)
  limit: 50, // int: match rows
  zoom: 18, // int: token width in pixels
  scale: "clip", // string: value axis of the plot: clip (1st..99th percentile), full, symlog, tanh
  mark: null, // int[2] or null: a range marked in the select view (the match row or search hit opened)
  panels: Object.freeze([]), // string[]: analysis panels open (panels.js), in the order opened
};
/** Defaults of every field (panels' fields too, once registered). */
export const DEFAULTS = DEFAULTS_TABLE;

/** The value axes of the plot (see select.js valueScale). */
export const SCALES = Object.freeze(["clip", "full", "symlog", "tanh"]);

/** Field kinds and bounds; the bounds mirror the API's where it has them. */
const FIELDS = {
  dataset: { kind: "string" },
  source: { kind: "string" },
  pos: { kind: "int", min: 0 },
  left: { kind: "int", min: 0, max: 500 },
  right: { kind: "int", min: 0, max: 500 },
  threshold: { kind: "float", unset: "derived from the data" },
  start: { kind: "int", min: 0 },
  end: { kind: "int", min: 0 },
  pad_left: { kind: "int", min: 0 },
  pad_right: { kind: "int", min: 0 },
  cells: { kind: "ints", max: 4096 },
  added: { kind: "ints", max: 4096 },
  removed: { kind: "ints", max: 4096 },
  meta: { kind: "strings" },
  map: { kind: "string" },
  match: { kind: "bool" },
  min_overlap: { kind: "int", min: 1 },
  min_len: { kind: "int", min: 1 },
  max_len: { kind: "int", min: 1 },
  limit: { kind: "int", min: 1, max: 500 },
  zoom: { kind: "int", min: 4, max: 80 },
  scale: { kind: "enum", values: SCALES },
  mark: { kind: "range" },
  panels: { kind: "strings" },
};

/** Every field's name, the panels' included once registered; the order of the URL. */
export const FIELD_NAMES = Object.keys(FIELDS);

/**
 * Add fields to the scenario (a panel's URL keys). Each spec is {kind, default, min?, max?,
 * values?} with kind one of string, strings, bool, float, int, ints, enum, range; a name already
 * taken throws, so two panels cannot silently share a key.
 * @param {Object<string, object>} fields
 */
export function registerFields(fields) {
  for (const [name, spec] of Object.entries(fields)) {
    if (name in FIELDS) throw new Error(`URL field '${name}' is already registered`);
    if (!["string", "strings", "bool", "float", "int", "ints", "enum", "range"].includes(spec.kind)) {
      throw new Error(`URL field '${name}' has an unknown kind '${spec.kind}'`);
    }
    const { default: def = null, ...rest } = spec;
    FIELDS[name] = { max: spec.kind === "ints" ? 4096 : undefined, ...rest };
    DEFAULTS_TABLE[name] = Array.isArray(def) ? Object.freeze([...def]) : def;
    FIELD_NAMES.push(name);
  }
}

const INT = /^-?\d+$/;
const FLOAT = /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/;

/** A fresh state with every default, overridden by `patch`. */
export function makeState(patch = {}) {
  const s = {};
  for (const k of FIELD_NAMES) {
    const v = k in patch ? patch[k] : DEFAULTS[k];
    s[k] = Array.isArray(v) ? [...v] : v;
  }
  for (const k of Object.keys(patch)) {
    if (!(k in FIELDS)) throw new Error(`makeState: '${k}' is not a field of the scenario`);
  }
  return s;
}

function parseField(name, raw) {
  const f = FIELDS[name];
  const bad = (why) => ({ error: `${name} '${raw}' ${why}` });
  if (f.kind === "string") return raw === "" ? { value: null } : { value: raw };
  if (f.kind === "strings") return { value: [...new Set(raw.split(",").filter((m) => m !== ""))] };
  if (f.kind === "enum") {
    return f.values.includes(raw) ? { value: raw } : bad(`is not one of ${f.values.join(", ")}`);
  }
  if (f.kind === "range") {
    if (raw === "") return { value: null };
    const m = /^(\d+)-(\d+)$/.exec(raw);
    if (!m || Number(m[2]) < Number(m[1])) return bad("is not a range of steps FIRST-LAST (first <= last)");
    return { value: [Number(m[1]), Number(m[2])] };
  }
  if (f.kind === "bool") {
    if (["on", "true", "1"].includes(raw)) return { value: true };
    if (["off", "false", "0", ""].includes(raw)) return { value: false };
    return bad("is not on or off");
  }
  if (f.kind === "float") {
    if (!FLOAT.test(raw)) return bad("is not a number");
    const v = Number(raw);
    return Number.isFinite(v) ? { value: v === 0 ? 0 : v } : bad("is not a finite number");
  }
  if (f.kind === "int") {
    if (raw === "") return { value: null };
    if (!INT.test(raw)) return bad("is not a whole number");
    const v = Number(raw);
    if (f.min !== undefined && v < f.min) return bad(`is below the minimum ${f.min}`);
    if (f.max !== undefined && v > f.max) return bad(`is above the maximum ${f.max}`);
    return { value: v };
  }
  // ints: a comma-separated set of cell ids
  if (raw === "") return { value: [] };
  const parts = raw.split(",");
  const badPart = parts.find((p) => !/^\d+$/.test(p));
  if (badPart !== undefined) return bad(`has '${badPart}', which is not a cell number (0, 1, 2, ...)`);
  if (parts.length > f.max) return bad(`has ${parts.length} cells; at most ${f.max} are allowed`);
  return { value: normaliseCells(parts.map(Number)) };
}

/** Sorted unique non-negative integers. */
export function normaliseCells(cells) {
  return [...new Set(cells)].sort((a, b) => a - b);
}

/**
 * Parse a query string ("?a=1&b=2" or "a=1&b=2") into a state.
 * @returns {{state: object, errors: string[]}} errors say which value was bad and what was used.
 */
export function parse(query) {
  const params = new URLSearchParams(query.startsWith("?") ? query.slice(1) : query);
  const patch = {};
  const errors = [];
  for (const [name, raw] of params) {
    if (!(name in FIELDS)) continue; // unknown keys: ignore, so older links keep opening
    const r = parseField(name, raw);
    if (r.error) {
      const def = FIELDS[name].unset ?? JSON.stringify(DEFAULTS[name]);
      errors.push(`${r.error}; using the default ${def}`);
    } else if (!(FIELDS[name].kind === "int" && r.value === null && DEFAULTS[name] !== null)) {
      patch[name] = r.value;
    }
  }
  const state = makeState(patch);
  if ((state.start === null) !== (state.end === null) || (state.start !== null && state.end < state.start)) {
    errors.push(`brush start '${state.start}' / end '${state.end}' is not a range start <= end; the brush is cleared`);
    state.start = null;
    state.end = null;
  }
  if (state.max_len !== null && state.max_len < state.min_len) {
    errors.push(`max_len ${state.max_len} is below min_len ${state.min_len}; max_len is cleared`);
    state.max_len = null;
  }
  // a brush without its cells: the select has to run (see the top of this file)
  if (!params.has("cells") && state.start !== null && state.end !== null) state.cells = null;
  return { state, errors };
}

function encodeValue(v, kind) {
  if (kind === "range") return `${v[0]}-${v[1]}`;
  if (Array.isArray(v)) return v.map((x) => encodeValue(x)).join(",");
  if (typeof v === "boolean") return v ? "on" : "off";
  // commas separate list items; keep them readable instead of %2C
  return encodeURIComponent(String(v)).replace(/%2C/gi, ",");
}

/** The query string (without "?") of a state. Every set field is written, defaults too. */
export function serialize(state) {
  const parts = [];
  for (const name of FIELD_NAMES) {
    const v = state[name];
    if (v === null || v === undefined) continue;
    parts.push(`${name}=${encodeValue(v, FIELDS[name].kind)}`);
  }
  return parts.join("&");
}

/** Deep equality of two states (the property parse(serialize(s)) == s is tested with it). */
export function equal(a, b) {
  return FIELD_NAMES.every((k) => {
    const x = a[k];
    const y = b[k];
    if (Array.isArray(x) || Array.isArray(y)) {
      return Array.isArray(x) && Array.isArray(y) && x.length === y.length && x.every((v, i) => v === y[i]);
    }
    return x === y;
  });
}

/** The selected cells after manual edits: (selected ∪ added) \ removed. */
export function applyEdits(selected, added, removed) {
  const out = new Set([...selected, ...added]);
  for (const c of removed) out.delete(c);
  return normaliseCells([...out]);
}

/**
 * Fit a state to a data set (DatasetSummary): an unknown source, a position past the end,
 * unknown meta tracks or cells beyond the source's count are replaced, and each change is
 * reported. @returns {{state: object, errors: string[]}} (state is the input when all fits)
 */
export function fitToDataset(state, dataset) {
  const patch = {};
  const errors = [];
  const ids = dataset.sources.map((x) => x.id);
  if (!ids.includes(state.source)) {
    if (state.source !== null) {
      errors.push(`source '${state.source}' is not in data set '${dataset.id}'; it has ${ids.join(", ")}. Showing ${ids[0]}.`);
    }
    patch.source = ids[0];
  }
  if (state.pos > dataset.length - 1) {
    errors.push(`pos ${state.pos} is past the end of '${dataset.id}' (0..${dataset.length - 1}); showing the last step.`);
    patch.pos = dataset.length - 1;
  }
  if (state.end !== null && state.end > dataset.length - 1) {
    errors.push(`brush ${state.start}..${state.end} ends past the end of '${dataset.id}' (0..${dataset.length - 1}); the brush is cleared.`);
    patch.start = null;
    patch.end = null;
  }
  const metaIds = dataset.meta.map((m) => m.id);
  const unknown = state.meta.filter((m) => !metaIds.includes(m));
  if (unknown.length) {
    errors.push(`meta track ${unknown.map((m) => `'${m}'`).join(", ")} is not in '${dataset.id}'; it has ${metaIds.join(", ") || "none"}.`);
    patch.meta = state.meta.filter((m) => metaIds.includes(m));
  }
  if (state.map !== null && state.map !== "count" && !metaIds.includes(state.map)) {
    errors.push(`map '${state.map}' is neither "count" nor a meta track of '${dataset.id}'; nothing is mapped.`);
    patch.map = null;
  }
  if (state.mark !== null && state.mark[1] > dataset.length - 1) {
    errors.push(`mark ${state.mark[0]}-${state.mark[1]} ends past the end of '${dataset.id}' (0..${dataset.length - 1}); it is cleared.`);
    patch.mark = null;
  }
  const D = dataset.sources.find((x) => x.id === (patch.source ?? state.source)).shape[1];
  const bad = [...new Set([...(state.cells ?? []), ...state.added, ...state.removed])].filter((c) => c >= D);
  if (bad.length) {
    errors.push(`cells ${bad.join(", ")} are out of range; this source has ${D} cells (0..${D - 1}).`);
    for (const k of ["cells", "added", "removed"]) patch[k] = state[k] === null ? null : state[k].filter((c) => c < D);
  }
  return { state: errors.length || "source" in patch ? { ...state, ...patch } : state, errors };
}
