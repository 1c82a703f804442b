"""Photos of digits on paper (issue 18): the paper's shading, specks, ruled lines and a margin,
coloured ink and pencil, a big phone photo turned by its EXIF tag, several digits, and pictures
with no digit. The pages are built here (tests/photo_pages.py); most tests assert on what the
preparation keeps (the digits found, their boxes), which needs no trained network."""

import os
import re

import numpy as np
import pytest
import torch
from conftest import FONTS, draw_strokes, needs_real_mnist
from photo_pages import BLUE_BALLPOINT, OFF_WHITE, PAGE_TYPES, PENCIL, glyph_mask, photo_page
from PIL import Image, ImageFilter
from scipy import ndimage

import mnist_mlp

fonts_missing = [name for name, path in FONTS.items() if not os.path.exists(path)]
needs_fonts = pytest.mark.skipif(bool(fonts_missing), reason=f"fonts not installed: {', '.join(fonts_missing)} "
                                 "(Debian: apt-get install fonts-humor-sans fonts-comic-neue fonts-klee)")
# The handwriting font where it is installed; PIL's own font (every Pillow has it) otherwise:
# what is kept of a page does not depend on the font.
FONT = FONTS["Comic Neue Bold"] if os.path.exists(FONTS["Comic Neue Bold"]) else None


def ink_box(mask):
    """The (top, left, bottom, right) of the True pixels of a bool array; bottom and right excluded."""
    rows, columns = mask.any(axis=1).nonzero()[0], mask.any(axis=0).nonzero()[0]
    return rows[0], columns[0], rows[-1] + 1, columns[-1] + 1


def prepared(tmp_path, picture, name="page.png"):
    path = str(tmp_path / name)
    picture.save(path)
    return mnist_mlp.prepare_image(path, details=True)


def assert_box_is_the_digits(found, text, font_size=150, slack=4):
    """One digit found, and its box is the written digit's, within `slack` pixels."""
    assert not isinstance(found, str), found
    assert len(found.digits) == 1 and found.digits.shape == (1, 1, 28, 28)
    written = ink_box(glyph_mask(FONT, text, (found.kept.shape[1], found.kept.shape[0]), font_size))
    assert np.abs(np.subtract(found.boxes[0], written)).max() <= slack, (found.boxes, written)


@pytest.mark.parametrize("kind", list(PAGE_TYPES))
def test_on_each_kind_of_page_only_the_digit_is_kept(tmp_path, kind):
    # Shading across the page, specks 3-6 px, ruled lines, pencil, blue ink, blur, noise, JPEG.
    found = prepared(tmp_path, photo_page(FONT, "4", seed=1, **PAGE_TYPES[kind]))
    assert_box_is_the_digits(found, "4", slack=5 if PAGE_TYPES[kind].get("blur") else 3)


def test_pencil_on_ruled_paper_with_a_red_margin(tmp_path):
    page = photo_page(FONT, "2", ink=PENCIL, paper=OFF_WHITE, rules=36, margin=True, light=(150, 245), seed=3)
    found = prepared(tmp_path, page)
    assert_box_is_the_digits(found, "2")
    top, left, bottom, right = found.boxes[0]
    outside = found.kept.copy()
    outside[top: bottom, left: right] = 0
    assert outside.max() == 0  # no rule, no margin line, no speck kept outside the digit
    assert found.kept[:, 60:63].max() == 0  # the margin is far from the digit: none of it kept


def test_specks_a_few_pixels_from_the_digit_are_left_out(tmp_path):
    letters = glyph_mask(FONT, "1", (360, 480))
    page = np.where(letters, 0, 255).astype(np.uint8)
    far = ndimage.distance_transform_edt(~letters)
    rows, columns = np.nonzero((far >= 6) & (far < 7))  # centres 6 px out: 3-5 px of paper between
    rng = np.random.default_rng(6)
    for place in rng.choice(len(rows), 6, replace=False):
        y, x = np.ogrid[:480, :360]
        page[(y - rows[place]) ** 2 + (x - columns[place]) ** 2 <= 1.5 ** 2] = 30  # 3 px across
    found = prepared(tmp_path, Image.fromarray(page))
    assert_box_is_the_digits(found, "1", slack=1)


def test_a_big_phone_photo_turned_by_its_exif_tag(tmp_path):
    # A 12-megapixel JPEG as a phone stores it: sideways, with EXIF orientation 6 ("turn it 90
    # degrees clockwise to show it"), of blue ballpoint on paper with a shadow across a corner.
    upright = photo_page(FONT, "7", ink=BLUE_BALLPOINT, size=(3000, 4000), font_size=1250, seed=4)
    pixels = np.asarray(upright, dtype=float)
    rows, columns = np.mgrid[0:4000, 0:3000]
    shadow = np.where(rows + columns < 2200, 0.6, 1.0)  # the hand's shadow, over the top left corner
    shadow = ndimage.zoom(ndimage.gaussian_filter(shadow[::10, ::10], 4), 10, order=1)  # a soft edge
    upright = Image.fromarray((pixels * shadow[..., None]).astype(np.uint8))
    stored = upright.transpose(Image.Transpose.ROTATE_90)  # what orientation 6 turns back upright
    exif = Image.Exif()
    exif[0x0112] = 6  # the Orientation tag
    path = tmp_path / "phone.jpg"
    stored.save(path, quality=90, exif=exif)
    found = mnist_mlp.prepare_image(str(path), details=True)
    assert not isinstance(found, str), found
    assert found.photo.shape == (512, 384, 3)  # upright, and shrunk before anything else
    assert len(found.digits) == 1
    top, left, bottom, right = found.boxes[0]
    written = ink_box(glyph_mask(FONT, "7", (3000, 4000), 1250))
    assert np.abs(np.array([top, left, bottom, right]) - np.array(written) * 512 / 4000).max() <= 4


def test_several_digits_are_found_left_to_right(tmp_path):
    page = photo_page(FONT, "3 0 5", font_size=100, seed=5, **PAGE_TYPES["all at once, blurred, noisy, JPEG 60"])
    found = prepared(tmp_path, page)
    assert not isinstance(found, str), found
    assert found.digits.shape == (3, 1, 28, 28)
    letters = glyph_mask(FONT, "3 0 5", (360, 480), 100)
    written, _ = ndimage.label(letters.any(axis=0))  # the columns of each digit: 1, 2, 3 left to right
    for number, (top, left, bottom, right) in enumerate(found.boxes, start=1):
        digit_box = ink_box(letters & (written == number))
        assert np.abs(np.subtract((top, left, bottom, right), digit_box)).max() <= 5, (number, found.boxes)


def test_a_number_is_printed_with_each_digits_confidence(trained_model, tmp_path, capsys):
    path = tmp_path / "number.png"
    photo_page(FONT, "3 0 5", font_size=100).save(path)
    mnist_mlp.run(["--load-model", trained_model, "--predict", str(path), "--no-plot"])
    line = capsys.readouterr().out.splitlines()[-1]
    assert re.fullmatch(rf"{re.escape(str(path))}: \d{{3}} \(\d \d+%, \d \d+%, \d \d+%\)", line), line


def test_one_digit_is_printed_as_before(trained_model, tmp_path, capsys):
    path = tmp_path / "one.png"
    photo_page(FONT, "7", specks=6, light=(140, 250)).save(path)
    mnist_mlp.run(["--load-model", trained_model, "--predict", str(path), "--no-plot"])
    line = capsys.readouterr().out.splitlines()[-1]
    assert re.fullmatch(rf"{re.escape(str(path))}: \d \(\d+\.\d%\); then \d \(\d+\.\d%\), \d \(\d+\.\d%\)", line)


@pytest.mark.parametrize("picture, message", [
    ("blank", "looks blank: no digit found"),
    ("face", "does not look like a digit on paper"),
])
def test_a_picture_with_no_digit_says_so_and_fails(trained_model, tmp_path, capsys, picture, message):
    if picture == "blank":  # a photo of an empty page: off-white, with sensor noise, as JPEG
        path = tmp_path / "blank.jpg"
        noise = np.random.default_rng(0).normal(0, 6, (480, 360, 3))
        Image.fromarray((np.array(OFF_WHITE) + noise).clip(0, 255).astype(np.uint8)).save(path, quality=60)
    else:  # a portrait photo that matplotlib ships (Grace Hopper)
        import matplotlib.cbook

        path = matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)
    with pytest.raises(SystemExit) as excinfo:
        mnist_mlp.run(["--load-model", trained_model, "--predict", str(path), "--no-plot"])
    assert excinfo.value.code == 1
    out, err = capsys.readouterr()
    assert str(path) not in out  # no reading of it
    assert err.strip().splitlines() == [err.strip()] and message in err, err


def test_a_thick_blurred_digit_is_not_eaten_by_the_background(tmp_path):
    # A small blurry scan blown up (32x32 to 160x160): strokes some 25 pixels wide, far wider
    # than a window that would fit ruled lines or shadows; all of the stroke must stay ink.
    ink = draw_strokes([(8, 6, 24, 6), (24, 6, 14, 27)], size=32, radius=1.6)
    scan = Image.fromarray((255 * (1 - ink)).astype(np.uint8)).filter(ImageFilter.GaussianBlur(1))
    found = prepared(tmp_path, scan.resize((160, 160), Image.BICUBIC))
    assert not isinstance(found, str) and len(found.digits) == 1
    stroke = np.asarray(scan.resize((160, 160), Image.BICUBIC)) < 64  # the dark core of the strokes
    assert found.kept[stroke].min() > 0.6


def test_the_saved_picture_shows_the_photo_the_ink_kept_and_the_28x28(trained_model, tmp_path, monkeypatch):
    figures = []
    monkeypatch.setattr(mnist_mlp, "save_picture", lambda figure, path: figures.append(figure))
    path = tmp_path / "page.png"
    photo_page(FONT, "3", rules=36, specks=6).save(path)
    mnist_mlp.run(["--load-model", trained_model, "--predict", str(path), "--plot", str(tmp_path / "p.png")])
    titles = " ".join(axes.get_title() for axes in figures[0].get_axes())
    assert "your picture" in titles and "the ink kept" in titles and "what the network sees" in titles


@needs_real_mnist
@needs_fonts
def test_photos_of_handwriting_fonts_read_right(real_model, tmp_path):
    model = mnist_mlp.load_model(real_model, torch.device("cpu"))
    right = 0
    for font_path in FONTS.values():
        for digit in range(10):
            path = tmp_path / f"{digit}.png"
            page = photo_page(font_path, str(digit), seed=digit, **PAGE_TYPES["all at once, blurred, noisy, JPEG 60"])
            page.save(path)
            digits = mnist_mlp.prepare_image(str(path))
            with torch.no_grad():
                right += len(digits) == 1 and int(model(digits).argmax()) == digit
    assert right >= 27, f"{right} of 30 read right"
