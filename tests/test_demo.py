"""The main job at a small scale: a shapes gallery is built and cached, caption levels are ordered."""

import json

from cim.demo import LEVELS, ordering_checks, run_demo
from cim.gallery.store import Gallery
from cim.paths import default_shapes_gallery


def test_small_demo_orders_caption_levels(tmp_path, monkeypatch):
    monkeypatch.setenv("CIM_HOME", str(tmp_path / "home"))
    result = run_demo(tmp_path / "run", gallery_size=400, test_scenes=120)
    gallery = Gallery.load(default_shapes_gallery(400))
    assert len(gallery) == 400 and gallery.manifest.image_encoder["image_size"] == 128
    assert gallery.ids[0] == "shapes-gallery-00000" and gallery.images[0] == "shapes:shapes-gallery-00000"
    summaries = result["summaries"]
    assert [summaries[level]["scored"] for level in LEVELS] == [120] * 4
    means = [summaries[level]["reward_mean"] for level in LEVELS]
    assert means[0] > means[2] > means[3]  # complete > one-object > wrong even on a 400-scene gallery
    saved = json.loads((tmp_path / "run" / "results.json").read_text())
    assert saved["summaries"]["complete"]["rows"] == 120
    # The cached gallery is reused: a second run does not rebuild it.
    stamp = (default_shapes_gallery(400) / "manifest.json").stat().st_mtime_ns
    run_demo(tmp_path / "run2", gallery_size=400, test_scenes=10)
    assert (default_shapes_gallery(400) / "manifest.json").stat().st_mtime_ns == stamp


def test_ordering_checks_use_two_standard_errors():
    def summary(mean, se):
        return {"reward_mean": mean, "reward_se": se}

    ordered, lines = ordering_checks({"complete": summary(1.0, 0.01), "no-attributes": summary(0.9, 0.01),
                                      "one-object": summary(0.88, 0.01), "wrong": summary(0.5, 0.01)})
    assert not ordered  # 0.02 gap < 2·√2·0.01
    assert lines[0].endswith("✓") and lines[1].endswith("✗") and lines[2].endswith("✓")
