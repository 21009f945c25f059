// One function per operationId of openapi.yaml. Each returns the parsed JSON or throws an
// ApiError carrying the server's problem+json detail; nothing here touches the DOM or URL.
// Requests in flight are tracked by their caller's loaders (loaders.js), not here.
// A long analysis answers 202 {state, percent, elapsed, key} while it runs in the background;
// request() asks the same URL again (Retry-After, 1 s) until the answer comes, telling the
// loader's `progress` "computing… N% (T s)", and stops as soon as its signal aborts (the
// panel closed or asked for something else).

// relative to this file (/client/api.js), so the app also works behind a path prefix
const BASE = new URL("../api/v1", import.meta.url).href;

/** An API failure: the problem+json fields, or a network failure described in `detail`. */
export class ApiError extends Error {
  constructor({ status = 0, title = "Request failed", detail = "", type = "about:blank" }, url) {
    super(detail || title);
    this.name = "ApiError";
    this.status = status;
    this.title = title;
    this.detail = detail || title;
    this.type = type;
    this.url = url;
  }
}

function queryOf(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v === null || v === undefined) continue;
    q.set(k, Array.isArray(v) ? v.join(",") : String(v));
  }
  const s = q.toString().replace(/%2C/gi, ",");
  return s ? `?${s}` : "";
}

async function problemOf(response, url) {
  const text = await response.text();
  try {
    const body = JSON.parse(text);
    if (body && typeof body === "object" && (body.detail || body.title)) {
      return new ApiError({ ...body, status: body.status || response.status }, url);
    }
  } catch {
    // not JSON: fall through and show the raw text
  }
  const detail = text.trim().slice(0, 300) || `${response.status} ${response.statusText}`;
  return new ApiError({ status: response.status, title: response.statusText, detail }, url);
}

/** Resolves after `ms`, or rejects with an AbortError as soon as `signal` aborts. */
function pause(ms, signal) {
  return new Promise((resolve, reject) => {
    const stop = () => {
      clearTimeout(timer);
      reject(new DOMException("the request was cancelled", "AbortError"));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", stop);
      resolve();
    }, ms);
    if (signal?.aborted) stop();
    else signal?.addEventListener("abort", stop, { once: true });
  });
}

/** The status text of a 202 JobRunning body: "computing… 42% (12 s)" (or "queued…"). */
export function jobText(job) {
  const what = job?.state === "queued" ? "queued…" : `computing… ${Math.floor(job?.percent ?? 0)}%`;
  return `${what} (${Math.round(job?.elapsed ?? 0)} s)`;
}

/**
 * GET (or `method`) BASE+path with params. {signal} cancels a request that a newer one
 * replaced (also between polls of a running analysis); {progress} is told the state of a
 * background analysis each time the server answers 202.
 */
export async function request(path, params = {}, { signal, method = "GET", progress } = {}) {
  const url = `${BASE}${path}${queryOf(params)}`;
  for (;;) {
    let response;
    try {
      response = await fetch(url, { method, signal, headers: { Accept: "application/json, application/problem+json" } });
    } catch (err) {
      if (err.name === "AbortError") throw err;
      throw new ApiError({ title: "Server unreachable", detail: `could not reach the server (${err.message}); is \`hiddenscope serve\` running?` }, url);
    }
    if (!response.ok) throw await problemOf(response, url);
    if (response.status !== 202) return await response.json();
    progress?.(jobText(await response.json()));
    const seconds = Number(response.headers.get("Retry-After"));
    await pause(1000 * (seconds > 0 ? Math.min(seconds, 10) : 1), signal);
  }
}

const enc = encodeURIComponent;

/** GET /datasets -> {datasets: [DatasetSummary]} */
export function listDatasets(opts) {
  return request("/datasets", {}, opts);
}

/** GET /datasets/{dataset} -> DatasetSummary */
export function getDataset(dataset, opts) {
  return request(`/datasets/${enc(dataset)}`, {}, opts);
}

/** GET /datasets/{dataset}/context?source&pos&left&right&cells&threshold&meta */
export function getContext(dataset, params, opts) {
  return request(`/datasets/${enc(dataset)}/context`, params, opts);
}

/** GET /datasets/{dataset}/select?source&start&end&threshold&pad_left&pad_right */
export function selectCells(dataset, params, opts) {
  return request(`/datasets/${enc(dataset)}/select`, params, opts);
}

/** GET /datasets/{dataset}/match?source&cells&threshold&pad_left&pad_right&min_overlap&min_len&max_len&limit&left&right&meta&summary */
export function matchCells(dataset, params, opts) {
  return request(`/datasets/${enc(dataset)}/match`, params, opts);
}

/** GET /datasets/{dataset}/search?q&regex&limit */
export function searchTokens(dataset, params, opts) {
  return request(`/datasets/${enc(dataset)}/search`, params, opts);
}

/** GET /datasets/{dataset}/cells/{cell}?source */
export function getCellStats(dataset, cell, params, opts) {
  return request(`/datasets/${enc(dataset)}/cells/${enc(cell)}`, params, opts);
}

/** GET /datasets/{dataset}/correlation?source&feature&method&limit -> {feature, method, n, cells: [{cell, score, p, n}]} */
export function getCorrelation(dataset, params, opts) {
  return request(`/datasets/${enc(dataset)}/correlation`, params, opts);
}

/** GET /datasets/{dataset}/cells/{cell}/top?source&limit&left&right -> {cell, windows} */
export function getCellTop(dataset, cell, params, opts) {
  return request(`/datasets/${enc(dataset)}/cells/${enc(cell)}/top`, params, opts);
}

/** GET /datasets/{dataset}/cells/{cell}/labels?source&limit -> {cell, labels: [{track, label, f1, sign, threshold, precision, recall, share, all_on_f1}]} */
export function getCellLabels(dataset, cell, params, opts) {
  return request(`/datasets/${enc(dataset)}/cells/${enc(cell)}/labels`, params, opts);
}

/** GET /datasets/{dataset}/cells/{cell}/words?source&limit&min_count -> {cell, positive, negative} */
export function getCellWords(dataset, cell, params, opts) {
  return request(`/datasets/${enc(dataset)}/cells/${enc(cell)}/words`, params, opts);
}

/** GET /datasets/{dataset}/projection?source&method&points&n&seed&meta -> {method, points: [{x, y, seq, pos, text}], explained, pca, meta} */
export function getProjection(dataset, params, opts) {
  return request(`/datasets/${enc(dataset)}/projection`, params, opts);
}

/** GET /datasets/{dataset}/coclusters?source&k&words&min_count&seed -> {cell_clusters, word_clusters, links, response} */
export function getCoclusters(dataset, params, opts) {
  return request(`/datasets/${enc(dataset)}/coclusters`, params, opts);
}

/** GET /datasets/{dataset}/align?source&cells&to_source&to_dataset&limit -> {pairs: [{cell, matches: [{cell, r}]}]} */
export function alignCells(dataset, params, opts) {
  return request(`/datasets/${enc(dataset)}/align`, params, opts);
}

/** GET /datasets/{dataset}/run?text&checkpoint&sources -> {tokens, token_ids, unknown, sources, output, impact, saliency, saliency_dims, variance, checkpoint, checkpoints} */
export function runModel(dataset, params, opts) {
  return request(`/datasets/${enc(dataset)}/run`, params, opts);
}

/** POST /rescan -> RescanResponse (look for data set folders again) */
export function rescanDatasets(opts) {
  return request("/rescan", {}, { ...opts, method: "POST" });
}
