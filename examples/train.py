"""From Quick, Draw! files to a model trained one epoch, its validation MAP@3 and a balanced
Kaggle submission. Runs on a CPU in about a minute (and on a GPU unchanged).

    python examples/train.py [--out DIR] [--n 20000]
"""
import argparse

import torch
from torch import nn

import rasterfast
from rasterfast.data import ShardDataset, ShardLoader

ap = argparse.ArgumentParser()
ap.add_argument("--out", default="rasterfast-example")
ap.add_argument("--n", type=int, default=20_000)
args = ap.parse_args()

# 1. Data: synthetic Kaggle-layout CSVs (use Kaggle's own files the same way), built into
#    32 px shards: train, val (5% by key_id hash) and test (the Kaggle test file).
files = rasterfast.synth(f"{args.out}/input", args.n, test=args.n // 10, progress=False)
shards = f"{args.out}/shards"
rasterfast.build([f for f in files if f.name != "test_solution.csv"], shards, "gray", size=32,
                 progress=False)

# 2. One epoch; batches arrive on the device as normalised floats.
device = "cuda" if torch.cuda.is_available() else "cpu"
train = ShardDataset(shards, "train", batch_size=128, seed=0)
block = lambda i, o: [nn.Conv2d(i, o, 3, padding=1), nn.BatchNorm2d(o), nn.ReLU(), nn.MaxPool2d(2)]
model = nn.Sequential(*block(1, 32), *block(32, 64), *block(64, 128), nn.AdaptiveAvgPool2d(1),
                      nn.Flatten(), nn.Linear(128, train.num_classes)).to(device)
opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
for batch in ShardLoader(train, device=device, to_float=True):
    loss = nn.functional.cross_entropy(model(batch["images"]), batch["labels"])
    opt.zero_grad()
    loss.backward()
    opt.step()


# 3. Scores of a split in stored order (a batch's tensors live until the next: copy out).
@torch.no_grad()
def scores(split):
    model.eval()
    ds = ShardDataset(shards, split, batch_size=512, shuffle=False, return_key_ids=True)
    out = [(model(b["images"]).float().cpu(), b["labels"].cpu(), b["key_ids"].clone())
           for b in ShardLoader(ds, device=device, to_float=True)]
    return [torch.cat(c) for c in zip(*out)]


s, labels, _ = scores("val")
top3 = s.topk(3, dim=1).indices
print(f"val MAP@3 {rasterfast.map_at_k(labels.numpy(), top3.numpy()):.4f} after one epoch "
      f"(loss {loss.item():.3f}); balanced: "
      f"{rasterfast.map_at_k(labels.numpy(), rasterfast.balance_predictions(s).topk(3).indices):.4f}")
s, _, key_ids = scores("test")
rasterfast.write_submission(f"{args.out}/submission.csv", key_ids.numpy(), words=train.words,
                            scores=s, balance=True)
print(f"wrote {args.out}/submission.csv ({len(key_ids)} drawings, balanced)")
