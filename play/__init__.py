"""Play with the network that mnist_mlp.py trained: read your own digits, draw some, look inside.

In a notebook, after `%run mnist_mlp.py` has trained `model` (or with the path of saved weights,
such as "mnist_mlp.pt", in its place):

    import play
    play.read(model, "my_digit.jpg")  # a picture, or a phone photo of digits on paper
    play.inside(model, "data")         # the first layer's weights, and the surest mistakes
    %matplotlib widget
    play.draw(model)                   # a pad to draw on (pip install ipympl)

In a terminal: python -m play read|draw|inside (see python -m play --help). The files:
weights.py loads a network; pictures.py turns a picture into 28x28 digits; pad.py is the drawing
pad; look_inside.py looks inside; __main__.py is the command line.
"""

import os
import sys

import matplotlib.pyplot as plt
import torch

from mnist_mlp import MNIST_MEAN, MNIST_STD
from play import look_inside
from play.pad import open_pad
from play.pictures import PictureError, read_picture
from play.weights import load_network


def read(model, *pictures, plot=None):
    """Print what the network reads in each picture, one line each: "seven.png: 7 (99.1%)", or
    for several digits "number.jpg: 305 (3 100%, 0 98%, 5 100%)", rows apart with " / ". A
    picture that cannot be read gets a line on stderr, and the rest are still read. The first
    picture read is drawn: shown below the cell in a notebook; saved to `plot` if given."""
    read_each(load_network(model), pictures, plot)


def read_each(network, pictures, plot):
    """read(), for a loaded network; plot=False draws nothing. Returns how many pictures could not be read."""
    unread, first = 0, None
    for path in pictures:
        try:
            picture = read_picture(path)
        except (OSError, PictureError) as error:  # OSError: no such file, a folder, not a picture, ...
            print(f"{path}: {error.strerror if isinstance(error, OSError) and error.strerror else error}",
                  file=sys.stderr)
            unread += 1
            continue
        with torch.no_grad():
            probabilities = network(picture.digits).exp()  # [digits, 10]
        sureness, digits = probabilities.max(dim=1)
        number = " / ".join("".join(map(str, row.tolist())) for row in digits.split(picture.rows))
        each = (f"{digit} {sure:.0%}" for digit, sure in zip(digits.tolist(), sureness.tolist()))
        print(f"{path}: {number} ({sureness[0]:.1%})" if len(digits) == 1 else f"{path}: {number} ({', '.join(each)})")
        first = first or (path, picture, digits, sureness)
    if first and plot is not False:
        plot_reading(*first, plot)
    return unread


def plot_reading(path, picture, digits, sureness, plot=None):
    """Draw a picture as it was read: the photo with a box around each digit found, the ink kept,
    and each digit as the network saw it (28x28), with what it read."""
    figure = plt.figure(figsize=(7.5, 4.6), layout="constrained")  # 750 pixels: as wide as a notebook's cell
    top, bottom = figure.subfigures(2, 1, height_ratios=(2.2, 1))
    photo_axes, ink_axes = top.subplots(1, 2)
    photo_axes.imshow(picture.photo)
    for box_top, left, box_bottom, right in picture.boxes:
        photo_axes.add_patch(plt.Rectangle((left, box_top), right - left, box_bottom - box_top,
                                           fill=False, edgecolor="tab:red", linewidth=2))
    photo_axes.set_title(f"{os.path.basename(path)}: the digits found")
    ink_axes.imshow(picture.ink, cmap="gray", vmin=0, vmax=1)
    ink_axes.set_title("the ink kept")
    seen = bottom.subplots(1, max(len(digits), 2), squeeze=False)[0]
    for axes, digit, reading, sure in zip(seen, picture.digits, digits.tolist(), sureness.tolist()):
        axes.imshow((digit[0] * MNIST_STD + MNIST_MEAN).numpy(), cmap="gray", vmin=0, vmax=1)
        axes.set_title(f"read as {reading}\n({sure:.0%})", fontsize=9)
    for axes in [photo_axes, ink_axes, *seen]:
        axes.axis("off")
    bottom.suptitle("what the network reads (28x28, as MNIST's digits)", fontsize=10)
    if plot:
        figure.savefig(plot)
        print(f"Saved the picture to {plot}")


def draw(model):
    """A pad to draw digits on, read as you draw: in a window, or below the cell in a notebook
    after `%matplotlib widget`. Right-click or c clears it; q closes it."""
    open_pad(load_network(model))  # the pad lives as long as its figure


def inside(model, data_dir="data", plot=None):
    """Score the network on MNIST's test pictures (in `data_dir`) and draw what its first layer
    looks for beside its surest mistakes: shown below the cell in a notebook, saved to `plot` if given."""
    look_inside.inside(load_network(model), data_dir, plot)
