"""Does the CIM reward track caption information? A validation study on the shapes world (SHAPES-500).

Sources are the rendered SHAPES-500 test scenes (PIL images, 128 px); the gallery is the default 20k
shapes gallery (MiniLM captions, EfficientNet-Lite0 images); clean mode, K = 3, β = 1 throughout.

Part 1, controlled information loss (the paper's Figure 2 check): per scene, captions that keep a
    fraction of the true facts, and complete / half captions with 1, 2 or 4 facts corrupted. Captions
    are sorted by fact F1 (read back with `read_facts`) into bins of 100; Pearson r over bins between
    GRC, QIR, reward and (a) mean fact F1, (b) logit of mean relation-QA accuracy. Global pooling,
    uncentred and centred image embeddings.
Part 2, within-group view (what GRPO sees): per scene a group of 8 captions with random detail and
    0–2 random errors; per-group Spearman between each metric and fact F1, averaged over groups, for
    {global, grid2 pooling} × {uncentred, centred}.
Part 3, "same words, wrong meaning": the complete caption against its relation-swapped and its
    colour-swapped twin; reward gap, its standard error, win rate, and MiniLM cosine of the pair.

    .venv/bin/python experiments/validation_study.py                    # everything, writes results/
    .venv/bin/python experiments/validation_study.py --part 1 --scenes 50 --out /tmp/vs

Prints progress to stderr and the headline JSON as the last line of stdout; writes the same JSON to
<out>/validation_study.json (only for a full run into the default folder; partial runs write
validation_study-part<P>-scenes<N>.json) plus PNG plots.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import random
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from cim.gallery.named import ensure_shapes_gallery
from cim.reward.options import ScorerOptions
from cim.reward.scorer import CIMScorer
from cim.shapes import (
    Facts,
    Scene,
    caption_scores,
    corrupt_facts,
    render_scene,
    scene_facts,
    scene_from_id,
    split_scenes,
    stable_seed,
    subsample_facts,
    swap_attributes,
    swap_relations,
    write_caption,
)

RESULTS = Path(__file__).parent / "results"
SEED = "experiments.validation_study"
METRICS = ("grc", "qir", "reward")
KEEP_FRACTIONS = (0.1, 0.25, 0.5, 0.75, 1.0)
ERROR_COUNTS = (1, 2, 4)
GROUP_SIZE = 8
OPTIONS = {  # name → (pooling, center_images)
    "global-uncentred": ("global", False),
    "global-centred": ("global", True),
    "grid2-uncentred": ("grid2", False),
    "grid2-centred": ("grid2", True),
}
_START = time.perf_counter()


def log(message: str) -> None:
    print(f"[{time.perf_counter() - _START:7.1f}s] {message}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- statistics (numpy only)


def pearson(x: Sequence[float], y: Sequence[float]) -> float:
    """Pearson r; nan when either side is constant or there are fewer than 2 points."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if len(x) < 2:
        return float("nan")
    dx, dy = x - x.mean(), y - y.mean()
    denom = math.sqrt(float(dx @ dx) * float(dy @ dy))
    return float(dx @ dy / denom) if denom > 0 else float("nan")


def average_ranks(values: Sequence[float]) -> np.ndarray:
    """Ranks 1..n, ties sharing the average of the ranks they span."""
    values = np.asarray(values, dtype=np.float64)
    order = np.argsort(values, kind="stable")
    ranks = np.empty(len(values), dtype=np.float64)
    sorted_values = values[order]
    start = 0
    while start < len(values):
        end = start
        while end + 1 < len(values) and sorted_values[end + 1] == sorted_values[start]:
            end += 1
        ranks[order[start : end + 1]] = (start + end) / 2 + 1
        start = end + 1
    return ranks


def spearman(x: Sequence[float], y: Sequence[float]) -> float:
    """Spearman ρ = Pearson r of average ranks (ties handled); nan when a side is constant."""
    return pearson(average_ranks(x), average_ranks(y))


def logit(p: np.ndarray, lo: float = 0.01, hi: float = 0.99) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=np.float64), lo, hi)
    return np.log(p / (1 - p))


def mean_se(values: Sequence[float]) -> tuple[float, float]:
    values = np.asarray(values, dtype=np.float64)
    if len(values) == 0:
        return float("nan"), float("nan")
    se = float(values.std(ddof=1) / math.sqrt(len(values))) if len(values) > 1 else float("nan")
    return float(values.mean()), se


def fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:+.2f}"


def rnd(value: float, digits: int = 4) -> float | None:
    return None if value is None or not math.isfinite(value) else round(float(value), digits)


# ---------------------------------------------------------------- captions and scoring


def caption_of(facts: Facts, scene: Scene) -> str:
    """Canonical-style caption (objects in the scene's reading order, no shuffling)."""
    return write_caption(facts, None, scene.shapes)


def corrupt_upto(facts: Facts, scene: Scene, n_errors: int, seed: int) -> tuple[Facts, int]:
    """`corrupt_facts` with as many of n_errors as the facts allow; returns the facts and the count made."""
    for n in range(n_errors, -1, -1):
        try:
            return corrupt_facts(facts, scene, n, random.Random(seed)), n
        except ValueError:
            continue
    return facts, 0


def truth_scores(scene: Scene, caption: str) -> dict[str, float]:
    """Fact F1 of the caption as read back, and relation-QA accuracy from those facts."""
    scores = caption_scores(caption, scene)
    return {"f1": scores["all_f1"], "precision": scores["all_precision"], "recall": scores["all_recall"],
            "qa_acc": scores["relation_qa"]}


class Scorers:
    """One CIMScorer per option, sharing one MiniLM text encoder; galleries built on demand."""

    def __init__(self) -> None:
        self._scorers: dict[str, CIMScorer] = {}
        self._text_encoder = None
        self.galleries: dict[str, str] = {}

    def get(self, option: str) -> CIMScorer:
        if option not in self._scorers:
            pooling, centred = OPTIONS[option]
            if pooling not in self.galleries:
                log(f"gallery ({pooling} pooling): building or loading")
                last = [-1.0]

                def progress(stage: str, done: int, total: int) -> None:
                    if time.perf_counter() - last[0] > 30:
                        last[0] = time.perf_counter()
                        log(f"  {stage} {done}/{total}")

                self.galleries[pooling] = str(ensure_shapes_gallery(20000, progress, pooling=pooling))
            scorer = CIMScorer(self.galleries[pooling], ScorerOptions(center_images=centred), text_encoder=self._text_encoder)
            self._text_encoder = scorer.text_encoder
            self._scorers[option] = scorer
        return self._scorers[option]

    def score(self, option: str, captions: list[str], sources: list[Any], chunk: int = 512) -> dict[str, np.ndarray]:
        scorer = self.get(option)
        out: dict[str, list] = {m: [] for m in METRICS} | {"retrieved": []}
        start = time.perf_counter()
        for i in range(0, len(captions), chunk):
            for s in scorer.score(captions[i : i + chunk], sources[i : i + chunk]):
                out["grc"].append(s.grc)
                out["qir"].append(s.qir)
                out["reward"].append(s.reward)
                out["retrieved"].append(s.retrieved_ids)
        elapsed = time.perf_counter() - start
        log(f"  scored {len(captions)} captions with {option} in {elapsed:.1f}s "
            f"({1000 * elapsed / max(1, len(captions)):.1f} ms/caption)")
        return {k: (np.asarray(v) if k != "retrieved" else v) for k, v in out.items()}


def retrieved_object_counts(retrieved: list[list[str]]) -> np.ndarray:
    """Mean number of objects in the K retrieved gallery scenes, per caption."""
    cache: dict[str, int] = {}

    def count(item_id: str) -> int:
        if item_id not in cache:
            cache[item_id] = len(scene_from_id(item_id).objects)
        return cache[item_id]

    return np.asarray([np.mean([count(i) for i in ids]) for ids in retrieved])


# ---------------------------------------------------------------- part 1


def part1_captions(scenes: list[Scene]) -> list[dict[str, Any]]:
    rows = []
    for scene in scenes:
        truth = scene_facts(scene)
        n = truth.count()
        kept = {}
        for fraction in KEEP_FRACTIONS:
            k = max(1, round(fraction * n))
            facts = subsample_facts(truth, k=k, rng=random.Random(stable_seed(SEED, "p1-keep", scene.id, fraction)))
            kept[fraction] = facts
            rows.append({"scene": scene, "variant": f"keep-{fraction:.2f}", "facts": facts, "errors": 0})
        for base_name, base in (("complete", kept[1.0]), ("half", kept[0.5])):
            for n_errors in ERROR_COUNTS:
                seed = stable_seed(SEED, "p1-corrupt", scene.id, base_name, n_errors)
                facts, made = corrupt_upto(base, scene, n_errors, seed)
                rows.append({"scene": scene, "variant": f"{base_name}+{n_errors}err", "facts": facts, "errors": made})
    for row in rows:
        row["caption"] = caption_of(row["facts"], row["scene"])
        row.update(truth_scores(row["scene"], row["caption"]))
    return rows


def bin_by_f1(f1: np.ndarray, bin_size: int, seed: int) -> list[np.ndarray]:
    """Indices sorted by F1 (ties in a seeded random order) cut into consecutive bins of bin_size
    (a last partial bin is merged into the one before)."""
    permutation = np.random.default_rng(seed).permutation(len(f1))
    order = permutation[np.argsort(f1[permutation], kind="stable")]
    n_bins = max(1, len(order) // bin_size)
    return [order[i * bin_size : (i + 1) * bin_size if i < n_bins - 1 else len(order)] for i in range(n_bins)]


def run_part1(scenes: list[Scene], images: list[Any], scorers: Scorers, bin_size: int, out: Path) -> dict[str, Any]:
    log("part 1: controlled information loss")
    rows = part1_captions(scenes)
    captions = [r["caption"] for r in rows]
    index = {scene.id: i for i, scene in enumerate(scenes)}
    sources = [images[index[r["scene"].id]] for r in rows]
    f1 = np.asarray([r["f1"] for r in rows])
    acc = np.asarray([r["qa_acc"] for r in rows])
    variants = [r["variant"] for r in rows]
    bins = bin_by_f1(f1, bin_size, stable_seed(SEED, "p1-bins"))
    bin_f1 = np.asarray([f1[b].mean() for b in bins])
    bin_acc = np.asarray([acc[b].mean() for b in bins])
    bin_logit = logit(bin_acc)
    result: dict[str, Any] = {
        "captions": len(rows), "bins": len(bins), "bin_size": bin_size,
        "r_f1_vs_logit_acc": rnd(pearson(bin_f1, bin_logit)),
        "bin_f1_range": [rnd(bin_f1.min()), rnd(bin_f1.max())],
        "bin_acc_range": [rnd(bin_acc.min()), rnd(bin_acc.max())],
    }
    per_option: dict[str, dict[str, np.ndarray]] = {}
    for option in ("global-uncentred", "global-centred"):
        scores = scorers.score(option, captions, sources)
        per_option[option] = scores
        binned = {m: np.asarray([scores[m][b].mean() for b in bins]) for m in METRICS}
        variant_names = list(dict.fromkeys(variants))
        mask = {v: np.asarray([x == v for x in variants]) for v in variant_names}
        by_variant = {m: np.asarray([scores[m][mask[v]].mean() for v in variant_names]) for m in METRICS}
        variant_f1 = np.asarray([f1[mask[v]].mean() for v in variant_names])
        result[option] = {
            "r_bins_f1": {m: rnd(pearson(binned[m], bin_f1)) for m in METRICS},
            "r_bins_logit_acc": {m: rnd(pearson(binned[m], bin_logit)) for m in METRICS},
            "spearman_bins_logit_acc": {m: rnd(spearman(binned[m], bin_logit)) for m in METRICS},
            "r_variants_f1": {m: rnd(pearson(by_variant[m], variant_f1)) for m in METRICS},
            "spearman_captions_f1": {m: rnd(spearman(scores[m], f1)) for m in METRICS},
            "bins": {m: [rnd(v) for v in binned[m]] for m in METRICS},
        }
        r_f1 = result[option]["r_bins_f1"]
        result[option]["bar_met"] = all((r_f1[m] or 0.0) >= 0.8 for m in ("qir", "reward"))
    # What GRC sees: how many objects the retrieved gallery scenes hold, per variant.
    retrieved_objects = retrieved_object_counts(per_option["global-uncentred"]["retrieved"])
    source_objects = np.asarray([len(r["scene"].objects) for r in rows])
    stated_objects = np.asarray([len(r["facts"].objects) for r in rows])
    base = per_option["global-uncentred"]
    bin_objects = [retrieved_objects[b].mean() for b in bins]
    for option, scores in per_option.items():
        result[option]["r_captions_grc_vs_retrieved_objects"] = rnd(pearson(scores["grc"], retrieved_objects))
        result[option]["r_bins_grc_vs_retrieved_objects"] = rnd(
            pearson([scores["grc"][b].mean() for b in bins], bin_objects))
    result["r_bins_f1_vs_retrieved_objects"] = rnd(pearson(bin_f1, bin_objects))
    result["variants"] = {}
    for v in dict.fromkeys(variants):
        m = np.asarray([x == v for x in variants])
        result["variants"][v] = {
            "f1": rnd(f1[m].mean()), "qa_acc": rnd(acc[m].mean()),
            "grc": rnd(base["grc"][m].mean()), "qir": rnd(base["qir"][m].mean()),
            "reward": rnd(base["reward"][m].mean()),
            "grc_centred": rnd(per_option["global-centred"]["grc"][m].mean()),
            "qir_centred": rnd(per_option["global-centred"]["qir"][m].mean()),
            "stated_objects": rnd(stated_objects[m].mean(), 2),
            "retrieved_objects": rnd(retrieved_objects[m].mean(), 2),
            "source_objects": rnd(source_objects[m].mean(), 2),
        }
    result["bin_f1"] = [rnd(v) for v in bin_f1]
    result["bin_logit_acc"] = [rnd(v) for v in bin_logit]
    plot_part1(result, bin_f1, bin_logit, out)
    return result


def plot_part1(result: dict[str, Any], bin_f1: np.ndarray, bin_logit: np.ndarray, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    for x, xlabel, key, name in (
        (bin_f1, "mean fact F1 of the bin", "r_bins_f1", "validation_part1_f1.png"),
        (bin_logit, "logit(mean relation-QA accuracy of the bin)", "r_bins_logit_acc", "validation_part1_logit_acc.png"),
    ):
        fig, axes = plt.subplots(1, 3, figsize=(13, 4))
        for ax, metric in zip(axes, METRICS):
            for option, marker, colour in (("global-uncentred", "o", "tab:blue"), ("global-centred", "^", "tab:orange")):
                y = np.asarray(result[option]["bins"][metric], dtype=float)
                r = result[option][key][metric]
                ax.scatter(x, y, s=18, marker=marker, color=colour, alpha=0.8, label=f"{option}: r = {fmt(r)}")
            r0 = result["global-uncentred"][key][metric]
            r1 = result["global-centred"][key][metric]
            ax.set_title(f"{metric.upper()}  r = {fmt(r0)} (centred {fmt(r1)})")
            ax.set_xlabel(xlabel)
            ax.set_ylabel(f"mean {metric.upper()} of the bin")
            ax.legend(fontsize=7)
        fig.suptitle(f"SHAPES-500, {result['captions']} captions in bins of {result['bin_size']} (sorted by fact F1); "
                     "global pooling, clean mode", fontsize=10)
        fig.tight_layout()
        fig.savefig(out / name, dpi=110)
        plt.close(fig)


# ---------------------------------------------------------------- part 2


def part2_captions(scenes: list[Scene]) -> list[dict[str, Any]]:
    rows = []
    for scene in scenes:
        truth = scene_facts(scene)
        n = truth.count()
        rng = random.Random(stable_seed(SEED, "p2-group", scene.id))
        for j in range(GROUP_SIZE):
            fraction = rng.uniform(0.1, 1.0)
            facts = subsample_facts(truth, k=max(1, round(fraction * n)), rng=rng)
            facts, made = corrupt_upto(facts, scene, rng.randint(0, 2), rng.getrandbits(63))
            caption = caption_of(facts, scene)
            rows.append({"scene": scene, "member": j, "keep": fraction, "errors": made, "caption": caption}
                        | truth_scores(scene, caption))
    return rows


def group_stats(scores: np.ndarray, f1: np.ndarray, groups: list[np.ndarray]) -> dict[str, Any]:
    rhos, agree, pairs, best_gain = [], 0, 0, []
    skipped_f1, skipped_metric = 0, 0
    for g in groups:
        s, f = scores[g], f1[g]
        if np.ptp(f) == 0:
            skipped_f1 += 1
            continue
        if np.ptp(s) == 0:
            skipped_metric += 1
        else:
            rhos.append(spearman(s, f))
        for a in range(len(g)):
            for b in range(a + 1, len(g)):
                if f[a] != f[b] and s[a] != s[b]:
                    pairs += 1
                    agree += (f[a] > f[b]) == (s[a] > s[b])
        best_gain.append(f[np.argmax(s)] - f.mean())
    mean, se = mean_se(rhos)
    return {
        "spearman_mean": rnd(mean), "spearman_se": rnd(se), "groups_used": len(rhos),
        "groups_skipped_constant_f1": skipped_f1, "groups_skipped_constant_metric": skipped_metric,
        "fraction_positive": rnd(float(np.mean(np.asarray(rhos) > 0)) if rhos else float("nan")),
        "pairwise_agreement": rnd(agree / pairs if pairs else float("nan")),
        "f1_of_argmax_minus_group_mean": rnd(float(np.mean(best_gain)) if best_gain else float("nan")),
    }


def run_part2(scenes: list[Scene], images: list[Any], scorers: Scorers, out: Path) -> dict[str, Any]:
    log("part 2: within-group view")
    rows = part2_captions(scenes)
    captions = [r["caption"] for r in rows]
    sources = [images[i // GROUP_SIZE] for i in range(len(rows))]
    f1 = np.asarray([r["f1"] for r in rows])
    groups = [np.arange(i * GROUP_SIZE, (i + 1) * GROUP_SIZE) for i in range(len(scenes))]
    result: dict[str, Any] = {
        "groups": len(groups), "group_size": GROUP_SIZE, "captions": len(rows),
        "mean_within_group_f1_std": rnd(float(np.mean([f1[g].std() for g in groups]))),
        "mean_errors": rnd(float(np.mean([r["errors"] for r in rows])), 3),
    }
    retrieved_same = None
    first_retrieved = None
    for option in OPTIONS:
        scores = scorers.score(option, captions, sources)
        if first_retrieved is None:
            first_retrieved = scores["retrieved"]
        else:
            same = float(np.mean([a == b for a, b in zip(first_retrieved, scores["retrieved"])]))
            retrieved_same = same if retrieved_same is None else min(retrieved_same, same)
        result[option] = {m: group_stats(scores[m], f1, groups) for m in METRICS}
    result["retrieved_ids_identical_across_options"] = rnd(retrieved_same)
    plot_part2(result, out)
    return result


def plot_part2(result: dict[str, Any], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4))
    width = 0.25
    x = np.arange(len(OPTIONS))
    for i, metric in enumerate(METRICS):
        means = [result[o][metric]["spearman_mean"] or 0.0 for o in OPTIONS]
        errs = [2 * (result[o][metric]["spearman_se"] or 0.0) for o in OPTIONS]
        ax.bar(x + (i - 1) * width, means, width, yerr=errs, capsize=3, label=metric.upper())
    ax.axhline(0, color="black", lw=0.8)
    ax.set_xticks(x, list(OPTIONS))
    ax.set_ylabel("mean within-group Spearman vs fact F1 (±2 SE)")
    ax.set_title(f"{result['groups']} groups of {result['group_size']} captions (random detail, 0–2 errors)", fontsize=10)
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "validation_part2_groups.png", dpi=110)
    plt.close(fig)


# ---------------------------------------------------------------- part 3


def run_part3(scenes: list[Scene], images: list[Any], scorers: Scorers, out: Path) -> dict[str, Any]:
    log("part 3: same words, wrong meaning")
    complete, twins = [], {"relations": [], "colours": []}
    for i, scene in enumerate(scenes):
        truth = scene_facts(scene)
        complete.append(caption_of(truth, scene))
        swapped = swap_relations(truth)
        twins["relations"].append((i, caption_of(swapped, scene)) if swapped != truth else None)
        swapped = swap_attributes(truth, random.Random(stable_seed(SEED, "p3-colour", scene.id)), kind="colour")
        twins["colours"].append((i, caption_of(swapped, scene)) if swapped != truth else None)
    encoder = scorers.get("global-uncentred").text_encoder
    result: dict[str, Any] = {"scenes": len(scenes)}
    all_captions = list(complete)
    all_sources = list(images)
    spans = {}
    for kind, items in twins.items():
        kept = [t for t in items if t is not None]
        spans[kind] = (len(all_captions), kept)
        all_captions += [c for _, c in kept]
        all_sources += [images[i] for i, _ in kept]
        pair_index = [i for i, _ in kept]
        a = encoder.encode([complete[i] for i in pair_index]).vectors
        b = encoder.encode([c for _, c in kept]).vectors
        cosines = (a * b).sum(-1).numpy()
        twin_f1 = [truth_scores(scenes[i], c)["f1"] for i, c in kept]
        result[kind] = {"pairs": len(kept), "skipped": len(items) - len(kept),
                        "text_cosine_mean": rnd(float(cosines.mean())), "text_cosine_min": rnd(float(cosines.min())),
                        "twin_f1_mean": rnd(float(np.mean(twin_f1)))}
    gaps_for_plot = {}
    for option in OPTIONS:
        scores = scorers.score(option, all_captions, all_sources)
        for kind, (start, kept) in spans.items():
            pair_index = [i for i, _ in kept]
            entry = {}
            for metric in METRICS:
                gap = scores[metric][pair_index] - scores[metric][start : start + len(kept)]
                mean, se = mean_se(gap)
                entry[metric] = {"gap_mean": rnd(mean, 5), "gap_se": rnd(se, 5),
                                 "correct_wins": rnd(float(np.mean(gap > 0))),
                                 "twin_wins": rnd(float(np.mean(gap < 0))), "ties": rnd(float(np.mean(gap == 0)))}
                if metric == "reward":
                    gaps_for_plot[(option, kind)] = gap
            same = [scores["retrieved"][i] == scores["retrieved"][start + j] for j, i in enumerate(pair_index)]
            same_set = [set(scores["retrieved"][i]) == set(scores["retrieved"][start + j])
                        for j, i in enumerate(pair_index)]
            entry["same_retrieved_ids"] = rnd(float(np.mean(same)))
            entry["same_retrieved_set"] = rnd(float(np.mean(same_set)))
            result[kind][option] = entry
    plot_part3(gaps_for_plot, out)
    return result


def plot_part3(gaps: dict[tuple[str, str], np.ndarray], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for ax, kind in zip(axes, ("relations", "colours")):
        for option in ("global-uncentred", "grid2-uncentred"):
            gap = gaps.get((option, kind))
            if gap is not None and len(gap):
                ax.hist(gap, bins=41, alpha=0.55, label=f"{option}: mean {gap.mean():+.4f}, wins {np.mean(gap > 0):.0%}")
        ax.axvline(0, color="black", lw=0.8)
        ax.set_title(f"reward(correct) − reward({kind}-swapped twin)", fontsize=10)
        ax.set_xlabel("reward gap")
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out / "validation_part3_twins.png", dpi=110)
    plt.close(fig)


# ---------------------------------------------------------------- main


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--part", type=int, action="append", choices=(1, 2, 3),
                        help="run only this part (repeatable); default all three")
    parser.add_argument("--scenes", type=int, default=500, help="first N scenes of SHAPES-500 (default 500)")
    parser.add_argument("--bin-size", type=int, default=100, help="captions per bin in part 1 (default 100)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="folder for the JSON and the plots")
    args = parser.parse_args(argv)
    parts = sorted(set(args.part or (1, 2, 3)))
    args.out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)

    scenes = split_scenes("test", args.scenes)
    images = [render_scene(scene, 128) for scene in scenes]
    log(f"{len(scenes)} SHAPES-500 scenes rendered at 128 px; parts {parts}")
    scorers = Scorers()
    runners: dict[int, Callable[[], dict[str, Any]]] = {
        1: lambda: run_part1(scenes, images, scorers, args.bin_size, args.out),
        2: lambda: run_part2(scenes, images, scorers, args.out),
        3: lambda: run_part3(scenes, images, scorers, args.out),
    }
    headline: dict[str, Any] = {
        "study": "validation_study", "scenes": len(scenes), "parts": parts, "mode": "clean", "k": 3, "beta": 1.0,
        "text_encoder": "minilm", "image_encoder": "efficientnet-lite0", "gallery_size": 20000,
    }
    for part in parts:
        headline[f"part{part}"] = runners[part]()
    headline["galleries"] = scorers.galleries
    headline["machine"] = {"platform": platform.platform(), "torch_threads": torch.get_num_threads()}
    headline["elapsed_s"] = round(time.perf_counter() - _START, 1)
    full = parts == [1, 2, 3] and args.scenes == 500 and args.bin_size == 100
    name = "validation_study.json" if full else f"validation_study-part{''.join(map(str, parts))}-scenes{args.scenes}.json"
    text = json.dumps(headline, sort_keys=True)
    (args.out / name).write_text(text + "\n")
    log(f"wrote {args.out / name}")
    print(text)
    return headline


if __name__ == "__main__":
    main()
