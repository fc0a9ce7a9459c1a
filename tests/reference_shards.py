"""Fixture shards for the format and dataset tests, and slow references for the epoch orders.

Every image carries its own row number (the row in the split, shards concatenated) in its
first four bytes (little-endian uint32), so a test can tell from the pixels alone which
drawing it got, and check that images, labels and key_ids travel together.
"""

from __future__ import annotations

import numpy as np

from rasterfast.format import Writer

KEY_BASE = 4_500_000_000_000_000  # Kaggle-like key_ids


def encode_rows(images: np.ndarray, rows: np.ndarray) -> None:
    flat = images.reshape(len(images), int(np.prod(images.shape[1:])))
    flat[:, :4] = rows.astype("<u4").view(np.uint8).reshape(-1, 4)


def decode_rows(images) -> np.ndarray:
    images = np.asarray(images)
    a = np.ascontiguousarray(images.reshape(len(images), int(np.prod(images.shape[1:])))[:, :4])
    return a.view("<u4").reshape(-1).astype(np.int64)


def make_shards(path, sizes, *, words=None, channels=1, size=4, seed=0, split="train",
                sort_labels=True, writer=None, finish=True):
    """Write shards of ``sizes`` drawings with random labels (sorted within each shard when
    ``sort_labels``: the worst case for a loader that does not shuffle within shards).

    Returns the truth per row of the split: labels, key_ids, recognized, entropy.
    """
    rng = np.random.default_rng(seed)
    words = words or [f"word {i}" for i in range(10)]
    if writer is None:
        writer = Writer(path, {"name": "test", "size": size}, words, channels=channels,
                        size=size, seed=seed)
    n_total = int(sum(sizes))
    labels = rng.integers(0, len(words), n_total).astype(np.int16)
    recognized = rng.integers(0, 2, n_total).astype(np.int8)
    entropy = rng.random(n_total).astype(np.float32) * 4
    key_ids = (KEY_BASE + rng.permutation(n_total * 3)[:n_total]).astype(np.uint64)
    start = 0
    for i, n in enumerate(sizes):
        sl = slice(start, start + n)
        if sort_labels:
            labels[sl] = np.sort(labels[sl])
        images = rng.integers(0, 256, (n, channels, size, size), dtype=np.uint8)
        encode_rows(images, np.arange(start, start + n))
        meta = {"key_id": key_ids[sl], "word": [words[j] for j in labels[sl]],
                "recognized": recognized[sl], "entropy": entropy[sl],
                "countrycode": ["US"] * n}
        writer.write_shard(split, i, images, meta)
        start += n
    if finish:
        writer.finish(inputs=[{"name": "synthetic", "read": n_total, "written": n_total}])
    return {"labels": labels, "key_ids": key_ids, "recognized": recognized, "entropy": entropy,
            "words": words}


def ref_window_order(sizes, seed, epoch, window, block=1):
    """The ``"window"`` order built the slow way: lists of (shard, row) per window."""
    sizes = [int(s) for s in sizes]
    offsets = np.concatenate([[0], np.cumsum(sizes)]).tolist()
    nonempty = [s for s, n in enumerate(sizes) if n]
    perm = [nonempty[i] for i in np.random.default_rng([seed, epoch, 0]).permutation(len(nonempty))]
    windows, cur, total = [], [], 0
    for s in perm:
        cur.append(s)
        total += sizes[s]
        if total >= window:
            windows.append(cur)
            cur, total = [], 0
    if cur:
        windows.append(cur)
    out = []
    for j, shards in enumerate(windows):
        if block == 1:
            members = [offsets[s] + r for s in shards for r in range(sizes[s])]
            for v in np.random.default_rng([seed, epoch, 1, j]).permutation(len(members)):
                out.append(members[v])
            continue
        shifts = np.random.default_rng([seed, epoch, 3, j]).integers(0, block, len(shards))
        blocks = []  # lists of flat indices, runs of `block` rows cut at shift + m * block
        for s, off in zip(shards, shifts.tolist(), strict=True):
            cur = []
            for r in range(sizes[s]):
                if cur and (r - off) % block == 0:
                    blocks.append(cur)
                    cur = []
                cur.append(offsets[s] + r)
            blocks.append(cur)
        for v in np.random.default_rng([seed, epoch, 1, j]).permutation(len(blocks)):
            out.extend(blocks[v])
    return np.array(out, np.int64)


def chi2_sf(x: float, df: int) -> float:
    """P(X >= x) for a chi-square variable with ``df`` degrees of freedom."""
    import torch

    return float(torch.special.gammaincc(torch.tensor(df / 2, dtype=torch.float64),
                                         torch.tensor(x / 2, dtype=torch.float64)))


def batch_word_chi2(label_batches, num_classes):
    """Chi-square test of independence of batch and word (a batches x words table).

    Under uniform random batches the statistic is about chi-square with
    ``(batches - 1) * (words - 1)`` degrees of freedom. Returns (statistic, df, p).
    """
    table = np.stack([np.bincount(b, minlength=num_classes) for b in label_batches]).astype(float)
    table = table[:, table.sum(0) > 0]
    expected = table.sum(1, keepdims=True) * table.sum(0, keepdims=True) / table.sum()
    stat = float(((table - expected) ** 2 / expected).sum())
    df = (table.shape[0] - 1) * (table.shape[1] - 1)
    return stat, df, chi2_sf(stat, df)
