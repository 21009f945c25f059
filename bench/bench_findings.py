"""LSTMVis's two case studies on built data sets, through the in-process API.

``--parens FOLDER...`` (§6.1, nesting depth): for the first ``--phrases`` depth-4 phrases
of the data set (an opening bracket to depth 4 and the digits after it), select the cells
on over the phrase (padding 1/1, or ``--pad``), match them, and count how many of the top
50 matches lie wholly at depth 4, per source and threshold. The demo's reference: 50/50.

``--english FOLDER...`` (§6.2, noun phrases): for the first ``--phrases`` noun chunks of
2-3 tokens in the first 1,000 steps (spaCy's ``noun_chunk`` track, ``B-NP``/``I-NP``), the
same select and match, scored as the share of the top-50 matches' steps that lie in a noun
chunk. A chunk counts as found at a share >= 0.8; per source and threshold the script
prints every chunk's share and how many were found, then the best per chunk over sources
and thresholds. The demo's reference: 9 of 10 chunks found (issue 15).

    .venv/bin/python bench/bench_findings.py --parens datasets/parens
    .venv/bin/python bench/bench_findings.py --english datasets/english
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import yaml

THRESHOLDS = "0.1,0.3,0.5"


def depth4_phrases(depth: np.ndarray, tokens: np.ndarray, vocab: list[str], offsets, count):
    """``(start, end)`` of the first ``count`` depth-4 runs that start with an opening bracket."""
    found, four = [], depth == 4
    starts = set(offsets[:-1].tolist())
    for t in np.flatnonzero(four & ~np.r_[False, four[:-1]]):
        end = t
        while end + 1 < len(depth) and four[end + 1] and end + 1 not in starts:
            end += 1
        if vocab[tokens[t]] == "(" and end > t:
            found.append((int(t), int(end)))
        if len(found) == count:
            break
    return found


def noun_chunks(iob: list[str], offsets, count: int, within: int, sizes=(2, 3)):
    """``(start, end)`` of the first ``count`` noun chunks of ``sizes`` tokens that start
    and end in the first ``within`` steps and do not cross a sequence boundary."""
    starts = set(np.asarray(offsets).tolist())
    found, t, T = [], 0, min(len(iob), within)
    while t < T and len(found) < count:
        if iob[t] != "B-NP":
            t += 1
            continue
        end = t
        while end + 1 < T and iob[end + 1] == "I-NP" and end + 1 not in starts:
            end += 1
        # a chunk cut off by ``within`` is not complete
        complete = end + 1 >= len(iob) or iob[end + 1] != "I-NP" or end + 1 in starts
        if complete and end - t + 1 in sizes:
            found.append((t, end))
        t = end + 1
    return found


class Api:
    """The data set's select and match through the in-process API (as the client asks)."""

    def __init__(self, folder: Path) -> None:
        from hiddenscope.server.api import create_app

        self.app = create_app([folder.parent])
        self.client = self.app.test_client(base_url="http://localhost")  # an allowed Host
        self.base = f"/api/v1/datasets/{folder.name}"

    def select_and_match(self, source, threshold, pad, start, end, limit=50):
        """The cells selected over ``start..end`` and the top ``limit`` matches of them."""
        q = f"source={source}&threshold={threshold}&pad_left={pad}&pad_right={pad}"
        sel = self._get(f"{self.base}/select?{q}&start={start}&end={end}")
        cells = sel["cells"]
        if not cells:
            return cells, []
        got = self._get(f"{self.base}/match?{q}&cells={','.join(map(str, cells))}&limit={limit}")
        return cells, got["matches"]

    def _get(self, url: str) -> dict:
        response = self.client.get(url)
        if response.status_code != 200:
            raise SystemExit(f"{url}: {response.status_code} {response.text[:300]}")
        return response.json()

    def close(self) -> None:
        self.app.catalog.close()


def evaluate(
    folder: Path,
    phrases: list[tuple[int, int]],
    score: Callable[[list[dict]], float],
    thresholds: list[float],
    pad: int,
    sources: list[str] | None = None,
) -> dict[tuple[str, float], list[float]]:
    """``{(source, threshold): [score of each phrase's top-50 matches]}``; a phrase that
    selects no cell scores 0."""
    config = yaml.safe_load((folder / "dataset.yml").read_text())
    sources = sources or [t["id"] for t in config["states"]["types"]]
    api = Api(folder)
    out = {}
    try:
        for source in sources:
            for threshold in thresholds:
                scores, cells = [], []
                for a, b in phrases:
                    ids, matches = api.select_and_match(source, threshold, pad, a, b)
                    cells.append(len(ids))
                    scores.append(score(matches) if matches else 0.0)
                out[source, threshold] = scores
                print(f"  {source:<16} threshold {threshold:<5} cells {cells}")
                print(f"  {'':<16} {'':<15} scores {[round(s, 2) for s in scores]}")
    finally:
        api.close()
    return out


def lstmvis_61(folder: Path, phrases: int, thresholds: list[float], pad: int):
    """§6.1 on a parens data set: per (source, threshold), top-50 matches wholly at depth 4."""
    import h5py

    labels = json.loads((folder / "labels" / "depth.json").read_text())
    vocab = json.loads((folder / "vocab.json").read_text())
    with h5py.File(folder / "data.h5", "r") as f:
        depth = np.array([int(str(labels[i]).split()[-1]) for i in f["meta/depth"][:]])
        tokens, offsets = f["tokens"][:], f["sequences"][:]
    chosen = depth4_phrases(depth, tokens, vocab, offsets, phrases)
    print(f"{folder.name} (§6.1): {len(tokens):,} steps, phrases {chosen}, load {_load()}")

    def at_depth4(matches):
        return sum(bool((depth[m["start"] : m["end"] + 1] == 4).all()) for m in matches)

    result = evaluate(folder, chosen, at_depth4, thresholds, pad)
    for (source, threshold), hits in result.items():
        print(f"  {source:<16} threshold {threshold:<5} mean {np.mean(hits):.1f}/50 at depth 4")
    return result


def lstmvis_62(folder: Path, phrases: int, thresholds: list[float], pad: int, within: int):
    """§6.2 on an english data set: per (source, threshold), each chunk's share of
    top-50 match steps inside noun chunks; a chunk is found at >= 0.8."""
    import h5py

    labels = json.loads((folder / "labels" / "noun_chunk.json").read_text())
    with h5py.File(folder / "data.h5", "r") as f:
        iob = [labels[i] for i in f["meta/noun_chunk"][:]]
        offsets = f["sequences"][:]
    in_chunk = np.isin(np.array(iob), ["B-NP", "I-NP"])
    chosen = noun_chunks(iob, offsets, phrases, within)
    print(f"{folder.name} (§6.2): {len(iob):,} steps, noun chunks {chosen}, load {_load()}")

    def share(matches):
        steps = np.concatenate([np.arange(m["start"], m["end"] + 1) for m in matches])
        return float(in_chunk[steps].mean())

    result = evaluate(folder, chosen, share, thresholds, pad)
    for (source, threshold), scores in result.items():
        found = sum(s >= 0.8 for s in scores)
        print(f"  {source:<16} threshold {threshold:<5} found {found}/{len(scores)}")
    best = np.max(np.array(list(result.values())), axis=0)
    print(
        f"  best per chunk over sources and thresholds: {[round(float(s), 2) for s in best]}, "
        f"found {int((best >= 0.8).sum())}/{len(best)}"
    )
    return result


def _load() -> str:
    return f"{os.getloadavg()[0]:.1f}"


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--parens", nargs="+", type=Path, default=[], help="built parens folders")
    p.add_argument("--english", nargs="+", type=Path, default=[], help="built english folders")
    p.add_argument("--phrases", type=int, help="phrases per data set (default 5 / 10)")
    p.add_argument("--pad", type=int, default=1, help="padding left and right (default 1)")
    p.add_argument("--thresholds", default=THRESHOLDS)
    p.add_argument("--within", type=int, default=1000, help="§6.2: chunks from these steps")
    a = p.parse_args(argv)
    if not a.parens and not a.english:
        p.error("give --parens and/or --english folders")
    thresholds = [float(x) for x in a.thresholds.split(",")]
    for folder in a.parens:
        lstmvis_61(folder.resolve(), a.phrases or 5, thresholds, a.pad)
    for folder in a.english:
        lstmvis_62(folder.resolve(), a.phrases or 10, thresholds, a.pad, a.within)


if __name__ == "__main__":
    main()
