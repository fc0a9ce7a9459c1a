"""Quick, Draw! files to a model trained one epoch, its MAP@3 and a balanced submission.

Runs on a CPU in about a minute (and unchanged on a GPU):
``python examples/train.py [--out DIR] [--n 20000]``.
"""
import argparse

import torch
from torch import nn

import rasterfast
from rasterfast.data import ShardDataset, ShardLoader


def main():
    """Build, train one epoch, score and write the submission."""
    # (a function under the __main__ guard: big builds start worker processes, which
    # import this script again)
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="rasterfast-example")
    ap.add_argument("--n", type=int, default=20_000)
    args = ap.parse_args()

    # 1. Synthetic Kaggle-layout CSVs (Kaggle's own files go the same way) to 32 px shards:
    #    train, val (5% by a hash of the key_id) and test (the Kaggle test file).
    files = rasterfast.synth(f"{args.out}/input", args.n, test=args.n // 10, progress=False)
    shards = f"{args.out}/shards"
    rasterfast.build([f for f in files if f.name != "test_solution.csv"], shards, "gray", size=32,
                     progress=False)

    # 2. One epoch; batches arrive on the device as normalised floats.
    device = "cuda" if torch.cuda.is_available() else "cpu"
    train = ShardDataset(shards, "train", batch_size=128, seed=0)
    model = nn.Sequential(
        *[m for i, o in ((1, 32), (32, 64), (64, 128))
          for m in (nn.Conv2d(i, o, 3, padding=1), nn.BatchNorm2d(o), nn.ReLU(), nn.MaxPool2d(2))],
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(128, train.num_classes)).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    for batch in ShardLoader(train, device=device, to_float=True):
        loss = nn.functional.cross_entropy(model(batch["images"]), batch["labels"])
        opt.zero_grad()
        loss.backward()
        opt.step()


    @torch.no_grad()
    def predict(split):
        """Scores, labels and key_ids of a split, in stored order (copied out of the ring)."""
        model.eval()
        ds = ShardDataset(shards, split, batch_size=512, shuffle=False, return_key_ids=True)
        out = [(model(b["images"]).float().cpu(), b["labels"].cpu(), b["key_ids"].clone())
               for b in ShardLoader(ds, device=device, to_float=True)]
        return [torch.cat(c) for c in zip(*out, strict=True)]


    # 3. Validation MAP@3, plain and balanced; the test split to a balanced submission.
    scores, labels, _ = predict("val")
    plain = rasterfast.map_at_k(labels, scores.topk(3).indices)
    balanced = rasterfast.map_at_k(labels, rasterfast.balance_predictions(scores).topk(3).indices)
    print(f"val MAP@3 {plain:.4f} after one epoch, balanced: {balanced:.4f}")
    scores, _, key_ids = predict("test")
    rasterfast.write_submission(f"{args.out}/submission.csv", key_ids, words=train.words,
                                scores=scores, balance=True)
    print(f"wrote {args.out}/submission.csv ({len(key_ids)} drawings)")


if __name__ == "__main__":
    main()
