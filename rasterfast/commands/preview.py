"""``rasterfast preview``: a contact sheet of drawings rendered with a recipe, as PNG."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

HELP = """\
Render the first drawings of the inputs with a recipe and write them as one PNG grid,
each tile with its word underneath: a look at a recipe before a full build. Inputs are
anything `rasterfast build` reads (Kaggle CSVs, Google ndjson or .bin; plain, .gz, .zst,
.zip; files, directories or globs, local or at fsspec URLs such as s3://, https://);
drawings are taken evenly from the inputs, in file order. One-channel recipes show as
gray, three-channel ones as RGB (channel 0 red).

Given a finished shard directory (one holding manifest.json) instead, it shows the stored
images themselves, as training will see them: --split picks the split (default train),
--pick first|low-entropy|high-entropy which drawings (the first rows, or the extremes of
sketch entropy, where scribbles and near-empty drawings gather). With --recipe, --size or
--line-width, or for a `build --no-images` directory, the drawings are drawn from its
stroke store instead, as StrokeDataset would (any recipe the stored drawings allow).

examples:
  rasterfast preview train_simplified/cat.csv train_simplified/dog.csv --recipe beluga \\
      --size 64 --out beluga.png
  rasterfast preview train_raw/ --recipe time3 --n 100 --cols 10 --out time3.png
  rasterfast preview --list-recipes
  rasterfast preview shards64 --split val --pick high-entropy --out odd.png
  rasterfast preview shards64 --recipe beluga --size 128 --out beluga128.png
  rasterfast preview train_simplified/cat.csv --augment default --variants 8 --out aug.png
  rasterfast preview shards64 --augment '{"rotation": 15, "stroke_drop": 0.2}' --n 4 --out a.png

With --augment (a named augmentation: default, none; a JSON file or JSON text of an
Augment config or of some of its fields), each of the --n drawings (default 8) gets a
row: the drawing as stored, then --variants (default 8) augmentations of it, those of
epochs 0, 1, ... with seed 0, as StrokeDataset(augment=...) draws them in training.
"""


PICKS = ("first", "low-entropy", "high-entropy")


def register(sub) -> None:
    """Add the ``preview`` subcommand to ``sub``."""
    p = sub.add_parser("preview", help="a PNG grid of drawings rendered with a recipe",
                       description=HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("inputs", nargs="*", metavar="INPUT",
                   help="input files, directories or globs (local, or fsspec URLs)")
    p.add_argument("--recipe", metavar="R",
                   help="preset name (see --list-recipes), or a JSON file holding a recipe "
                        "config or a build's manifest.json; default gray")
    p.add_argument("--split", metavar="SPLIT",
                   help="with a shard directory: the split to show (default train)")
    p.add_argument("--pick", choices=PICKS, metavar="HOW",
                   help="with a shard directory: which drawings, " + ", ".join(PICKS) +
                        " (default first)")
    p.add_argument("--size", type=int, metavar="S", help="image size in pixels, 16-512 "
                   "(default: 64, or the JSON recipe's)")
    p.add_argument("--line-width", type=float, metavar="W",
                   help="stroke width in 256-px units (default: the recipe's)")
    p.add_argument("--out", metavar="PNG", help="the PNG file to write")
    p.add_argument("--n", type=int, help="drawings to show (default 64, 8 with --augment)")
    p.add_argument("--cols", type=int, default=8, help="tiles per row (default 8)")
    p.add_argument("--zoom", type=int, metavar="K",
                   help="draw each pixel K x K (default: enough for 64-px tiles)")
    p.add_argument("--augment", metavar="A",
                   help="show each drawing augmented --variants ways: a name (default, none), "
                        "a JSON file or JSON text of an Augment config")
    p.add_argument("--variants", type=int, metavar="V",
                   help="with --augment: augmentations per drawing, 1-64 (default 8)")
    p.add_argument("--list-recipes", action="store_true",
                   help="list the recipe presets and exit")
    p.set_defaults(func=run)


def _recipe(args):
    from ..recipe import PRESETS, Recipe

    spec = args.recipe or "gray"
    overrides = {} if args.line_width is None else {"line_width": args.line_width}
    if spec in PRESETS:
        return Recipe.preset(spec, **({"size": args.size} if args.size is not None else {}),
                             **overrides)
    path = Path(spec)
    if not path.is_file():
        raise ValueError(f"--recipe must be a preset ({', '.join(PRESETS)}) or a JSON file, "
                         f"got {spec!r}")
    try:
        config = json.loads(path.read_text())
    except ValueError as err:
        raise ValueError(f"--recipe {spec}: not valid JSON: {err}") from err
    if isinstance(config, dict) and isinstance(config.get("recipe"), dict):
        config = config["recipe"]                     # a build's manifest.json
    recipe = Recipe.from_config(config)
    if args.size is not None:
        overrides["size"] = args.size
    return recipe.replace(**overrides) if overrides else recipe


def _augment_spec(spec: str):
    """The Augment of ``--augment``: a preset name, a JSON file, or JSON text."""
    from ..augment import AUGMENT_PRESETS, Augment, as_augment

    if spec in AUGMENT_PRESETS or spec.lstrip().startswith("{"):
        return as_augment(spec)
    path = Path(spec)
    if not path.is_file():
        raise ValueError(f"--augment must be a name ({', '.join(AUGMENT_PRESETS)}), a JSON "
                         f"file or JSON text, got {spec!r}")
    try:
        config = json.loads(path.read_text())
    except ValueError as err:
        raise ValueError(f"--augment {spec}: not valid JSON: {err}") from err
    if not isinstance(config, dict):
        raise ValueError(f"--augment {spec}: expected a JSON object, got "
                         f"{type(config).__name__}")
    return Augment.from_config(config) if "id" in config else as_augment(config)


def _variants(batch, recipe, aug, variants: int, labels):
    """Per drawing: the drawing as given, then ``variants`` augmentations (epochs 0, 1, ...)."""
    import numpy as np

    from ..augment import augment
    from ..render import render

    n = len(batch)
    tiles = [render(batch, recipe)]
    for epoch in range(variants):
        tiles.append(render(augment(batch, aug, seed=0, epoch=epoch), recipe))
    images = np.stack(tiles, axis=1).reshape(n * (variants + 1), *tiles[0].shape[1:])
    names = [name for label in labels for name in [label] + [f"e{e}" for e in range(variants)]]
    return images, names


def _read(inputs, n: int):
    """Up to ``n`` drawings, an even share from each input, one batch per input."""
    from ..batch import StrokeBatch
    from ..readers import ReadContext, find_sources, read_source

    sources = find_sources(inputs)
    share = -(-n // len(sources))
    ctx = ReadContext(on_error="skip")
    out, total = [], 0
    for src in sources:
        parts, got = [], 0
        reader = read_source(src, ctx)
        try:
            for batch in reader:
                if len(batch):
                    parts.append(batch)
                    got += len(batch)
                if got >= share or total + got >= n:
                    break
        finally:
            reader.close()
        if parts:
            batch = StrokeBatch.concat(parts)
            keep = min(len(batch), share, n - total)
            out.append((src.name, batch.take(range(keep))))
            total += keep
        if total >= n:
            break
    return out, ctx.n_rejects


def _fit(name, batch, recipe):
    """The batch in the form ``recipe`` draws from, or a clear error."""
    from ..encoders import CHANNELS

    timed = [c for c in recipe.channels if CHANNELS[c].needs_time]
    if timed and not batch.has_time:
        raise ValueError(f"{name}: recipe channels {timed} need raw drawings (with times), "
                         f"but this input holds {batch.kind} ones")
    if recipe.geometry == "simplified" and batch.kind == "raw":
        try:
            from ..simplify import simplify
        except ImportError:
            raise ValueError(f"{name}: the recipe draws simplified drawings and this input "
                             "holds raw ones, which needs rasterfast.simplify (not in this "
                             "installation); give simplified inputs") from None
        batch = simplify(batch)
    return batch


def _shard_dir(inputs) -> Path | None:
    """The shard directory when the only input is one (it holds manifest.json)."""
    if len(inputs) == 1 and Path(inputs[0]).is_dir() \
            and (Path(inputs[0]) / "manifest.json").is_file():
        return Path(inputs[0])
    return None


def _from_shards(args, root: Path):
    """Images and labels of up to ``args.n`` stored drawings of one split, and a summary."""
    import numpy as np
    import pyarrow as pa

    from ..format import Reader

    reader = Reader(root)
    redraw = args.recipe is not None or args.size is not None or args.line_width is not None \
        or args.augment is not None
    if redraw and not reader.has_strokes:
        raise ValueError(f"{root} holds images only (no stroke store): its images are already "
                         f"drawn, so --recipe/--size/--line-width/--augment do not apply")
    recipe = None
    if redraw or not reader.has_images:   # draw from the stroke store, as StrokeDataset does
        from ..recipe import Recipe
        from ..store import check_recipe

        if args.recipe is None:   # the build's recipe, with --size / --line-width if given
            recipe = Recipe.from_config(reader.manifest.recipe)
            changes = {k: v for k, v in (("size", args.size), ("line_width", args.line_width))
                       if v is not None}
            recipe = recipe.replace(**changes) if changes else recipe
        else:
            recipe = _recipe(args)
        check_recipe(recipe, reader.stroke_kind, reader.stroke_times, root)
    split = args.split or "train"
    if split not in reader.splits:
        raise ValueError(f"{root} has no split {split!r}; it has {', '.join(reader.splits)}")
    total = reader.manifest.count(split)
    if total == 0:
        raise ValueError(f"split {split!r} of {root} holds no drawings")
    pick = args.pick or "first"
    if pick == "first":
        # only the shards that hold the first n rows
        counts = np.cumsum(reader.counts(split))
        last = int(np.searchsorted(counts, min(args.n, total)))
        meta = pa.concat_tables([reader.meta(split, i, ["word", "key_id"])
                                 for i in range(last + 1)])
        rows = np.arange(min(args.n, total))
    else:
        meta = reader.meta(split, columns=["word", "key_id", "entropy"])
        ent = meta.column("entropy").to_numpy(zero_copy_only=False).astype(np.float64)
        # NaN (entropy not computed) sorts last either way
        if np.isnan(ent).all():
            raise ValueError(f"--pick {pick} needs the images' entropy, which {root} does not "
                             f"have (a --no-images build); use --pick first")
        key = np.nan_to_num(ent if pick == "low-entropy" else -ent, nan=np.inf)
        rows = np.argsort(key, kind="stable")[:args.n]
    chosen = meta.take(pa.array(rows))
    labels = [w if w else f"#{k}" for w, k in zip(chosen.column("word").to_pylist(),
                                                   chosen.column("key_id").to_pylist(),
                                                   strict=True)]
    if recipe is None:
        images = reader.gather(split, rows)     # any row order works
    else:
        from ..render import render

        batch = reader.strokes(split).gather(rows)
        if args.augment is not None:
            # the key_ids the StrokeDataset seeds each drawing's augmentation with
            batch.key_id = np.asarray(chosen.column("key_id").fill_null(0).to_numpy(),
                                      np.uint64)
            images, labels = _variants(batch, recipe, _augment_spec(args.augment),
                                       args.variants, labels)
        else:
            images = render(batch, recipe)
    channels = reader.manifest.recipe.get("channels", []) if recipe is None else recipe.channels
    source = "" if recipe is None else ", drawn from the stroke store"
    if args.augment is not None:
        source += f", each as stored then augmented {args.variants} ways"
    desc = (f"{len(rows)} of {total:,} {split} drawings ({pick}) from {root}{source}, channels "
            f"{', '.join(channels)} at {images.shape[-1]} px")
    return images, labels, desc


def run(args) -> int:
    """Write the contact sheet (or list the presets); return the exit status."""
    import numpy as np

    from ..preview import contact_sheet, write_png
    from ..recipe import Recipe
    from ..render import render

    if args.list_recipes:
        for name, desc in Recipe.presets().items():
            r = Recipe.preset(name)
            print(f"{name:<15} {', '.join(r.channels)} ({r.needs})\n{'':<15} {desc}")
        return 0
    if not args.inputs:
        raise ValueError("give at least one INPUT (or --list-recipes)")
    if not args.out:
        raise ValueError("--out PNG is required")
    if args.augment is None and args.variants is not None:
        raise ValueError("--variants applies with --augment")
    if args.augment is not None:
        args.variants = 8 if args.variants is None else args.variants
        args.n = 8 if args.n is None else args.n
        args.cols = args.variants + 1
    args.n = 64 if args.n is None else args.n
    for name, v, lo, hi in (("--n", args.n, 1, 10_000), ("--cols", args.cols, 1, 1000),
                            ("--zoom", args.zoom, 1, 16), ("--variants", args.variants, 1, 64)):
        if v is not None and not lo <= v <= hi:
            raise ValueError(f"{name} must be {lo}-{hi}, got {v}")
    root = _shard_dir(args.inputs)
    if root is not None:
        images, labels, desc = _from_shards(args, root)
        zoom = args.zoom or max(1, 64 // images.shape[-1])
        sheet = contact_sheet(images, labels, cols=args.cols, zoom=zoom)
        write_png(args.out, sheet)
        print(f"wrote {args.out}: {desc}, {sheet.shape[1]}x{sheet.shape[0]} px")
        return 0
    if args.split is not None or args.pick is not None:
        raise ValueError("--split and --pick apply to a shard directory (one holding "
                         "manifest.json); the inputs given are drawing files")
    recipe = _recipe(args)
    batches, rejects = _read(args.inputs, args.n)
    if not batches:
        raise ValueError("the inputs hold no readable drawings")
    images, labels = [], []
    aug = None if args.augment is None else _augment_spec(args.augment)
    for name, batch in batches:
        names = [w if w else f"#{k}" for w, k in zip(batch.word, batch.key_id, strict=True)]
        if aug is None:
            images.append(render(_fit(name, batch, recipe), recipe))
        else:
            tiles, names = _variants(_fit(name, batch, recipe), recipe, aug, args.variants, names)
            images.append(tiles)
        labels += names
    images = np.concatenate(images)
    zoom = args.zoom or max(1, 64 // recipe.size)
    sheet = contact_sheet(images, labels, cols=args.cols, zoom=zoom)
    write_png(args.out, sheet)
    skipped = f"; {rejects} unreadable drawings skipped" if rejects else ""
    what = f"{len(images)} drawings" if aug is None else \
        f"{len(images) // (args.variants + 1)} drawings x (1 + {args.variants} augmented)"
    print(f"wrote {args.out}: {what}, recipe {args.recipe or 'gray'} at {recipe.size} px "
          f"({', '.join(recipe.channels)}), {sheet.shape[1]}x{sheet.shape[0]} px{skipped}",
          file=sys.stdout)
    return 0
