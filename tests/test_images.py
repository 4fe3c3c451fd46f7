"""User images: refused formats (EPS never reaches Ghostscript), decompression bombs as clear per-row errors,
and one conversion to RGB for every mode (16-bit greyscale, float, CMYK, transparency) wherever images load."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import EpsImagePlugin, Image
from typer.testing import CliRunner

from cim.cli import app
from cim.errors import InputError
from cim.eval.report_page import thumbnail_uri
from cim.gallery.items import open_image
from cim.images import BACKGROUND, pixel_limit, read_header, to_rgb
from cim.server.settings import ServeSettings
from tests.image_files import EPS, bomb_png, grey_picture, png_bytes, sixteen_bit
from tests.serving import thread_server


def colours(image: Image.Image) -> set[tuple[int, ...]]:
    return {tuple(int(c) for c in pixel) for pixel in np.asarray(image).reshape(-1, len(image.getbands()))}


@pytest.fixture()
def eps_opened(monkeypatch) -> list[str]:
    """Records every time Pillow's EPS plugin is asked to open a file (the step before Ghostscript)."""
    calls: list[str] = []

    def spy(self):
        calls.append("EpsImageFile._open")
        raise SyntaxError("the EPS plugin must never be tried")

    monkeypatch.setattr(EpsImagePlugin.EpsImageFile, "_open", spy)
    return calls


@pytest.fixture()
def bad_files(tmp_path) -> dict[str, Path]:
    files = {"bomb": tmp_path / "bomb.png", "eps": tmp_path / "pic.eps", "empty": tmp_path / "empty.png"}
    files["bomb"].write_bytes(bomb_png())
    files["eps"].write_bytes(EPS)
    files["empty"].write_bytes(b"")
    return files


def test_a_decompression_bomb_is_an_input_error(bad_files):
    assert len(bad_files["bomb"].read_bytes()) < 100
    with pytest.raises(InputError, match=r"bomb.png: image has more than 178,956,970 pixels, over the pixel limit of 89,478,485"):
        open_image(str(bad_files["bomb"]))
    with pytest.raises(InputError, match="over the pixel limit"):
        read_header(bad_files["bomb"].read_bytes())


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_pixel_limit_applies_from_pillows_limit_and_is_restored(tmp_path):
    path = tmp_path / "pic.png"
    Image.new("RGB", (64, 64)).save(path)
    before = Image.MAX_IMAGE_PIXELS
    with pixel_limit(3000):  # between Pillow's limit and its factor-2 bomb error: refused too, not just a warning
        with pytest.raises(InputError, match=r"pic.png: image is 64×64 pixels, over the pixel limit of 3,000"):
            open_image(str(path))
    with pixel_limit(1000), pytest.raises(InputError, match=r"pic.png: image has more than 2,000 pixels"):
        read_header(path)
    assert Image.MAX_IMAGE_PIXELS == before
    with pytest.raises(InputError, match="boom"), pixel_limit(10):
        raise InputError("boom")
    assert Image.MAX_IMAGE_PIXELS == before
    assert open_image(str(path)).size == (64, 64)


def test_eps_is_refused_without_trying_the_eps_plugin(bad_files, eps_opened):
    with pytest.raises(InputError, match=r"pic.eps: unreadable image: not a PNG, JPEG, WEBP, BMP, GIF, TIFF file"):
        open_image(str(bad_files["eps"]))
    with pytest.raises(InputError, match="not a PNG"):
        read_header(EPS)
    assert eps_opened == []


def test_sixteen_bit_greyscale_loads_as_the_8_bit_picture(tmp_path):
    picture = grey_picture()
    Image.fromarray(picture).save(tmp_path / "l8.png")
    sixteen_bit(picture).save(tmp_path / "l16.png")
    with Image.open(tmp_path / "l16.png") as check:
        assert check.mode.startswith("I")  # Pillow keeps the 16 bits
    eight = np.asarray(open_image(str(tmp_path / "l8.png")), dtype=int)
    sixteen = np.asarray(open_image(str(tmp_path / "l16.png")), dtype=int)
    assert eight.shape == sixteen.shape == (64, 64, 3)
    assert np.abs(eight - sixteen).max() <= 1
    wide = sixteen_bit(picture).convert("I")  # 32-bit integer mode holding 16-bit values
    assert np.abs(np.asarray(to_rgb(wide), dtype=int) - eight).max() <= 1


@pytest.mark.parametrize(
    ("image", "expected"),
    [
        (Image.new("CMYK", (4, 4), (0, 255, 255, 0)), (255, 0, 0)),
        (Image.new("LA", (4, 4), (0, 0)), BACKGROUND),  # fully transparent black → the background
        (Image.new("LA", (4, 4), (0, 255)), (0, 0, 0)),
        (Image.new("RGBA", (4, 4), (200, 0, 0, 0)), BACKGROUND),
        (Image.new("RGBA", (4, 4), (0, 0, 200, 255)), (0, 0, 200)),
        (Image.new("1", (4, 4), 1), (255, 255, 255)),
        (Image.fromarray(np.full((4, 4), 0.5, dtype=np.float32)), (128, 128, 128)),  # F: 0..1
        (Image.fromarray(np.full((4, 4), 7.0, dtype=np.float32)), (255, 255, 255)),  # clipped
    ],
    ids=["cmyk", "la-transparent", "la-opaque", "rgba-transparent", "rgba-opaque", "1", "float", "float-clipped"],
)
def test_modes_convert_to_the_expected_rgb(image, expected):
    rgb = to_rgb(image)
    assert rgb.mode == "RGB" and rgb.size == image.size
    assert colours(rgb) == {expected}


def test_palette_transparency_and_file_modes_through_open_image(tmp_path):
    palette = Image.new("P", (4, 2))
    palette.putpalette([0, 0, 0, 10, 200, 30] + [0] * 762)
    palette.putpixel((0, 0), 1)
    palette.save(tmp_path / "p.png", transparency=0)  # index 0 (black) is transparent
    assert open_image(str(tmp_path / "p.png")).getpixel((0, 0)) == (10, 200, 30)
    assert open_image(str(tmp_path / "p.png")).getpixel((1, 0)) == BACKGROUND
    Image.new("LA", (4, 4), (0, 0)).save(tmp_path / "la.png")
    assert colours(open_image(str(tmp_path / "la.png"))) == {BACKGROUND}
    Image.new("CMYK", (4, 4), (255, 0, 255, 0)).save(tmp_path / "cmyk.tiff")
    assert colours(open_image(str(tmp_path / "cmyk.tiff"))) == {(0, 255, 0)}


def test_report_thumbnails_composite_transparency_on_the_background():
    uri = thumbnail_uri(Image.new("RGBA", (8, 8), (0, 0, 0, 0)), 8)
    with Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1]))) as thumb:
        assert colours(thumb.convert("RGB")) == {BACKGROUND}


def test_scorer_sources_share_the_conversion(built_scorer, tmp_path, eps_opened):
    picture = grey_picture()
    vectors = built_scorer.sources.embed([Image.fromarray(picture), sixteen_bit(picture)])
    np.testing.assert_allclose(vectors[0].numpy(), vectors[1].numpy(), atol=1e-5)
    eps = tmp_path / "source.eps"
    eps.write_bytes(EPS)
    with pytest.raises(InputError, match="source.eps: unreadable image: not a PNG"):
        built_scorer.score(["a red circle"], [eps])
    assert eps_opened == []


def test_cim_score_records_a_bomb_row_and_scores_the_others(built_gallery, bad_files, tmp_path):
    rows = [
        {"id": "before", "caption": "a red circle", "source_id": "red-circle-0"},
        {"id": "bomb", "caption": "a red circle", "image": str(bad_files["bomb"])},
        {"id": "eps", "caption": "a red circle", "image": str(bad_files["eps"])},
        {"id": "after", "caption": "a blue square", "source_id": "blue-square-0"},
    ]
    captions = tmp_path / "captions.jsonl"
    captions.write_text("".join(json.dumps(row) + "\n" for row in rows))
    out = tmp_path / "out.jsonl"
    result = CliRunner().invoke(app, ["score", "--gallery", str(built_gallery), "--captions", str(captions),
                                      "--out", str(out), "--device", "cpu"])
    assert result.exit_code == 0, result.output
    records = {record["id"]: record for record in map(json.loads, out.read_text().splitlines())}
    assert "reward" in records["before"] and "reward" in records["after"]
    assert "captions.jsonl:2" in records["bomb"]["error"] and "over the pixel limit" in records["bomb"]["error"]
    assert "captions.jsonl:3" in records["eps"]["error"] and "not a PNG" in records["eps"]["error"]


def test_server_answers_422_for_bombs_and_eps(built_gallery, built_scorer, bad_files, eps_opened):
    settings = ServeSettings(gallery=built_gallery, image_root=bad_files["bomb"].parent)
    with thread_server(settings, built_scorer) as url:
        def post(item: dict) -> httpx.Response:
            return httpx.post(f"{url}/v1/score", json={"items": [{"caption": "a red circle", **item}]})

        for item, message in [
            ({"image_path": "bomb.png"}, "over the pixel limit"),
            ({"image_path": "pic.eps"}, "not a PNG"),
            ({"image_path": "empty.png"}, "unreadable image"),
            ({"image_b64": base64.b64encode(EPS).decode()}, "not a PNG"),
            ({"image_b64": base64.b64encode(bomb_png()).decode()}, "pixel"),
        ]:
            response = post(item)
            assert response.status_code == 422, (item, response.text)
            assert message in response.json()["detail"], item
        grey = base64.b64encode(png_bytes(sixteen_bit(grey_picture()))).decode()
        assert post({"image_b64": grey}).status_code == 200
        assert 'status="500"' not in httpx.get(f"{url}/metrics").text
    assert eps_opened == []
