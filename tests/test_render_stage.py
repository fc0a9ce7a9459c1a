"""Render tasks reuse the buckets the previous task of their process prepared (consecutive
tasks share their end buckets; small inputs make buckets of several tasks): the shards are
those of tasks that read every bucket themselves, and the reads are fewer."""

import pytest

from rasterfast.pipeline import build, render_stage


@pytest.mark.parametrize("recipe", ["time3", "gray"])
def test_reused_buckets_give_the_same_shards(tmp_path, data_dir, monkeypatch, recipe):
    # one bucket per split kept for the next task (the splits' tasks interleave)
    files = sorted((data_dir / "kaggle" / "train_raw").iterdir())[:10]
    reads = []
    real_read_groups = render_stage.read_groups

    def counting_read_groups(groups, *a, **kw):
        reads.append(len(groups))
        return real_read_groups(groups, *a, **kw)

    monkeypatch.setattr(render_stage, "read_groups", counting_read_groups)
    manifests = {}
    default = render_stage._RECENT_BUCKETS_PER_TASK
    for most in (default, 0):   # 0: every task reads its buckets
        monkeypatch.setattr(render_stage, "_RECENT_BUCKETS_PER_TASK", most)
        render_stage._RECENT_BUCKETS.clear()
        reads.clear()
        manifests[most] = build(files, tmp_path / f"{recipe}{most}", recipe, size=16,
                                shard_size=20, task_size=40, bucket_size=4096,
                                val_fraction=0.1, scheduler="threads", workers=1,
                                progress=False)
        manifests[most].reads = len(reads)
    cached, fresh = manifests[default], manifests[0]
    assert cached.count("train") > 100   # several tasks of 40 in one bucket
    for split in ("train", "val"):
        assert [s.to_json() for s in cached.shards(split)] == \
            [s.to_json() for s in fresh.shards(split)]
    assert cached.reads < fresh.reads / 2, (cached.reads, fresh.reads)
