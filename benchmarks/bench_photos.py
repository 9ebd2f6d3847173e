"""Active learning on real-photo stand-ins: pretrained features vs thumbnails (issue 15, item 6).

Run: nice -n 5 python3 benchmarks/bench_photos.py [--quick]

Data (``photo_standins.py``, images shipped inside scikit-image / scikit-learn):
textures (brick / grass / gravel crops, 3 classes, 360 items), textures5 (with
moon and cell, 5 classes, 600 items), faces (lfw_subset, face / not a face,
200 items, 25×25 grey), photo crops (9 source photos, 450 colour items).
Each set is split in half, stratified (``random_state=0``): pool and test.

Features: ``pretrained`` (EfficientNet-Lite0, 1280-d, onnxruntime),
``grey16`` (the importers' default grey 16×16 thumbnail, 256-d), ``colour16``
(RGB 16×16 thumbnail, 768-d). Model: the app's default for arrays,
``LogisticRegression(max_iter=2000)``.

1. Accuracy at 2 / 5 / 10 labels per class: labels drawn at random per class
   from the pool (20 draws), model fitted, scored on the test half; mean.
2. Labels to 90 %: :func:`superintendent_core.learning.simulation.simulate`
   (the app's Learner) with the default strategy, margin and random, initial
   10, batch 5, budget up to 150 (or the pool), seeds 0..2; the first number of
   labels where the mean curve (over seeds) reaches 90 %. "never" = not within
   the budget.

Prints both tables and saves ``benchmarks/results/photos_table.csv``.

``--default-path``: instead, each set goes through the importers' default
(``images_from_files(files)`` on PNG bytes, ``featurize="auto"``: the extractor rule) and
the accuracy at 5 labels per class (20 draws) is printed with the extractor the rule picked,
beside the 8×8 digits (which must keep their pixels).

``--float16``: instead, what storing the pretrained 1280-d features as float16
(``settings.feature_dtype="float16"``) changes, float32 vs float16 side by side on the same
draws: the features go through a folder project's float16 feature set and back (what the model
reads; checked equal to ``X.astype(float16).astype(float32)``), then (1) test accuracy at 2 / 5 /
10 labels per class, 20 draws x 5 splits (paired: mean difference and its spread, and the share
of draws whose test predictions are identical), (2) learning curves of ``simulate`` (default
strategy and margin, seeds 0..4, initial 10, batch 5, budget 150 or the pool): the largest
accuracy difference at any point and the mean absolute one, beside the peer: float32 against
float32 run with another seed (how far two runs drift apart anyway), (3) the order one retrain gives
(Learner, 5 labels per class, default strategy and margin): how many of the first 100 items
differ, and how many of the items labelled by the 100th label of the simulation differ.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import photo_standins  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
SHOTS = (2, 5, 10)
STRATEGIES = {"default": None, "margin": "margin", "random": "random"}


def colour_thumbnail(image, size: int = 16) -> np.ndarray:
    from PIL import Image, ImageOps

    rgb = ImageOps.exif_transpose(image).convert("RGB").resize((size, size), Image.Resampling.BILINEAR)
    return np.asarray(rgb, dtype=np.float32).reshape(-1) / 255.0


def featurise(images) -> dict[str, np.ndarray]:
    from superintendent_core.data.images import thumbnail_features
    from superintendent_core.features import image_features

    start = time.perf_counter()
    pretrained = image_features(images, "efficientnet_lite0")
    seconds = time.perf_counter() - start
    print(f"    pretrained features: {len(images)} images in {seconds:.1f} s "
          f"({1000 * seconds / len(images):.1f} ms/image, chunks of 16)")
    return {
        "pretrained": pretrained,
        "grey16": np.vstack([thumbnail_features(im) for im in images]),
        "colour16": np.vstack([colour_thumbnail(im) for im in images]),
    }


def few_shot(X_pool, y_pool, X_test, y_test, shots: int, draws: int) -> float:
    from sklearn.base import clone

    from superintendent_core.learning.models import make_model

    model = make_model("logistic_regression")
    rng = np.random.default_rng(0)
    scores = []
    for _ in range(draws):
        idx = np.concatenate([rng.choice(np.flatnonzero(y_pool == c), shots, replace=False) for c in np.unique(y_pool)])
        fitted = clone(model).fit(X_pool[idx], y_pool[idx])
        scores.append(float((fitted.predict(X_test) == y_test).mean()))
    return float(np.mean(scores))


def labels_to(curves: list[pd.DataFrame], threshold: float = 0.90) -> int | None:
    mean = pd.concat(curves).groupby("n_labels", as_index=False)["accuracy"].mean()
    reached = mean.loc[mean["accuracy"] >= threshold - 1e-12, "n_labels"]
    return int(reached.iloc[0]) if len(reached) else None


def default_path() -> None:
    import io

    from PIL import Image
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    from superintendent_core.data import images_from_files

    digits = load_digits()
    sets = {
        "textures": lambda: photo_standins.textures(120),
        "textures5": lambda: photo_standins.textures(120, classes=photo_standins.MORE_TEXTURES),
        "faces": photo_standins.faces,
        "photo crops": lambda: photo_standins.photo_crops(50),
        "digits 8x8": lambda: ([Image.fromarray((d * 15).astype(np.uint8), mode="L") for d in digits.images],
                               digits.target.astype(str)),
    }
    for set_name, make in sets.items():
        images, labels = make()
        files = []
        for k, im in enumerate(images):
            buf = io.BytesIO()
            im.save(buf, format="PNG")
            files.append((f"{k:05d}.png", buf.getvalue()))
        start = time.perf_counter()
        result = images_from_files(files)
        seconds = time.perf_counter() - start
        X = result.batch.features
        X_pool, X_test, y_pool, y_test = train_test_split(X, np.asarray(labels), test_size=0.5,
                                                          stratify=labels, random_state=0)
        with threadpool_limits(1):
            acc = few_shot(X_pool, y_pool, X_test, y_test, 5, 20)
        print(f"{set_name}: {len(files)} images through images_from_files(files) -> extractor "
              f"{result.extractor!r} ({X.shape[1]} features, {1000 * seconds / len(files):.1f} ms/image); "
              f"accuracy at 5 labels per class {100 * acc:.1f} %")


def run(quick: bool) -> pd.DataFrame:
    from sklearn.model_selection import train_test_split

    from superintendent_core.learning.models import make_model
    from superintendent_core.learning.simulation import simulate

    sets = {
        "textures": lambda: photo_standins.textures(60 if quick else 120),
        "textures5": lambda: photo_standins.textures(60 if quick else 120, classes=photo_standins.MORE_TEXTURES),
        "faces": photo_standins.faces,
        "photo crops": lambda: photo_standins.photo_crops(25 if quick else 50),
    }
    seeds = (0,) if quick else (0, 1, 2)
    draws = 5 if quick else 20
    rows = []
    for set_name, make in sets.items():
        images, labels = make()
        print(f"\n{set_name}: {len(images)} images, {len(set(labels))} classes")
        feats = featurise(images)
        for feat_name, X in feats.items():
            X_pool, X_test, y_pool, y_test = train_test_split(X, labels, test_size=0.5, stratify=labels, random_state=0)
            row = {"set": set_name, "features": feat_name}
            with threadpool_limits(1):
                for shots in SHOTS:
                    row[f"acc@{shots}/class"] = few_shot(X_pool, y_pool, X_test, y_test, shots, draws)
                budget = min(150, len(y_pool))
                for strat_name, strategy in STRATEGIES.items():
                    start = time.perf_counter()
                    curves = [
                        simulate(X_pool, y_pool, X_test, y_test, make_model("logistic_regression"), strategy=strategy,
                                 initial=10, batch_size=5, budget=budget, random_state=seed).curve
                        for seed in seeds
                    ]
                    row[f"to90 {strat_name}"] = labels_to(curves)
                    row[f"s {strat_name}"] = round(time.perf_counter() - start, 1)
            rows.append(row)
            print("   ", feat_name, {k: (round(v, 3) if isinstance(v, float) else v) for k, v in row.items()
                                    if k not in ("set", "features")})
    return pd.DataFrame(rows)


def print_table(tab: pd.DataFrame) -> None:
    print("\nTest accuracy at k labels per class (mean of random draws), and labels to 90 % test accuracy")
    print("(mean curve over seeds; initial 10, batch 5; 'never' = not within the budget of 150 or the pool)")
    head = (f"{'set':<12} {'features':<10} {'@2/cl':>6} {'@5/cl':>6} {'@10/cl':>6}   "
            f"{'default':>7} {'margin':>7} {'random':>7}")
    print(head)
    print("-" * len(head))
    for r in tab.to_dict("records"):
        def f(v):
            return "never" if v is None or (isinstance(v, float) and np.isnan(v)) else str(int(v))

        print(f"{r['set']:<12} {r['features']:<10} {r['acc@2/class']:>6.1%} {r['acc@5/class']:>6.1%} "
              f"{r['acc@10/class']:>6.1%}   {f(r['to90 default']):>7} {f(r['to90 margin']):>7} {f(r['to90 random']):>7}")


def _through_float16_set(X: np.ndarray) -> np.ndarray:
    """``X`` written to a folder project's float16 feature set and read back (what the model sees)."""
    import tempfile

    from superintendent_core.store import ItemBatch, ProjectSettings
    from superintendent_core.store.folder import FolderStore

    with tempfile.TemporaryDirectory() as tmp:
        n = len(X)
        with FolderStore(Path(tmp) / "p", settings=ProjectSettings(classes=("a", "b"), feature_dtype="float16")) as st:
            st.add_items(ItemBatch(names=tuple(f"{i}.png" for i in range(n)), kind="image",
                                   features=np.zeros((n, 4), dtype=np.uint8), image_shape=(2, 2)))
            st.write_feature_set("efficientnet_lite0", np.arange(n), X)
            assert st.feature_set_dtypes() == {"efficientnet_lite0": "float16"}
            got = st._feature_set_rows("efficientnet_lite0", np.arange(n))
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, X.astype(np.float16).astype(np.float32))
    return got


def _hard_blobs() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    centres = rng.normal(0, 0.12, (6, 1280))
    y = rng.integers(0, 6, 600)
    return (centres[y] + rng.normal(0, 1, (600, 1280))).astype(np.float32), y.astype(str)


def float16_effect(quick: bool, only: str | None = None) -> None:
    from sklearn.base import clone
    from sklearn.model_selection import train_test_split

    from superintendent_core.features import image_features
    from superintendent_core.learning.learner import Learner
    from superintendent_core.learning.models import make_model
    from superintendent_core.learning.simulation import simulate

    sets = {
        "textures": lambda: photo_standins.textures(60 if quick else 120),
        "textures5": lambda: photo_standins.textures(60 if quick else 120, classes=photo_standins.MORE_TEXTURES),
        "faces": photo_standins.faces,
        "photo crops": lambda: photo_standins.photo_crops(25 if quick else 50),
        # not photos: 6 overlapping Gaussian blobs in 1280-d, |x| like the embeddings', about 60 % at
        # 10 labels per class — a set far from the ceiling, where rounding could show if it mattered
        "blobs 1280-d": _hard_blobs,
    }
    sets = {k: v for k, v in sets.items() if only is None or only in k}
    splits = (0,) if quick else (0, 1, 2, 3, 4)
    draws = 5 if quick else 20
    seeds = (0,) if quick else (0, 1, 2, 3, 4)
    rows = []
    for set_name, make in sets.items():
        images, labels = make()
        labels = np.asarray(labels)
        if isinstance(images, np.ndarray):  # features already
            X32 = images.astype(np.float32)
        else:
            X32 = image_features(images, "efficientnet_lite0").astype(np.float32)
        X16 = _through_float16_set(X32)
        rel = np.abs(X16 - X32).max() / max(float(np.abs(X32).max()), 1e-30)
        print(f"\n{set_name}: {len(images)} images, {X32.shape[1]}-d, |x| <= {np.abs(X32).max():.3g}; "
              f"float16 round trip: largest error {np.abs(X16 - X32).max():.3g} ({rel:.2e} of the largest value)")
        row: dict = {"set": set_name, "n": len(images)}
        model = make_model("logistic_regression")
        with threadpool_limits(1):
            for shots in SHOTS:
                diffs, same, acc32 = [], [], []
                for split in splits:
                    tr, te = train_test_split(np.arange(len(labels)), test_size=0.5, stratify=labels,
                                              random_state=split)
                    y_pool, y_test = labels[tr], labels[te]
                    rng = np.random.default_rng(split)
                    for _ in range(draws):
                        idx = np.concatenate([rng.choice(np.flatnonzero(y_pool == c), shots, replace=False)
                                              for c in np.unique(y_pool)])
                        p32 = clone(model).fit(X32[tr][idx], y_pool[idx]).predict(X32[te])
                        p16 = clone(model).fit(X16[tr][idx], y_pool[idx]).predict(X16[te])
                        diffs.append(float((p16 == y_test).mean() - (p32 == y_test).mean()))
                        acc32.append(float((p32 == y_test).mean()))
                        same.append(bool((p16 == p32).all()))
                d = np.asarray(diffs)
                row[f"d@{shots}"] = (float(d.mean()), float(d.std(ddof=1)) if len(d) > 1 else 0.0,
                                     float(np.abs(d).max()))
                row[f"same@{shots}"] = float(np.mean(same))
                row[f"acc32@{shots}"] = float(np.mean(acc32))
            tr, te = train_test_split(np.arange(len(labels)), test_size=0.5, stratify=labels, random_state=0)
            y_pool, y_test = labels[tr], labels[te]
            budget = min(150, len(y_pool))
            for strat in ("default", "margin"):
                strategy = None if strat == "default" else strat
                gaps, first100, peer_gaps = [], [], []
                for seed in seeds:
                    res = {}
                    for name, X in (("32", X32), ("16", X16)):
                        res[name] = simulate(X[tr], y_pool, X[te], y_test, make_model("logistic_regression"),
                                             strategy=strategy, initial=10, batch_size=5, budget=budget,
                                             random_state=seed)
                    c = res["32"].curve.merge(res["16"].curve, on="n_labels", suffixes=("32", "16"))
                    gaps.append((c["accuracy16"] - c["accuracy32"]).to_numpy())
                    # the peer: float32 against float32 with another seed (how far two runs drift anyway)
                    other = simulate(X32[tr], y_pool, X32[te], y_test, make_model("logistic_regression"),
                                     strategy=strategy, initial=10, batch_size=5, budget=budget,
                                     random_state=seed + 100).curve
                    c = res["32"].curve.merge(other, on="n_labels", suffixes=("32", "other"))
                    peer_gaps.append((c["accuracyother"] - c["accuracy32"]).to_numpy())
                    k = min(100, budget)
                    first100.append(len(set(res["32"].queried[:k].tolist()) - set(res["16"].queried[:k].tolist())))
                g = np.concatenate(gaps)
                row[f"curve {strat}"] = (float(np.abs(g).max()), float(np.abs(g).mean()), float(g.mean()))
                g = np.concatenate(peer_gaps)
                row[f"peer {strat}"] = (float(np.abs(g).max()), float(np.abs(g).mean()), float(g.mean()))
                row[f"sim100 {strat}"] = first100
                # one retrain from the same 5 labels per class: the order itself
                rng = np.random.default_rng(0)
                diff_orders, diff_positions = [], []
                for _ in range(len(seeds)):
                    idx = np.concatenate([rng.choice(np.flatnonzero(y_pool == c), 5, replace=False)
                                          for c in np.unique(y_pool)])
                    rest = np.setdiff1d(np.arange(len(tr)), idx)
                    orders = {}
                    for name, X in (("32", X32), ("16", X16)):
                        learner = Learner(make_model("logistic_regression"), strategy=strategy, cv=None,
                                          batch_size=5, random_state=0, audit_share=0.0)
                        orders[name] = rest[learner.retrain(X[tr][idx], y_pool[idx], X[tr][rest]).order[:100]]
                    diff_orders.append(len(set(orders["32"].tolist()) - set(orders["16"].tolist())))
                    diff_positions.append(int((orders["32"] != orders["16"]).sum()))
                row[f"order100 {strat}"] = diff_orders
                row[f"position100 {strat}"] = diff_positions
        rows.append(row)
        for key, value in row.items():
            if key.startswith("d@"):
                shots = key[2:]
                print(f"    accuracy at {shots}/class (float32 {100 * row['acc32@' + shots]:.1f} %), "
                      f"float16 - float32 over {len(splits) * draws} draws: "
                      f"mean {100 * value[0]:+.2f} pts, sd {100 * value[1]:.2f}, largest |diff| "
                      f"{100 * value[2]:.2f} pts; identical test predictions in {100 * row['same@' + shots]:.0f} % "
                      "of draws")
            elif key.startswith("curve"):
                print(f"    learning curve ({key[6:]}, seeds {list(seeds)}), float16 - float32: largest |diff| "
                      f"{100 * value[0]:.2f} pts, mean |diff| {100 * value[1]:.2f} pts, mean diff {100 * value[2]:+.2f} pts")
            elif key.startswith("peer"):
                print(f"      peer, float32 with seed+100 - float32: largest |diff| {100 * value[0]:.2f} pts, "
                      f"mean |diff| {100 * value[1]:.2f} pts, mean diff {100 * value[2]:+.2f} pts")
            elif key.startswith(("sim100", "order100", "position100")):
                what = {"sim100": "items labelled by the 100th label that differ (per seed)",
                        "order100": "of the first 100 of one retrain's order (5 labels/class) not in the other's",
                        "position100": "of the first 100 positions of that order holding another item"}[key.split()[0]]
                print(f"    {key.split()[1]}: {what}: {value}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sets, one seed")
    parser.add_argument("--default-path", action="store_true", help="the importers' default extractor, 5/class")
    parser.add_argument("--float16", action="store_true", help="what float16 storage of the features changes")
    parser.add_argument("--only", default=None, help="with --float16: only the sets whose name contains this")
    args = parser.parse_args()
    start = time.perf_counter()
    if args.float16:
        float16_effect(args.quick, args.only)
        print(f"\n{time.perf_counter() - start:.0f} s in all")
        return
    if args.default_path:
        default_path()
        print(f"\n{time.perf_counter() - start:.0f} s in all")
        return
    tab = run(args.quick)
    print_table(tab)
    if not args.quick:
        RESULTS.mkdir(parents=True, exist_ok=True)
        tab.to_csv(RESULTS / "photos_table.csv", index=False)
    print(f"\n{time.perf_counter() - start:.0f} s in all")


if __name__ == "__main__":
    main()
