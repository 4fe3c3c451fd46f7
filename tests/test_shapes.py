"""cim.shapes: scenes, splits, facts of a scene, rendering and export."""

from __future__ import annotations

import json
import random

import pytest
from PIL import Image

from cim.shapes import (
    BACKGROUND,
    COLOURS,
    SPLITS,
    Facts,
    Scene,
    ShapeObject,
    canonical_relation,
    export_split,
    generate_scene,
    read_facts,
    render_scene,
    scene_facts,
    scene_from_id,
    split_scenes,
)


def test_split_scene_does_not_depend_on_n_or_start():
    whole = split_scenes("train", 30)
    assert split_scenes("train", 5, start=10) == whole[10:15]
    assert split_scenes("train", 1, start=29)[0] == whole[29]
    assert [s.id for s in whole[:3]] == ["shapes-train-00000", "shapes-train-00001", "shapes-train-00002"]
    assert split_scenes("val", 3) == split_scenes("val", 3)
    assert len(split_scenes("val")) == SPLITS["val"] == 200
    assert len(split_scenes("test", start=490)) == 10


def test_scene_from_id_round_trips_and_splits_are_disjoint():
    ids = {}
    for split in SPLITS:
        scenes = split_scenes(split, 20)
        ids[split] = {s.id for s in scenes}
        for scene in scenes[:5]:
            assert scene_from_id(scene.id) == scene
    for a in SPLITS:
        for b in SPLITS:
            if a != b:
                assert not ids[a] & ids[b]
    # same index in different splits gives a different scene
    assert split_scenes("train", 10) != [Scene(s.id, s.objects) for s in split_scenes("val", 10)]


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: split_scenes("dev"), "valid: gallery, train, val, test"),
        (lambda: split_scenes("val", 201), "200 scenes"),
        (lambda: split_scenes("val", 10, start=195), "200 scenes"),
        (lambda: scene_from_id("shapes-val-00200"), "only 200"),
        (lambda: scene_from_id("val-1"), "bad scene id"),
        (lambda: ShapeObject("oval", "red", "small", 0, 0), "valid: circle"),
        (lambda: ShapeObject("circle", "red", "small", 3, 0), "row"),
        (lambda: generate_scene(random.Random(0), "x", 3, 7), "max_objects"),
    ],
)
def test_bad_inputs_raise_value_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_scenes_have_unique_shapes_distinct_cells_and_two_to_five_objects():
    counts = set()
    for scene in split_scenes("gallery", 400):
        shapes = [o.shape for o in scene.objects]
        cells = [o.cell for o in scene.objects]
        assert len(set(shapes)) == len(shapes)
        assert len(set(cells)) == len(cells)
        assert cells == sorted(cells)  # reading order
        counts.add(len(scene.objects))
    assert counts == {2, 3, 4, 5}


def test_scene_with_duplicate_shape_or_cell_is_rejected():
    with pytest.raises(ValueError, match="unique"):
        Scene(
            "x", (ShapeObject("circle", "red", "small", 0, 0), ShapeObject("circle", "blue", "small", 0, 1))
        )
    with pytest.raises(ValueError, match="distinct cells"):
        Scene("x", (ShapeObject("circle", "red", "small", 0, 0), ShapeObject("star", "blue", "small", 0, 0)))


def test_relation_canonicalisation():
    assert canonical_relation("circle", "right of", "square") == ("square", "left of", "circle")
    assert canonical_relation("circle", "below", "square") == ("square", "above", "circle")
    assert canonical_relation("circle", "above", "square") == ("circle", "above", "square")
    facts = Facts(relations={("circle", "right of", "square"), ("star", "below", "cross")})
    assert facts.relations == {("square", "left of", "circle"), ("cross", "above", "star")}
    with pytest.raises(ValueError, match="valid: left of, right of, above, below"):
        canonical_relation("circle", "near", "square")
    with pytest.raises(ValueError, match="two different shapes"):
        canonical_relation("circle", "above", "circle")


def test_scene_facts_by_hand():
    scene = Scene(
        "x",
        (
            ShapeObject("star", "blue", "large", 2, 0),
            ShapeObject("circle", "red", "small", 0, 0),
            ShapeObject("cross", "green", "small", 0, 2),
        ),
    )
    facts = scene_facts(scene)
    assert scene.shapes == ("circle", "cross", "star")
    assert facts.objects == {"circle", "cross", "star"}
    assert facts.attributes == {
        ("circle", "colour", "red"), ("circle", "size", "small"),
        ("cross", "colour", "green"), ("cross", "size", "small"),
        ("star", "colour", "blue"), ("star", "size", "large"),
    }  # fmt: skip
    # circle/star share a column: only vertical; circle/cross share a row: only horizontal
    assert facts.relations == {
        ("circle", "above", "star"),
        ("circle", "left of", "cross"),
        ("star", "left of", "cross"),
        ("cross", "above", "star"),
    }
    assert facts.counts() == {"objects": 3, "attributes": 6, "relations": 4, "all": 13}


@pytest.mark.parametrize("size", [84, 128])
def test_render_size_and_colour_at_cell_centre(size):
    for scene in split_scenes("val", 20):
        image = render_scene(scene, size)
        assert image.mode == "RGB" and image.size == (size, size)
        assert image.getpixel((0, 0)) == BACKGROUND
        cell = size / 3
        occupied = set()
        for obj in scene.objects:
            x, y = int((obj.col + 0.5) * cell), int((obj.row + 0.5) * cell)
            pixel = image.getpixel((x, y))
            assert max(abs(p - q) for p, q in zip(pixel, COLOURS[obj.colour], strict=True)) <= 12, (
                scene.id,
                obj,
            )
            occupied.add((obj.row, obj.col))
        for row in range(3):
            for col in range(3):
                if (row, col) not in occupied:
                    assert image.getpixel((int((col + 0.5) * cell), int((row + 0.5) * cell))) == BACKGROUND


def test_large_objects_cover_more_pixels_than_small():
    small = Scene("s", (ShapeObject("circle", "red", "small", 1, 1),))
    large = Scene("l", (ShapeObject("circle", "red", "large", 1, 1),))

    def covered(scene):
        image = render_scene(scene, 84)
        return sum(image.getpixel((x, y)) != BACKGROUND for x in range(84) for y in range(84))

    ratio = covered(large) / covered(small)
    assert 3.0 < ratio < 4.5  # (0.85 / 0.45) ** 2 ≈ 3.6


def test_export_split_writes_images_and_jsonl(tmp_path):
    path = export_split("val", "complete", tmp_path / "out", size=84, n=4, seed=1)
    assert path == tmp_path / "out" / "captions.jsonl"
    records = [json.loads(line) for line in path.read_text().splitlines()]
    scenes = split_scenes("val", 4)
    assert [r["id"] for r in records] == [s.id for s in scenes]
    for record, scene in zip(records, scenes, strict=True):
        assert set(record) == {"id", "caption", "image", "level"}
        assert record["level"] == "complete"
        assert record["image"] == f"images/{scene.id}.png"
        with Image.open(path.parent / record["image"]) as image:
            assert image.size == (84, 84)
        assert read_facts(record["caption"]) == scene_facts(scene)
    assert not list((tmp_path / "out").glob(".*tmp"))  # no temp files left behind
    first = path.read_text()
    assert export_split("val", "complete", tmp_path / "out", size=84, n=4, seed=1).read_text() == first
    export_split("val", "one-object", tmp_path / "out", size=128, n=2)
    with Image.open(tmp_path / "out" / "images" / f"{scenes[0].id}.png") as image:
        assert image.size == (128, 128)  # re-rendered at the new size
    with pytest.raises(ValueError, match="valid: complete, no-attributes, one-object, wrong"):
        export_split("val", "partial", tmp_path / "bad", n=1)
