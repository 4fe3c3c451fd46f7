"""The tiny base captioner shipped with the package: used by default, trained with today's recipes, and good."""

import statistics

from cim.shapes import render_scene, split_scenes
from cim.shapes.metrics import caption_scores
from cim.train.captioning import generate_captions, load_policy
from cim.train.shapes_pipeline import BUNDLED_BASE, bundled_base_captioner, default_base_captioner


def test_the_bundled_base_is_the_default_while_the_recipes_match_it():
    # Fails when shapes-tiny-sft / shapes-tiny-lossy change: retrain the base and refresh src/cim/assets/tiny-base.
    assert bundled_base_captioner() == BUNDLED_BASE == default_base_captioner()
    assert bundled_base_captioner(["sft.max_steps=10"]) is None
    assert bundled_base_captioner(["train_scenes=100"]) is None


def test_the_bundled_base_captions_held_out_scenes_accurately_and_tersely():
    scenes = split_scenes("test", 24)
    model, processor = load_policy(BUNDLED_BASE)
    captions = generate_captions(model, processor, [render_scene(s, 84) for s in scenes], max_new_tokens=160)
    scores = [caption_scores(caption, scene) for caption, scene in zip(captions, scenes)]

    def mean(key: str) -> float:
        return statistics.mean(s[key] for s in scores)

    # Its SHAPES-500 figures (stages.json): object precision 0.993, recall 0.759; a lossy captioner by design.
    assert mean("object_precision") > 0.95
    assert 0.55 < mean("object_recall") < 0.95
