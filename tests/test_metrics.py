"""map_at_k against Kaggle's apk and the real test solution; write_submission round trip."""

import csv

import numpy as np
import pytest

from rasterfast.metrics import map_at_k, write_submission


def apk_reference(actual, predicted, k=3):
    """Kaggle's ml_metrics.apk for one true label (the competition's scorer)."""
    predicted = list(predicted)[:k]
    score, hits = 0.0, 0.0
    for i, p in enumerate(predicted):
        if p in actual and p not in predicted[:i]:
            hits += 1.0
            score += hits / (i + 1.0)
    return score / min(len(actual), k)


@pytest.fixture(scope="module")
def solution(data_dir):
    with open(data_dir / "kaggle" / "test_solution.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    key_ids = np.array([int(r["key_id"]) for r in rows], np.int64)
    words_true = [r["word"] for r in rows]
    words = sorted(set(words_true))
    labels = np.array([words.index(w) for w in words_true])
    return key_ids, labels, words


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("m", [1, 3, 5])
def test_matches_kaggle_apk(seed, m):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 6, 500)
    top = rng.integers(0, 6, (500, m))  # with repeats, as a sloppy model would give
    pairs = zip(labels.tolist(), top.tolist(), strict=True)
    want = np.mean([apk_reference([a], p) for a, p in pairs])
    assert map_at_k(labels, top) == pytest.approx(want, abs=1e-12)


def test_real_solution_known_cases(solution):
    _, labels, words = solution
    n, k = len(labels), len(words)
    wrong = (labels + 1) % k
    wrong2 = (labels + 2) % k
    assert map_at_k(labels, np.stack([labels, wrong, wrong2], 1)) == 1.0
    assert map_at_k(labels, np.stack([wrong, labels, wrong2], 1)) == 0.5
    assert map_at_k(labels, np.stack([wrong, wrong2, labels], 1)) == pytest.approx(1 / 3)
    assert map_at_k(labels, np.stack([wrong, wrong2, (labels + 3) % k], 1)) == 0.0
    assert map_at_k(labels, np.stack([wrong, wrong2, wrong, labels], 1)) == 0.0  # 4th: no score
    # first third right at 1, second third at 2, the rest missed
    a, b = n // 3, 2 * n // 3
    top = np.stack([wrong, wrong2, (labels + 3) % k], 1)
    top[:a, 0] = labels[:a]
    top[a:b, 1] = labels[a:b]
    assert map_at_k(labels, top) == pytest.approx((a * 1 + (b - a) * 0.5) / n)
    # strings compare too
    w = np.array(words, object)
    assert map_at_k(w[labels], w[np.stack([wrong, labels], 1)]) == 0.5


def test_submission_round_trip_scores_one(solution, tmp_path):
    key_ids, labels, words = solution
    k = len(words)
    top = np.stack([labels, (labels + 1) % k, (labels + 2) % k], 1)
    out = tmp_path / "submission.csv"
    write_submission(out, key_ids, top, words)
    lines = out.read_text().splitlines()
    assert lines[0] == "key_id,word" and len(lines) == len(key_ids) + 1
    got = {}
    for line in lines[1:]:
        kid, preds = line.split(",")
        three = preds.split(" ")
        assert len(three) == 3 and all(" " not in p for p in three)
        got[int(kid)] = [p.replace("_", " ") for p in three]
    assert "The_Eiffel_Tower" in out.read_text()
    truth = np.array([words[i] for i in labels], object)
    preds = np.array([got[kid] for kid in key_ids.tolist()], object)
    assert map_at_k(truth, preds) == 1.0


@pytest.mark.parametrize("key_ids, top, match", [
    ([1, 1], [[0], [1]], "repeat"),
    ([1, 2], [[0], [5]], r"in \[0, 3\)"),
    ([1, 2], [[0, 1, 2, 0], [0, 1, 2, 0]], "1..3"),
    ([1, 2], [[0.0], [1.0]], "integers"),
])
def test_submission_refuses_bad_input(tmp_path, key_ids, top, match):
    with pytest.raises(ValueError, match=match):
        write_submission(tmp_path / "s.csv", key_ids, top, ["a", "b", "c d"])
    assert not list(tmp_path.iterdir())


def test_map_at_k_arguments():
    with pytest.raises(ValueError, match="shape|must be"):
        map_at_k([1, 2], [1, 2])
    with pytest.raises(ValueError, match="k must be"):
        map_at_k([1], [[1]], k=0)
