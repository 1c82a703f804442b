"""Digits written with pens of any width read as well as MNIST's: strokes evened out to MNIST's
width before the network reads them (even_out_pen())."""

import os

import numpy as np
import pytest
import torch
from conftest import FONTS, PEN_WIDTHS, draw_strokes, font_digit, needs_real_mnist

import mnist_mlp

fonts_missing = [name for name, path in FONTS.items() if not os.path.exists(path)]
needs_fonts = pytest.mark.skipif(bool(fonts_missing), reason=f"fonts not installed: {', '.join(fonts_missing)} "
                                 "(Debian: apt-get install fonts-humor-sans fonts-comic-neue fonts-klee)")


def stroke_width(ink):
    """Mean width of the strokes in a 0-1 picture, as even_out_pen() measures it."""
    pen = (np.asarray(ink) > 0.5)
    inside = pen.copy()
    inside[1:-1, 1:-1] = np.logical_and.reduce([pen[1 + dy: pen.shape[0] - 1 + dy, 1 + dx: pen.shape[1] - 1 + dx]
                                                for dy in (-1, 0, 1) for dx in (-1, 0, 1)])
    inside[[0, -1], :] = inside[:, [0, -1]] = False
    return 2 * pen.sum() / (pen & ~inside).sum()


@pytest.mark.parametrize("radius", [2, 6, 12, 20])  # a 7 about 160 pixels tall, drawn with thin to fat pens
def test_strokes_come_out_as_wide_as_mnists_for_the_digits_size(radius):
    ink = torch.tensor(draw_strokes([(20, 20, 180, 20), (180, 20, 90, 180)], size=200, radius=radius),
                       dtype=torch.float32)
    evened = mnist_mlp.even_out_pen(mnist_mlp.crop_to_ink(ink))
    target = mnist_mlp.PEN_WIDTH_RATIO * max(evened.shape)
    assert abs(stroke_width(evened) - target) <= max(2, 0.4 * target), (stroke_width(ink), stroke_width(evened))


def test_a_pen_already_as_wide_as_mnists_is_left_alone():
    ink = torch.tensor(draw_strokes([(20, 20, 180, 20), (180, 20, 90, 180)], size=200, radius=8),
                       dtype=torch.float32)
    cropped = mnist_mlp.crop_to_ink(ink)
    assert torch.equal(mnist_mlp.even_out_pen(cropped), cropped)


def test_a_dot_is_never_rubbed_out():
    ink = torch.zeros(50, 50)
    ink[20:30, 20:30] = 1  # a blob with no stroke in it: thinning would leave nothing
    assert mnist_mlp.centre_digit(ink).max() > 0


@needs_real_mnist
@needs_fonts
def test_handwriting_fonts_read_right_with_thin_and_thick_pens(real_model, tmp_path):
    model = mnist_mlp.load_model(real_model, torch.device("cpu"))
    right = {}
    for width in PEN_WIDTHS:
        right[width] = 0
        for font_path in FONTS.values():
            for digit in range(10):
                path = tmp_path / f"{digit}.png"
                font_digit(font_path, digit, width).save(path)  # read from a file, as --predict reads it
                with torch.no_grad():
                    right[width] += int(model(mnist_mlp.prepare_image(str(path))).argmax()) == digit
    print(f"read right, of 30, by pen width: {right}")
    assert right[0] >= 27 and right[3] >= 27 and right[8] >= 27 and right[14] >= 21
