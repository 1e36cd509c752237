"""Comment themes: their quality against the labelled set (tests/analytics/data/
themes_labelled.csv, 207 comments in 9 topics) and their speed on this machine.

Quality: the adjusted Rand index (ARI) and purity of the themes against the topics, with
the thresholds of ``promoter.analytics.theme_clusters``, clustering all the comments at
once, and the way the server works: clustering the first 60% (shuffled), then letting
the rest join their nearest theme one round at a time. A comment in no theme counts as a
group of its own (the ARI is not flattered by what is left out). Also over a grid of
clustering thresholds, to show where the chosen one stands.

Speed: loading the model, embedding (comments/s, batches of 64), assigning comments to
the nearest of 50 themes (comments/s), and clustering 4,000 comments (the most a round
clusters).

    PYTHONPATH=src .venv/bin/python benchmarks/themes.py [--repeat 3] [--threads 2]
"""

from __future__ import annotations

import argparse
import csv
import time
from pathlib import Path

import numpy as np

from promoter.analytics.embedding import Embedder
from promoter.analytics.theme_clusters import (
    CLUSTER_SIMILARITY,
    adjusted_rand_index,
    cluster,
    mean_direction,
    nearest,
)

LABELLED = Path(__file__).parent.parent / "tests" / "analytics" / "data" / "themes_labelled.csv"


def spread(found: np.ndarray) -> list[int]:
    """Cluster numbers, a comment in none its own group."""
    return [int(n) if n >= 0 else -1 - i for i, n in enumerate(found)]


def purity(topics: list[str], found: np.ndarray) -> float:
    """Share of the themed comments whose theme's most common topic is theirs."""
    kept = [(t, int(n)) for t, n in zip(topics, found, strict=True) if n >= 0]
    if not kept:
        return 0.0
    right = 0
    for number in {n for _, n in kept}:
        members = [t for t, n in kept if n == number]
        right += max(members.count(t) for t in set(members))
    return right / len(kept)


def incremental(vectors: np.ndarray, seed: int) -> np.ndarray:
    order = np.random.default_rng(seed).permutation(len(vectors))
    cut = len(order) * 6 // 10
    first, rest = order[:cut], order[cut:]
    early = cluster(vectors[first])
    centroids = np.vstack(
        [mean_direction(vectors[first][early == n]) for n in range(early.max() + 1)]
    )
    found = np.full(len(vectors), -1, dtype=np.intp)
    found[first] = early
    found[rest] = nearest(vectors[rest], centroids)
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    with LABELLED.open(encoding="utf-8") as f:
        rows = [(row["topic"], row["comment"]) for row in csv.DictReader(f)]
    topics, texts = [t for t, _ in rows], [c for _, c in rows]
    embedder = Embedder(threads=args.threads)
    started = time.perf_counter()
    embedder.embed(["warm up"])
    print(f"model loaded (imports included) in {time.perf_counter() - started:.1f} s")
    rates = []
    for _ in range(args.repeat):
        started = time.perf_counter()
        vectors = embedder.embed(texts)
        rates.append(len(texts) / (time.perf_counter() - started))
    print(
        f"embedding: {max(rates):.0f} comments/s "
        f"(best of {args.repeat}; median {np.median(rates):.0f})"
    )

    found = cluster(vectors)
    print(
        f"all at once (similarity {CLUSTER_SIMILARITY}): "
        f"ARI {adjusted_rand_index(topics, spread(found)):.3f}, "
        f"purity {purity(topics, found):.3f}, {found.max() + 1} themes, "
        f"{(found < 0).sum()} of {len(topics)} comments in none"
    )
    scores = []
    for seed in range(5):
        joined = incremental(vectors, seed)
        scores.append(
            (
                adjusted_rand_index(topics, spread(joined)),
                purity(topics, joined),
                (joined < 0).sum(),
            )
        )
    ari, pure, left = np.mean(scores, axis=0)
    print(
        f"60% clustered, 40% joining (5 shuffles): ARI {ari:.3f} "
        f"(lowest {min(s[0] for s in scores):.3f}), purity {pure:.3f}, {left:.0f} in none"
    )
    for similarity in (0.15, 0.18, 0.2, 0.22, 0.25, 0.3):
        grid = cluster(vectors, similarity=similarity)
        print(
            f"  similarity {similarity:.2f}: ARI {adjusted_rand_index(topics, spread(grid)):.3f}, "
            f"{grid.max() + 1} themes, {(grid < 0).sum()} in none"
        )

    rng = np.random.default_rng(1)
    many = rng.normal(size=(20_000, vectors.shape[1])).astype(np.float32)
    many /= np.linalg.norm(many, axis=1, keepdims=True)
    centroids = many[:50]
    started = time.perf_counter()
    nearest(many, centroids)
    print(
        "assignment to the nearest of 50 themes: "
        f"{len(many) / (time.perf_counter() - started):,.0f} comments/s"
    )
    pool = np.vstack([vectors] * 20)[:4000] + rng.normal(0, 0.01, (4000, vectors.shape[1])).astype(
        np.float32
    )
    started = time.perf_counter()
    cluster(pool / np.linalg.norm(pool, axis=1, keepdims=True))
    print(f"clustering 4,000 comments: {time.perf_counter() - started:.2f} s")


if __name__ == "__main__":
    main()
