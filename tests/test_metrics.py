"""map_at_k against Kaggle's apk and the real test solution; write_submission round trip."""

import csv

import numpy as np
import pytest

from rasterfast.metrics import balance_predictions, map_at_k, write_submission


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


# -- balance_predictions (issue 15) -----------------------------------------------------------
def _biased(n_per, classes, seed, strength=2.0, bias_sd=1.0):
    """A balanced test set (n_per drawings per class) scored by a model with per-class bias."""
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(classes), n_per)
    rng.shuffle(labels)
    logits = rng.normal(0, 1, (len(labels), classes))
    logits[np.arange(len(labels)), labels] += strength
    logits += rng.normal(0, bias_sd, classes)  # some words predicted far too often
    return labels, logits


def _map3(labels, scores):
    return map_at_k(labels, np.argsort(-np.asarray(scores), axis=1, kind="stable")[:, :3])


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_balance_raises_map3_of_a_biased_model(seed, dtype):
    labels, logits = _biased(100, 40, seed)
    logits = logits.astype(dtype)
    before = np.bincount(logits.argmax(1), minlength=40)
    assert before.max() > 200  # the bias makes a few words dominate
    out = balance_predictions(logits)
    assert out.dtype == dtype and out.shape == logits.shape
    assert np.bincount(out.argmax(1), minlength=40).max() <= 101  # 1% tolerance
    assert _map3(labels, out) > _map3(labels, logits) + 0.05
    # one offset per class: within a column the order of drawings is unchanged
    diff = out - logits
    np.testing.assert_allclose(diff, np.broadcast_to(diff[0], diff.shape), atol=1e-5)
    assert diff.max() <= 1e-6  # every class lowered or kept


def test_balance_leaves_balanced_predictions_unchanged():
    rng = np.random.default_rng(3)
    scores = rng.normal(0, 1, (300, 30))
    scores[np.arange(300), np.repeat(np.arange(30), 10)] += 10  # top-1: 10 per class
    out = balance_predictions(scores)
    assert np.array_equal(out, scores) and out is not scores
    # and within the cap of a non-uniform expectation
    freq = np.bincount(np.repeat(np.arange(30), 10), minlength=30) + 1.0
    assert np.array_equal(balance_predictions(scores, freq), scores)


def test_balance_follows_expected_frequencies():
    labels, logits = _biased(60, 10, 4)
    freq = np.array([0.0, 1, 1, 1, 2, 2, 1, 1, 0.5, 0.5])
    out = balance_predictions(logits, freq)
    counts = np.bincount(out.argmax(1), minlength=10)
    cap = np.ceil(freq / freq.sum() * len(labels) * 1.01 - 1e-9)
    assert (counts <= cap).all() and counts[0] == 0


def test_balance_probs_multiplies():
    labels, logits = _biased(80, 20, 5)
    p = np.exp(logits - logits.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    out = balance_predictions(p, kind="probs")
    assert out.min() >= 0
    ratio = out / p  # one factor in (0, 1] per class
    np.testing.assert_allclose(ratio, np.broadcast_to(ratio[0], ratio.shape), rtol=1e-9)
    assert ratio.max() <= 1 + 1e-12
    assert np.bincount(out.argmax(1), minlength=20).max() <= 81
    assert _map3(labels, out) > _map3(labels, p)


def test_balance_torch_in_torch_out():
    torch = pytest.importorskip("torch")
    labels, logits = _biased(50, 20, 6)
    t = torch.from_numpy(logits.astype(np.float32))
    out = balance_predictions(t)
    assert isinstance(out, torch.Tensor) and out.dtype == torch.float32
    np.testing.assert_array_equal(out.numpy(), balance_predictions(logits.astype(np.float32)))


def test_balance_warns_when_offsets_cannot_split_identical_rows():
    # identical rows cannot be split by a per-class offset: the counts never even out
    scores = np.tile([[2.0, 1.0]], (10, 1))
    with pytest.warns(RuntimeWarning, match="still uneven after max_iter=50"):
        balance_predictions(scores, max_iter=50)


@pytest.mark.parametrize("args, kw, match", [
    ((np.zeros((4, 3), np.int64),), {}, "floats"),
    ((np.zeros(4),), {}, r"\(n, classes\)"),
    ((np.zeros((4, 1)),), {}, r"\(n, classes\)"),
    ((np.array([[0.0, np.nan]]),), {}, "finite"),
    ((np.zeros((4, 3)),), {"frequencies": [1, 1]}, "one value per class"),
    ((np.zeros((4, 3)),), {"frequencies": [1, -1, 1]}, "non-negative"),
    ((np.zeros((4, 3)),), {"frequencies": [0, 0, 0]}, "not all 0"),
    ((np.zeros((4, 3)),), {"kind": "softmax"}, r"kind must be one of \['logits', 'probs'\]"),
    ((-np.ones((4, 3)),), {"kind": "probs"}, "non-negative scores"),
    ((np.zeros((4, 3)),), {"max_iter": -1}, "max_iter"),
])
def test_balance_refuses_bad_input(args, kw, match):
    with pytest.raises(ValueError, match=match):
        balance_predictions(*args, **kw)


def test_submission_from_scores_balanced(tmp_path):
    labels, logits = _biased(30, 6, 7)
    words = [f"w {i}" for i in range(6)]
    key_ids = np.arange(len(labels)) + 10
    out = tmp_path / "s.csv"
    write_submission(out, key_ids, words=words, scores=logits, balance=True)
    rows = [line.split(",") for line in out.read_text().splitlines()[1:]]
    top = np.array([[words.index(w.replace("_", " ")) for w in r[1].split(" ")] for r in rows])
    want = np.argsort(-balance_predictions(logits), axis=1, kind="stable")[:, :3]
    assert np.array_equal(top, want)
    assert np.bincount(top[:, 0], minlength=6).max() <= 31
    write_submission(out, key_ids, words=words, scores=logits)  # unbalanced: plain top 3
    rows = [line.split(",") for line in out.read_text().splitlines()[1:]]
    top = np.array([[words.index(w.replace("_", " ")) for w in r[1].split(" ")] for r in rows])
    assert np.array_equal(top, np.argsort(-logits, axis=1, kind="stable")[:, :3])
    with pytest.raises(ValueError, match="balance=True needs scores"):
        write_submission(out, key_ids, top, words, balance=True)
    with pytest.raises(ValueError, match="exactly one of"):
        write_submission(out, key_ids, top, words, scores=logits)


def test_balance_tolerance_zero_is_exact_when_there_is_slack():
    # 37 drawings per class expected, caps sum to n: exact counts, found within the steps
    labels, logits = _biased(37, 8, 8)
    out = balance_predictions(logits, tolerance=0.0, max_iter=20000)
    assert np.array_equal(np.bincount(out.argmax(1), minlength=8), np.full(8, 37))
    with pytest.raises(ValueError, match="tolerance"):
        balance_predictions(logits, tolerance=1.5)


def test_balance_float16_scores():
    labels, logits = _biased(40, 10, 9)
    half = balance_predictions(logits.astype(np.float16))
    assert half.dtype == np.float16 and half.shape == logits.shape
    assert _map3(labels, half.astype(np.float64)) > _map3(labels, logits)
