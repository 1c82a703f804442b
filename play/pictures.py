"""Your own pictures of digits, made to look like MNIST's: 28x28, bright on black, centred, normalised.

read_picture() reads a photo of digits on paper, or digits drawn on screen: it finds the ink by
its colour against the paper's, leaves out grid and ruled lines, specks and the paper's edges, and
cuts the rest into digits, row by row. centre_digit() places each digit as MNIST places its own
(the drawing pad uses it too).
"""

from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageOps
from scipy import ndimage
from skimage import filters, morphology

from mnist_mlp import normalize

# Pictures are scaled so that their longer side is SIZE pixels, up or down: the rules below then
# work in the same pixels for a 28x28 drawing and a 12-megapixel photo.
SIZE = 512
# The paper's colour at each pixel is the lightest colour around it, in a window a third of the
# picture's shorter side: wider than the strokes of any digit that fits in the picture.
PAPER_WINDOW = 1 / 3
# A picture is blank when its ink differs from the paper by under this share of the paper's
# brightness: noise, paper grain and light-blue printed rules (0.17) stay under it; a grey pencil
# is about 0.5, and phone photos of pen on paper 0.3 or more.
BLANK = 0.2
# Parts of the ink thinner than THIN of the strokes' width are lines or hairs, not strokes; pieces
# nearer than GAP of the tallest piece's height are parts of one digit, or of one row.
THIN, GAP = 0.5, 0.1
# MNIST's strokes are 0.10 as wide as its digits are tall (the median over its training digits,
# scaled to 64 pixels and measured as stroke_width() does). Yours are made that wide when they
# are over a third wider or narrower.
PEN_WIDTH_RATIO, PEN_WIDTH_SLACK = 0.10, 1 / 3


class PictureError(Exception):
    """A picture that opened fine but holds no digit to read; the message ends a sentence that
    starts with the picture's name, such as "looks blank: no digit found"."""


class Picture(NamedTuple):
    """What read_picture() found in a picture."""
    digits: torch.Tensor  # [N, 1, 28, 28], normalised as in training, rows top to bottom, each left to right
    rows: list  # how many digits each row has, top to bottom: [1] for one digit, [5, 5] for two rows of five
    photo: np.ndarray  # [H, W, 3] uint8: the picture as read (turned upright, scaled to SIZE)
    ink: np.ndarray  # [H, W] float 0-1: the ink kept, bright on black
    boxes: list  # each digit's (top, left, bottom, right) in those pixels, bottom and right excluded


def read_picture(path):
    """The digits in the picture at `path` (a file name or a file). PIL's and Python's own errors
    pass through (no such file, not a picture); PictureError where no digit is found."""
    with Image.open(path) as image:
        image.draft("RGB", (SIZE, SIZE))  # a JPEG is decoded at a smaller size where it can be: faster
        image = ImageOps.exif_transpose(image).convert("RGBA")  # phone photos: turned upright
    scale = SIZE / max(image.size)
    image = image.resize((max(1, round(image.width * scale)), max(1, round(image.height * scale))),
                         Image.LANCZOS)
    rgba = np.asarray(image, dtype=np.float32) / 255
    photo = rgba[..., :3] * rgba[..., 3:] + 1 - rgba[..., 3:]  # see-through parts are white paper
    ink = ink_of(photo)
    level = ink_level(ink)
    if level < BLANK:
        raise PictureError("looks blank: no digit found")
    # A stroke's edge is where its ink is half as strong as at its core.
    labels, width = stroke_pieces(ink > level / 2)
    boxes = [(rows.start, columns.start, rows.stop, columns.stop)
             for rows, columns in ndimage.find_objects(labels)]
    digits, rows = reading_order(boxes, width)
    if not digits:
        raise PictureError("has no digit in it, only lines or specks")
    kept = np.isin(labels, [piece + 1 for digit in digits for piece in digit])
    ink = np.where(kept, (ink / level).clip(0, 1), 0)  # the strokes' core at full strength
    digit_boxes = [(min(boxes[piece][0] for piece in digit), min(boxes[piece][1] for piece in digit),
                    max(boxes[piece][2] for piece in digit), max(boxes[piece][3] for piece in digit))
                   for digit in digits]
    pens = [np.isin(labels[top:bottom, left:right], [piece + 1 for piece in digit])
            for digit, (top, left, bottom, right) in zip(digits, digit_boxes, strict=True)]
    tensors = [centre_digit(torch.from_numpy(pen).float()) for pen in pens]
    return Picture(torch.cat(tensors), rows, (photo * 255).round().astype(np.uint8), ink, digit_boxes)


def ink_of(rgb):
    """How far each pixel's colour is from the paper's there, as a share of the paper's brightness
    (a shadow dims ink and paper alike): rgb [H, W, 3] 0-1 to ink [H, W] 0-1, bright on black.
    In colour, not grey: dark green ink on yellow paper differs in hue as much as in brightness.
    Light ink on a dark ground (as MNIST's) is turned dark on light first."""
    grey = rgb @ np.array([0.299, 0.587, 0.114], dtype=rgb.dtype)
    ground = np.median(grey)  # the ink is the smaller part of a picture: its middle value is the ground's
    if ground < 0.5 and grey.mean() > ground:  # a dark ground, and what differs from it is bright
        rgb = 1 - rgb
    smooth = ndimage.gaussian_filter(rgb, (1, 1, 0))  # noise, and JPEG's blocks, smoothed out
    window = max(3, round(min(rgb.shape[:2]) * PAPER_WINDOW))
    # A closing (the most, then the least, around each pixel) takes out, in each colour, what is
    # darker than the paper and narrower than the window: the paper is left, in its own light.
    paper = ndimage.grey_closing(smooth, size=(window, window, 1), mode="nearest")
    distance = np.sqrt(((paper - smooth) ** 2).sum(axis=2))
    return (distance / np.sqrt((paper ** 2).sum(axis=2)).clip(min=0.05)).clip(0, 1)


def ink_level(ink):
    """How strong the ink is at the strokes' core, from `ink` [H, W] 0-1: the median of the
    strongest of three kinds of pixel that Otsu's method tells apart (paper; faint marks such as
    grid lines, shading and the paper's grain; ink), 0 where the picture is all one colour."""
    if ink.max() - ink.min() < 1e-3:
        return 0.0
    return float(np.median(ink[ink > filters.threshold_multiotsu(ink, classes=3)[1]]))


def stroke_pieces(mask):
    """The pieces of ink that make digits, from the ink `mask` (bool [H, W]): labels [H, W], 0
    for none, 1, 2, ... for the pieces. Taken out: what is thinner than the strokes (lines of grid
    or ruled paper, hairs), pieces that run from edge to edge (a line across the picture, the
    paper's edge), and specks (under a tenth of the largest piece)."""
    width = stroke_width(mask)
    mask = morphology.isotropic_opening(mask, THIN * width / 2)
    labels, count = ndimage.label(mask, structure=np.ones((3, 3)))
    across = [rows.stop - rows.start == mask.shape[0] or columns.stop - columns.start == mask.shape[1]
              for rows, columns in ndimage.find_objects(labels)]
    area = np.bincount(labels.ravel(), minlength=count + 1)[1:]
    area[across] = 0
    keep = np.flatnonzero(area >= max(0.1 * area.max(initial=0), 1)) + 1
    return ndimage.label(np.isin(labels, keep), structure=np.ones((3, 3)))[0], width


def stroke_width(pen):
    """How wide the strokes of `pen` (bool [H, W]) are, in pixels: a stroke of length L and width w
    covers L * w pixels, 2 * L of them on its edges."""
    edge = pen & ~ndimage.binary_erosion(pen, structure=np.ones((3, 3)))
    return 2 * pen.sum() / max(edge.sum(), 1)


def reading_order(boxes, width):
    """Pieces of ink, given by their (top, left, bottom, right), grouped into digits in reading
    order: rows top to bottom, each left to right. Returns the digits (each a list of places in
    `boxes`) and how many digits each row has. Left out: digits under 0.4 of the tallest piece's
    height (a dot, a dash) or under two strokes' `width` tall (a bit of a line)."""
    tallest = max((bottom - top for top, _, bottom, _ in boxes), default=0)
    shortest = max(0.4 * tallest, 2 * width)
    digits, rows = [], []
    for row in side_by_side(range(len(boxes)), boxes, 0, GAP * tallest):
        row_digits = [digit for digit in side_by_side(row, boxes, 1, GAP * tallest)
                      if max(boxes[i][2] for i in digit) - min(boxes[i][0] for i in digit) >= shortest]
        digits += row_digits
        rows += [len(row_digits)] if row_digits else []
    return digits, rows


def side_by_side(pieces, boxes, axis, gap):
    """`pieces` (places in `boxes`) grouped in order along `axis` (0: down, 1: across): a piece
    joins the group before it when their spans along the axis overlap or leave under `gap`
    pixels between them. Rows of digits have paper between them; so have the digits of a row."""
    groups, end = [], None
    for piece in sorted(pieces, key=lambda piece: boxes[piece][axis]):
        start, stop = boxes[piece][axis], boxes[piece][axis + 2]
        if groups and start < end + gap:
            groups[-1].append(piece)
            end = max(end, stop)
        else:
            groups.append([piece])
            end = stop
    return groups


def even_out_pen(pen):
    """The strokes of `pen` (bool [H, W], cropped to the digit) thinned or thickened so that, for
    the digit's size, they are as wide as MNIST's: a thick felt pen, or a small digit on the
    drawing pad, would otherwise fill the loops in and look like an 8 to a network that has only
    seen MNIST's pen. The pen is square, as stroke_width() measures."""
    width, target = stroke_width(pen), PEN_WIDTH_RATIO * max(pen.shape)
    # Pixels to take off (or add to) each side of a stroke: the digit's size changes with its strokes.
    change = round((width - target) / (2 - 2 * PEN_WIDTH_RATIO))
    if abs(width - target) < PEN_WIDTH_SLACK * target or change == 0:
        return pen
    if change < 0:
        return ndimage.maximum_filter(np.pad(pen, -change), 1 - 2 * change)
    thinner = ndimage.minimum_filter(pen, 2 * change + 1, mode="constant")
    return thinner if thinner.any() else pen  # never rub the whole digit out


def crop(pen):
    """`pen` (bool [H, W]) cut to the smallest rectangle that holds all its ink."""
    rows, columns = np.flatnonzero(pen.any(axis=1)), np.flatnonzero(pen.any(axis=0))
    return pen[rows[0]: rows[-1] + 1, columns[0]: columns[-1] + 1]


def centre_digit(ink):
    """Ink (float tensor [H, W], 0-1, bright on black, any size) placed as MNIST places its
    digits: [1, 1, 28, 28], normalised as in training. As NIST's digits, from which MNIST's come,
    it is first black and white (ink where over 0.5); then cropped to the ink, its strokes made
    as wide as MNIST's for its size, scaled so that its longer side is 20 pixels (the shades of
    grey come from that scaling), and its centre of mass put at MNIST's, row 14, column 14."""
    pen = ink.numpy() > 0.5
    if not pen.any():
        return normalize(torch.zeros(1, 1, 28, 28))
    pen = torch.from_numpy(crop(even_out_pen(crop(pen)))).float()
    scale = 20 / max(pen.shape)  # keeping its proportions: a 1 stays thin
    size = (max(1, round(pen.shape[0] * scale)), max(1, round(pen.shape[1] * scale)))
    # antialias: each new pixel averages all the pixels it covers, so thin strokes are not lost.
    digit = F.interpolate(pen[None, None], size=size, mode="bilinear", antialias=True)[0, 0]
    digit = digit / digit.max()  # shrinking greys thin strokes; MNIST's are full brightness at their core
    rows, columns = torch.arange(size[0], dtype=torch.float32), torch.arange(size[1], dtype=torch.float32)
    centre_y = float(digit.sum(dim=1) @ rows / digit.sum())
    centre_x = float(digit.sum(dim=0) @ columns / digit.sum())
    # Row 14, column 14: where MNIST's training digits have their centre of mass, on average.
    top = min(max(round(14 - centre_y), 0), 28 - size[0])
    left = min(max(round(14 - centre_x), 0), 28 - size[1])
    placed = torch.zeros(28, 28)
    placed[top: top + size[0], left: left + size[1]] = digit
    return normalize(placed.view(1, 1, 28, 28))  # as in training
