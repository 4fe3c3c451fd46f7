"""The main job at a small scale: gallery cached, reward levels ordered, base → GRPO → before/after table."""

import json

from cim.demo import LEVELS, before_after, check_reward_levels, ordering_checks, run_demo
from cim.eval.results import Evaluation
from cim.gallery.named import resolve_gallery, shapes_gallery_path
from cim.gallery.store import Gallery
from cim.paths import cache_dir
from cim.reward.scorer import CIMScorer


def test_reward_levels_are_ordered_on_a_small_cached_gallery(tmp_path, monkeypatch):
    monkeypatch.setenv("CIM_HOME", str(tmp_path / "home"))
    path = resolve_gallery("shapes-400")
    assert path == shapes_gallery_path(400)
    gallery = Gallery.load(path)
    assert len(gallery) == 400 and gallery.manifest.image_encoder.image_size == 128
    assert gallery.ids[0] == "shapes-gallery-00000" and gallery.images[0] == "shapes:shapes-gallery-00000"
    result = check_reward_levels(CIMScorer(gallery), tmp_path / "run", test_scenes=120)
    summaries = result["summaries"]
    assert [summaries[level]["scored"] for level in LEVELS] == [120] * 4
    means = [summaries[level]["reward_mean"] for level in LEVELS]
    assert means[0] > means[2] > means[3]  # complete > one-object > wrong even on a 400-scene gallery
    # The cached gallery is reused: resolving the name again does not rebuild it.
    stamp = (path / "manifest.json").stat().st_mtime_ns
    assert resolve_gallery("shapes-400") == path and (path / "manifest.json").stat().st_mtime_ns == stamp
    assert resolve_gallery(tmp_path / "elsewhere") == tmp_path / "elsewhere"


def test_ordering_checks_use_two_standard_errors():
    def summary(mean, se):
        return {"reward_mean": mean, "reward_se": se}

    ordered, lines = ordering_checks({"complete": summary(1.0, 0.01), "no-attributes": summary(0.9, 0.01),
                                      "one-object": summary(0.88, 0.01), "wrong": summary(0.5, 0.01)})
    assert not ordered  # 0.02 gap < 2·√2·0.01
    assert lines[0].endswith("✓") and lines[1].endswith("✗") and lines[2].endswith("✓")


def test_tiny_demo_trains_evaluates_and_reuses_its_stages(shapes_gallery, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from cim.cli import app

    monkeypatch.setenv("CIM_HOME", str(tmp_path / "home"))
    overrides = [f"gallery={shapes_gallery}", "train_scenes=4", "grpo.prompts_per_step=2", "grpo.num_generations=2",
                 "grpo.max_completion_length=8", "grpo.max_steps=1", "grpo.save_steps=1"]
    base_overrides = ["train_scenes=4", "sft.batch_size=2", "sft.max_steps=1", "sft.save_steps=1"]
    args = ["demo", "--workdir", str(tmp_path / "run"), "--test-scenes", "6"]
    args += [a for o in overrides for a in ("--set", o)] + [a for o in base_overrides for a in ("--base-set", o)]
    first = CliRunner().invoke(app, args)
    assert first.exit_code == 0, first.output
    assert "difference [95% CI]" in first.output and "object_recall" in first.output
    result = json.loads((tmp_path / "run" / "results.json").read_text())
    stages = sorted(p.name.split("-")[0] for p in (cache_dir() / "models" / "tiny-base").iterdir() if p.is_dir())
    assert stages == ["complete", "lossy"] and "/tiny-base/lossy-" in result["base"]
    files = list(result["evaluation"]["files"].values())
    assert [f["object_recall"]["n"] for f in files] == [6, 6]
    table = {row["metric"]: row for row in result["table"]}
    assert {"object_recall", "object_precision", "relation_qa", "reward"} <= set(table)
    for row in table.values():
        assert abs(row["cim"] - row["base"] - row["difference"]) < 1e-9
    assert before_after(Evaluation.model_validate(result["evaluation"])) == result["table"]
    # A second run reuses the base, the GRPO run and the captions.
    stamp = (tmp_path / "run" / "grpo" / "final" / "config.json").stat().st_mtime_ns
    again = run_demo(tmp_path / "run", overrides, base_overrides, test_scenes=6)
    assert again["table"] == result["table"]
    assert (tmp_path / "run" / "grpo" / "final" / "config.json").stat().st_mtime_ns == stamp
    bad = CliRunner().invoke(app, ["demo", "--workdir", str(tmp_path / "bad"), "--set", "grpo.lr=1"])
    assert bad.exit_code == 2 and "unknown recipe key 'grpo.lr'" in bad.output
