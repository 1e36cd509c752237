"""The arithmetic of comment themes, on normalized embedding vectors (numpy and scipy
only): the nearest theme of each comment, threshold clustering of the comments left
over, centroids, the adjusted Rand index that measures a clustering against labels, and
vectors to and from bytes."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

Vectors = NDArray[np.float32]

#: A comment joins the nearest theme when its cosine similarity to the theme's centroid
#: is at least this. Both thresholds were chosen on tests/analytics/data/themes_labelled.csv
#: (benchmarks/themes.py): comments on one topic are only 0.2 to 0.4 similar on average
#: with all-MiniLM-L6-v2, a centroid is nearer to its comments than they are to each other.
ASSIGN_SIMILARITY = 0.3
#: Clustering joins two groups while the mean cosine similarity between their comments is
#: at least this (average linkage).
CLUSTER_SIMILARITY = 0.2
#: A cluster becomes a theme from this many comments on.
MIN_THEME_SIZE = 3


def to_bytes(vectors: Vectors) -> list[bytes]:
    """Each vector as float16 bytes (half the size; cosines change by under 0.001)."""
    return [row.astype("<f2").tobytes() for row in vectors]


def from_bytes(blobs: Sequence[bytes], dimensions: int) -> Vectors:
    if not blobs:
        return np.zeros((0, dimensions), dtype=np.float32)
    joined = np.frombuffer(b"".join(blobs), dtype="<f2").reshape(len(blobs), -1)
    return joined.astype(np.float32)


def centroid_bytes(vector: Vectors) -> bytes:
    return vector.astype("<f4").tobytes()


def centroids_from_bytes(blobs: Sequence[bytes], dimensions: int) -> Vectors:
    if not blobs:
        return np.zeros((0, dimensions), dtype=np.float32)
    return np.frombuffer(b"".join(blobs), dtype="<f4").reshape(len(blobs), -1).copy()


def normalized(vectors: Vectors) -> Vectors:
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return (vectors / np.where(norms == 0, 1, norms)).astype(np.float32)


def nearest(
    vectors: Vectors, centroids: Vectors, *, threshold: float = ASSIGN_SIMILARITY
) -> NDArray[np.intp]:
    """The index of each vector's most similar centroid, or -1 when none reaches
    ``threshold``."""
    if len(vectors) == 0 or len(centroids) == 0:
        return np.full(len(vectors), -1, dtype=np.intp)
    similarity = vectors @ centroids.T
    best = np.argmax(similarity, axis=1)
    found = similarity[np.arange(len(vectors)), best] >= threshold
    return np.where(found, best, -1).astype(np.intp)


def cluster(
    vectors: Vectors,
    *,
    similarity: float = CLUSTER_SIMILARITY,
    min_size: int = MIN_THEME_SIZE,
) -> NDArray[np.intp]:
    """Average-linkage clustering cut where groups are less similar than ``similarity``:
    each vector's cluster number, clusters of at least ``min_size`` numbered from 0, the
    largest first; -1 for a vector in a smaller one."""
    count = len(vectors)
    if count < max(2, min_size):
        return np.full(count, -1, dtype=np.intp)
    from scipy.cluster.hierarchy import fcluster, linkage
    from scipy.spatial.distance import pdist

    distances = np.clip(pdist(vectors.astype(np.float64), "cosine"), 0, 2)
    tree = linkage(distances, method="average")
    raw = fcluster(tree, t=1 - similarity, criterion="distance")
    numbers, sizes = np.unique(raw, return_counts=True)
    big = sorted(
        (int(n) for n, s in zip(numbers, sizes, strict=True) if s >= min_size),
        key=lambda n: (-int(sizes[numbers == n][0]), n),
    )
    order = {n: i for i, n in enumerate(big)}
    return np.array([order.get(int(n), -1) for n in raw], dtype=np.intp)


def mean_direction(vectors: Vectors) -> Vectors:
    """The normalized mean of normalized vectors: the centroid of a theme."""
    return normalized(vectors.mean(axis=0))


def adjusted_rand_index(truth: Sequence[object], found: Sequence[object]) -> float:
    """Agreement of two labellings of the same items beyond chance (Hubert and Arabie):
    1 the same partition, about 0 a random one."""
    _, a = np.unique(np.asarray(list(truth), dtype=str), return_inverse=True)
    _, b = np.unique(np.asarray(list(found), dtype=str), return_inverse=True)
    table = np.zeros((a.max() + 1, b.max() + 1), dtype=np.int64)
    np.add.at(table, (a, b), 1)

    def pairs(counts: NDArray[np.int64]) -> float:
        return float((counts * (counts - 1) // 2).sum())

    both, rows, columns = pairs(table), pairs(table.sum(1)), pairs(table.sum(0))
    total = len(a) * (len(a) - 1) / 2
    expected = rows * columns / total if total else 0.0
    best = (rows + columns) / 2
    return 1.0 if best == expected else (both - expected) / (best - expected)
