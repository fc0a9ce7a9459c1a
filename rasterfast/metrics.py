"""Kaggle's score (MAP@3) and submission file for the Quick, Draw! Doodle Recognition challenge."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .format.manifest import create_temp_for

__all__ = ["map_at_k", "write_submission"]


def map_at_k(labels, top_k, k: int = 3) -> float:
    """Mean average precision at ``k`` with one true label per drawing (Kaggle's metric).

    A drawing scores ``1 / (i + 1)`` when its label is first found at column ``i < k`` of
    its predictions, else 0 (a repeated prediction does not score twice, as in Kaggle's
    ``apk``); the result is the mean over drawings.

    Parameters
    ----------
    labels : array-like, shape (N,)
        True labels: ints or strings (anything comparable with ``==``).
    top_k : array-like, shape (N, m)
        Predictions, best first; only the first ``k`` columns count.
    k : int
        Kaggle uses 3.

    Examples
    --------
    >>> map_at_k([0, 1, 2, 3], [[0, 9, 9], [9, 1, 9], [9, 9, 2], [9, 9, 9]])
    0.4583333333333333
    """
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be a positive int, got {k!r}")
    labels = np.asarray(labels)
    top_k = np.asarray(top_k)
    if labels.ndim != 1 or top_k.ndim != 2 or len(top_k) != len(labels):
        raise ValueError(f"labels must be (N,) and top_k (N, m); got {labels.shape} and "
                         f"{top_k.shape}")
    if len(labels) == 0:
        raise ValueError("map_at_k of no drawings is undefined")
    hits = top_k[:, :k] == labels[:, None]
    found = hits.any(axis=1)
    first = hits.argmax(axis=1)
    return float(np.where(found, 1.0 / (first + 1), 0.0).mean())


def write_submission(path, key_ids, top3_labels, words) -> None:
    """Write Kaggle's ``key_id,word`` submission: three words per row, best first.

    Words are separated by spaces, so spaces inside a word become ``_``
    (``The Eiffel Tower`` -> ``The_Eiffel_Tower``), as the competition expects.

    Parameters
    ----------
    path : str or Path
        Written under a temporary name and renamed when complete.
    key_ids : array-like of int, shape (N,)
        Distinct (a repeated key_id, e.g. from padded batches, is an error).
    top3_labels : array-like of int, shape (N, m), 1 <= m <= 3
        Indices into ``words``, best first.
    words : sequence of str
        The class list (``ShardDataset.words``).
    """
    key_ids = np.asarray(key_ids)
    top = np.asarray(top3_labels)
    if key_ids.ndim != 1 or key_ids.dtype.kind not in "iu":
        raise ValueError(f"key_ids must be a 1-D integer array, got {key_ids.dtype} "
                         f"{key_ids.shape}")
    if top.ndim != 2 or len(top) != len(key_ids) or not 1 <= top.shape[1] <= 3 or \
            top.dtype.kind not in "iu":
        raise ValueError(f"top3_labels must be integers of shape ({len(key_ids)}, 1..3), got "
                         f"{top.dtype} {top.shape} (Kaggle scores 3 words: pass top_k[:, :3])")
    names = np.array([str(w).replace(" ", "_") for w in words], dtype=object)
    if top.size and (top.min() < 0 or top.max() >= len(names)):
        raise ValueError(f"top3_labels must be in [0, {len(names)}) (the word list), got "
                         f"{top.min()}..{top.max()}")
    uniq, counts = np.unique(key_ids, return_counts=True)
    if (counts > 1).any():
        raise ValueError(f"{int((counts > 1).sum())} key_ids repeat (e.g. {uniq[counts > 1][0]}): "
                         "drop padded drawings before writing a submission")
    cols = names[top]
    lines = ["key_id,word"]
    lines += [f"{kid},{' '.join(row)}"
              for kid, row in zip(key_ids.tolist(), cols.tolist(), strict=True)]
    path = Path(path)
    fd, tmp = create_temp_for(path)      # the mode of a plain open(), not mkstemp's 0o600
    try:
        with os.fdopen(fd, "w", newline="") as fh:
            fh.write("\n".join(lines) + "\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
