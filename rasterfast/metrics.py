"""Kaggle's score (MAP@3), prediction balancing and submissions for Quick, Draw! Doodles."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np

from .format.manifest import create_temp_for

__all__ = ["map_at_k", "balance_predictions", "write_submission"]

#: ``kind`` of :func:`balance_predictions`: how lowering a class's scores is applied.
BALANCE_KINDS = ("logits", "probs")


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


def write_submission(path, key_ids, top3_labels=None, words=None, *, scores=None,
                     balance: bool = False, frequencies=None) -> None:
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
        Indices into ``words``, best first. Give this or ``scores``.
    words : sequence of str
        The class list (``ShardDataset.words``).
    scores : array-like or torch.Tensor, shape (N, len(words)), optional
        Class scores instead of ``top3_labels``: the top 3 of each row is written.
    balance : bool
        Pass ``scores`` through :func:`balance_predictions` first (``frequencies`` as
        there; logits or log-probabilities). Only with ``scores``.
    frequencies : array-like, optional
        Of :func:`balance_predictions` (default uniform, as in Kaggle's test set).
    """
    if words is None:
        raise TypeError("write_submission needs words (the class list)")
    if (top3_labels is None) == (scores is None):
        raise ValueError("give exactly one of top3_labels (int indices, best first) and "
                         "scores (N, classes)")
    if balance and scores is None:
        raise ValueError("balance=True needs scores (N, classes), not top3_labels: the top "
                         "three alone cannot be re-balanced")
    if scores is not None:
        top3_labels = _top3(scores, len(words), balance, frequencies)
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


def _top3(scores, classes: int, balance: bool, frequencies) -> np.ndarray:
    """The three best classes of each row of ``scores``, best first (after balancing)."""
    if balance:
        scores = balance_predictions(scores, frequencies)
    if type(scores).__module__.split(".")[0] == "torch":
        scores = scores.detach().float().cpu().numpy()
    scores = np.asarray(scores)
    if scores.ndim != 2 or scores.shape[1] != classes:
        raise ValueError(f"scores must be (N, {classes}) (one column per word), got shape "
                         f"{scores.shape}")
    # three argmax passes over a copy: an argpartition of every row costs 10x more
    work = np.array(scores, dtype=np.float64 if scores.dtype == np.float64 else np.float32)
    rows = np.arange(len(work))
    top = np.empty((len(work), min(3, classes)), np.int64)
    for j in range(top.shape[1]):
        top[:, j] = work.argmax(axis=1)
        work[rows, top[:, j]] = -np.inf
    return top


def balance_predictions(scores, frequencies=None, *, kind: str = "logits",
                        tolerance: float = 0.01, max_iter: int | None = None):
    """Lower the scores of over-predicted classes until the top-1 counts match the expected.

    The Kaggle test set of Quick, Draw! Doodle Recognition holds the same number of
    drawings of every word, but a model's top-1 predictions do not: some words are
    predicted far more often than others. The 1st-place solution of the competition
    lowered the scores of the word predicted most often, step by step, until the counts
    evened out, and reported about +0.7% MAP@3 for every model (as summarised in
    issue 15). This function reaches the same end point quickly: each class gets one
    offset added to its scores, and the offsets are found in two phases.

    1. Proportional rounds (at most 12): every class's offset moves by
       ``-a * log(count / expected)`` (over-predicted classes down, under-predicted up,
       ``a`` a fifth of the scores' standard deviation, halved when a round makes the
       largest excess worse); this gets within a few drawings of the expected counts
       in about ten passes over the scores.
    2. The 1st-place procedure, with exact steps: take the class with the largest excess
       over its expected count and lower its offset by just enough for that excess to
       move to the drawings' next-best classes (the drawings it won by the smallest
       margins); repeat until no class is predicted more than
       ``ceil(frequency * n * (1 + tolerance))`` times. When the total excess stops
       falling (one-drawing excesses passed between full classes), the least step grows,
       as in the epsilon-scaling of auction algorithms (not with ``tolerance=0``).

    The offsets are shifted so that the largest is 0: every class is lowered or kept.

    Parameters
    ----------
    scores : array-like or torch.Tensor, shape (n, classes)
        Per-drawing class scores (numpy, anything ``np.asarray`` takes, or a torch tensor
        on any device).
    frequencies : array-like, shape (classes,), optional
        Expected share of each class in these drawings (non-negative, normalised to sum
        1); default uniform, as in the Kaggle test set.
    kind : {"logits", "probs"}
        ``"logits"`` (or log-probabilities): offsets are added to the scores. ``"probs"``
        (non-negative, e.g. an ensemble's averaged softmax): the scores are multiplied by
        ``exp(offset)``, i.e. the offsets act on ``log(p)``, as the 1st-place procedure
        multiplied probabilities.
    tolerance : float
        How far above its expected count a class may stay, as a share (default 1%: 297
        for 294 expected). ``0`` asks for exact counts; when the expected counts sum to
        exactly ``n`` (no slack at all), phase 2 then ends in a long tail of one-drawing
        moves between full classes (tens of thousands of steps for 340 classes, measured)
        for a change of MAP@3 in the 4th decimal.
    max_iter : int, optional
        Most steps of phase 2 (default ``100 * classes``); a ``RuntimeWarning`` says when
        the counts are still uneven after them.

    Returns
    -------
    numpy.ndarray or torch.Tensor
        The adjusted scores: same type, shape, dtype (and device) as ``scores``. Their
        row-wise argmax is the balanced top-1 (exactly for ``"logits"`` in float32 or
        float64, up to rounding for ``"probs"``); their top 3 is what to submit
        (``write_submission(..., scores=..., balance=True)``).

    Raises
    ------
    ValueError
        ``scores`` is not a finite 2-D float array (``"probs"``: with negative values),
        ``frequencies`` has the wrong length, negative or non-finite values, or sums
        to 0, or ``kind`` is unknown.

    Notes
    -----
    Predictions already within the expected counts are returned unchanged (a copy).
    Per-class offsets cannot split drawings whose scores are identical (or tied at a
    clipped zero probability): then the counts may not even out, and the warning says so.
    Cost: about a dozen passes over the scores plus steps of ``n / classes`` rows each;
    100,000 x 340 float32 scores from a biased model in well under a second on one core
    (``bench/bench_balance.py``, figures in ``bench/RESULTS.md``).

    Examples
    --------
    >>> s = np.array([[3.0, 1.0], [2.0, 1.0], [0.0, 1.0], [5.0, 1.0]])
    >>> s.argmax(1)  # class 0 predicted 3 times in 4, 2 expected
    array([0, 0, 1, 0])
    >>> balance_predictions(s, tolerance=0).argmax(1)  # the drawing it won by least moves
    array([0, 1, 1, 0])
    """
    if kind not in BALANCE_KINDS:
        raise ValueError(f"kind must be one of {list(BALANCE_KINDS)}, got {kind!r}")
    torch_in = type(scores).__module__.split(".")[0] == "torch"
    if torch_in:
        import torch

        if not scores.dtype.is_floating_point:
            raise ValueError(f"scores must be floats, got {scores.dtype}")
        work = scores.detach().to("cpu", torch.float64 if scores.dtype == torch.float64
                                  else torch.float32).numpy()
    else:
        scores = np.asarray(scores)
        if scores.dtype.kind != "f":
            raise ValueError(f"scores must be floats, got {scores.dtype}")
        work = scores if scores.dtype in (np.float32, np.float64) else \
            scores.astype(np.float32)
    if work.ndim != 2 or work.shape[0] == 0 or work.shape[1] < 2:
        raise ValueError(f"scores must be (n, classes) with n >= 1 and classes >= 2, got "
                         f"shape {tuple(work.shape)}")
    n, classes = work.shape
    if not np.isfinite(work).all():
        raise ValueError("scores must be finite (no NaN or inf)")
    if kind == "probs":
        if work.min() < 0:
            raise ValueError(f"kind='probs' needs non-negative scores, got a minimum of "
                             f"{work.min()} (pass kind='logits' for logits)")
        # offsets act on log(p); log(0) is clipped to the log of the smallest positive float
        work = np.log(np.maximum(work, np.finfo(work.dtype).tiny))
    if isinstance(tolerance, bool) or not isinstance(tolerance, (int, float)) or \
            not 0 <= tolerance < 1:
        raise ValueError(f"tolerance must be a number in [0, 1), got {tolerance!r}")
    expected, cap = _expected_counts(frequencies, n, classes, float(tolerance))
    if max_iter is None:
        max_iter = 100 * classes
    if isinstance(max_iter, bool) or not isinstance(max_iter, int) or max_iter < 0:
        raise ValueError(f"max_iter must be an int >= 0, got {max_iter!r}")
    offsets = _balance_offsets(work, expected, cap, max_iter, grow=tolerance > 0)
    if torch_in:
        off = torch.as_tensor(offsets, device=scores.device)
        if kind == "logits":
            return scores + off.to(scores.dtype)
        return scores * off.double().exp().to(scores.dtype)
    if kind == "logits":
        return scores + offsets.astype(scores.dtype)
    return scores * np.exp(offsets.astype(np.float64)).astype(scores.dtype)


def _expected_counts(frequencies, n: int, classes: int, tolerance: float = 0.0
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Expected top-1 counts ``frequency * n``, and the most allowed per class.

    The most allowed is ``ceil(frequency * n * (1 + tolerance))``.
    """
    if frequencies is None:
        freq = np.full(classes, 1.0 / classes)
    else:
        freq = np.asarray(frequencies, dtype=np.float64)
        if freq.shape != (classes,):
            raise ValueError(f"frequencies must have one value per class ({classes}), got "
                             f"shape {freq.shape}")
        if not np.isfinite(freq).all() or freq.min() < 0 or freq.sum() <= 0:
            raise ValueError("frequencies must be finite, non-negative and not all 0")
        freq = freq / freq.sum()
    expected = freq * n
    # the 1e-9 keeps an exact integer (n / classes) from rounding up by float error
    return expected, np.ceil(expected * (1 + tolerance) - 1e-9).astype(np.int64)


_ROUNDS = 12  # proportional rounds: ~10 reach a few drawings of excess (bench_balance)


def _balance_offsets(work: np.ndarray, expected: np.ndarray, cap: np.ndarray,
                     max_iter: int, grow: bool = True) -> np.ndarray:
    """Per-class offsets (in ``work.dtype``, largest 0) that balance ``work``.

    After them ``argmax(work + offsets)`` keeps every count within ``cap``.
    """
    n, classes = work.shape
    dt = work.dtype.type
    offsets = np.zeros(classes, work.dtype)
    buf = np.empty_like(work)
    # phase 1: proportional rounds, keeping the offsets with the smallest largest excess
    step = 0.2 * float(work[::max(1, n // 20000)].std()) or 1.0
    best, last = None, None
    for _ in range(_ROUNDS):
        np.add(work, offsets, out=buf)
        counts = np.bincount(buf.argmax(axis=1), minlength=classes)
        worst = int((counts - cap).max())
        if best is None or worst < best[0]:
            best = (worst, offsets.copy())
        if worst <= 0:
            break
        if last is not None and worst > last:
            step /= 2  # overshot: damp
        last = worst
        ratio = np.maximum(counts, 0.5) / np.maximum(expected, 0.5)
        offsets = offsets - (step * np.log(ratio)).astype(work.dtype)
    offsets = best[1] - best[1].max()
    del buf
    # phase 2: the 1st-place procedure with exact steps, on the rows of one class at a
    # time; the argmax is taken on work + offsets in work's dtype, as the result is, so
    # that the counts here are the counts of the returned scores
    pred = (work + offsets).argmax(axis=1)
    counts = np.bincount(pred, minlength=classes)
    floor = 1e-6 * (1.0 + float(np.abs(work).max()))  # a step that changes a float32 sum
    # Exact steps can end in a "price war": one-drawing excesses passed around between
    # full classes by ever smaller steps. When the total excess has not improved for
    # `classes` steps, the least step grows 4x (up to 5% of the scores' spread), as
    # epsilon-scaling does in auction algorithms; the best offsets seen are kept. Not
    # with tolerance 0 (`grow=False`): an overshoot there leaves a deficit nothing fills.
    eps, eps_max = floor, (max(floor, 0.05 * step / 0.2) if grow else floor)
    best_total, since, best_offsets = None, 0, offsets.copy()
    for _ in range(max_iter):
        excess = counts - cap
        c = int(excess.argmax())
        e = int(excess[c])
        if e <= 0:
            return offsets
        total = int(excess[excess > 0].sum())
        if best_total is None or total < best_total:
            best_total, since, best_offsets = total, 0, offsets.copy()
        else:
            since += 1
            if since >= classes:
                eps, since = min(eps * 4, eps_max), 0
        rows = np.flatnonzero(pred == c)
        sub = work[rows] + offsets
        own = sub[:, c].astype(np.float64)
        sub[:, c] = -np.inf
        margin = own - sub.max(axis=1)
        if e >= len(rows):  # an expected count of 0: every drawing leaves the class
            delta = float(margin.max()) + floor
        else:  # between the e-th and (e+1)-th smallest margins: e rows move
            lo, hi = np.partition(margin, [e - 1, e])[[e - 1, e]]
            delta = max((lo + hi) / 2, lo + eps)
        offsets[c] = dt(offsets[c] - delta)
        sub[:, c] = work[rows, c] + offsets[c]
        new = sub.argmax(axis=1)
        pred[rows] = new
        counts[c] -= int((new != c).sum())
        counts += np.bincount(new[new != c], minlength=classes)
    excess = counts - cap
    if excess.max() > 0:
        if best_total is not None and int(excess[excess > 0].sum()) > best_total:
            offsets = best_offsets
        warnings.warn(f"balance_predictions: counts still uneven after max_iter={max_iter} "
                      f"steps (largest excess {int(excess.max())} drawings, class "
                      f"{int(excess.argmax())}); pass a larger max_iter", RuntimeWarning,
                      stacklevel=3)
    return offsets
