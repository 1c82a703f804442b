"""Shared test set-up: no windows, no downloads, and a small synthetic MNIST written as real IDX files."""

import os
import socket
import subprocess
import sys

os.environ.setdefault("MPLBACKEND", "Agg")  # before matplotlib is imported: never open a window

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

SCRIPT = os.path.join(ROOT, "mnist_mlp.py")
REAL_MNIST = os.environ.get("MNIST_DATA")
has_real_mnist = REAL_MNIST is not None and os.path.isdir(os.path.join(REAL_MNIST, "MNIST", "raw"))
needs_real_mnist = pytest.mark.skipif(not has_real_mnist, reason="set MNIST_DATA to a folder with MNIST/raw/")


def error_of(excinfo):
    """The message of a clean exit through mnist_mlp.fail()."""
    assert isinstance(excinfo.value.code, str), excinfo.value.code
    return excinfo.value.code


def run_script(*args, closed_port_url, cwd=None, env=None, before=""):
    """Run mnist_mlp.py as a user would, in a fresh process whose downloads go to a closed port (or
    another mirror), from `cwd`, with `env` added to the environment; `before` is Python code run
    first (to break something on purpose). A None in `env` unsets that variable."""
    code = ("import runpy, sys; from torchvision import datasets\n"
            f"datasets.MNIST.mirrors = [{closed_port_url!r}]\n{before}\n"
            f"sys.argv = [{SCRIPT!r}] + sys.argv[1:]; runpy.run_path({SCRIPT!r}, run_name='__main__')")
    env = {name: value for name, value in {**os.environ, "MPLBACKEND": "Agg", **(env or {})}.items()
           if value is not None}  # None in `env`: unset
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=env,
                          cwd=cwd, timeout=300)


def write_idx(path, array):
    """Write a uint8 array as an IDX file, the format MNIST ships in (big-endian header, then bytes)."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    with open(path, "wb") as file:
        file.write((0x0800 + array.ndim).to_bytes(4, "big"))
        for size in array.shape:
            file.write(size.to_bytes(4, "big"))
        file.write(array.tobytes())


def draw_strokes(strokes, size=28, radius=1.3):
    """A size x size picture, 0-1, of thick straight strokes [(x0, y0, x1, y1), ...] in pixel units."""
    y, x = np.mgrid[0:size, 0:size] + 0.5  # pixel centres
    picture = np.zeros((size, size))
    for x0, y0, x1, y1 in strokes:
        along = np.array([x1 - x0, y1 - y0])
        t = np.clip(((x - x0) * along[0] + (y - y0) * along[1]) / max(along @ along, 1e-9), 0, 1)
        distance = np.hypot(x - x0 - t * along[0], y - y0 - t * along[1])
        picture = np.maximum(picture, np.clip(radius + 0.5 - distance, 0, 1))
    return picture


def template_strokes():
    """Ten made-up digits, each three random thick strokes, placed as MNIST places its digits: the
    longer side of the ink 20 pixels, its centre of mass at the centre of 28x28."""
    rng = np.random.default_rng(1234)
    templates = []
    for _ in range(10):
        strokes = rng.uniform(0, 1, (3, 4))  # three strokes: x0, y0, x1, y1
        ends = strokes.reshape(-1, 2)
        span = (ends.max(axis=0) - ends.min(axis=0)).max()
        strokes = (strokes - np.tile(ends.min(axis=0), 2)) * (17.4 / span) + 4  # 17.4 + the pen's width = 20
        picture = draw_strokes(strokes)
        centres = np.arange(28) + 0.5
        centre = np.array([picture.sum(axis=0) @ centres, picture.sum(axis=1) @ centres]) / picture.sum()
        strokes = strokes + np.tile(14 - centre, 2)  # centre of mass to (14, 14), the middle of 28x28
        templates.append(strokes)
    return templates


# Handwriting-style fonts that Debian ships (fonts-humor-sans, fonts-comic-neue, fonts-klee).
FONTS = {"Humor Sans": "/usr/share/fonts/truetype/humor-sans/Humor-Sans.ttf",
         "Comic Neue Bold": "/usr/share/fonts/opentype/comic-neue/ComicNeue-Bold.otf",
         "Klee One SemiBold": "/usr/share/fonts/truetype/klee/KleeOne-SemiBold.ttf"}
PEN_WIDTHS = (0, 3, 8, 14)  # PIL's stroke_width, in pixels, around a 150 px font


def font_digit(font_path, digit, stroke_width):
    """A digit as a user might write it with a pen of some width: the font's glyph at a 150 px size,
    outlined by stroke_width pixels, black, centred on a 300x300 white page (a PIL image)."""
    from PIL import Image, ImageDraw, ImageFont

    page = Image.new("L", (300, 300), 255)
    ImageDraw.Draw(page).text((150, 150), str(digit), font=ImageFont.truetype(font_path, 150), fill=0,
                              anchor="mm", stroke_width=stroke_width, stroke_fill=0)
    return page


def synthetic_digits(count, seed):
    """`count` 28x28 images in 10 classes: each class a fixed pattern of strokes, plus noise."""
    templates = np.stack([draw_strokes(strokes) for strokes in template_strokes()]) * 230.0
    rng = np.random.default_rng(seed)
    labels = np.arange(count) % 10
    rng.shuffle(labels)
    images = templates[labels] * rng.uniform(0.6, 1.1, (count, 1, 1)) + rng.normal(0, 30, (count, 28, 28))
    return images.clip(0, 255).astype(np.uint8), labels.astype(np.uint8)


def write_mnist(root, train_count=600, test_count=200):
    """A complete MNIST folder (root/MNIST/raw/, four IDX files) that torchvision reads as MNIST."""
    raw = os.path.join(root, "MNIST", "raw")
    os.makedirs(raw, exist_ok=True)
    for prefix, count, seed in (("train", train_count, 1), ("t10k", test_count, 2)):
        images, labels = synthetic_digits(count, seed)
        write_idx(os.path.join(raw, f"{prefix}-images-idx3-ubyte"), images)
        write_idx(os.path.join(raw, f"{prefix}-labels-idx1-ubyte"), labels)
    return str(root)


@pytest.fixture(scope="session")
def synthetic_mnist(tmp_path_factory):
    return write_mnist(tmp_path_factory.mktemp("synthetic_mnist"))


@pytest.fixture(scope="session")
def trained_model(synthetic_mnist, tmp_path_factory):
    """A network trained on the synthetic digits, saved with --save-model."""
    import mnist_mlp

    path = str(tmp_path_factory.mktemp("model") / "model.pt")
    mnist_mlp.run(["--data-dir", synthetic_mnist, "--device", "cpu", "--no-plot", "--save-model", path])
    return path


@pytest.fixture(scope="session")
def real_model(tmp_path_factory):
    """A network trained on real MNIST with the defaults, saved with --save-model (needs MNIST_DATA)."""
    import mnist_mlp

    path = str(tmp_path_factory.mktemp("real_model") / "model.pt")
    mnist_mlp.run(["--data-dir", REAL_MNIST, "--device", "cpu", "--no-plot", "--save-model", path])
    return path


def readings(output):
    """The --predict lines of an output: "picture: 7 (96.1%); then ..."."""
    return [line for line in output.splitlines() if "; then " in line]


@pytest.fixture(scope="session")
def seven(tmp_path_factory):
    """A picture of a 7: two thick dark strokes on a white page."""
    from PIL import Image

    picture = 255 - draw_strokes([(60, 60, 240, 60), (240, 60, 120, 260)], size=300, radius=14) * 255
    path = tmp_path_factory.mktemp("pictures") / "seven.png"
    Image.fromarray(picture.astype("uint8")).save(path)
    return str(path)


@pytest.fixture(scope="session")
def closed_port_url():
    """A URL on this machine where nothing listens: a bound socket that never accepts."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    yield f"http://127.0.0.1:{sock.getsockname()[1]}/"
    sock.close()


@pytest.fixture(autouse=True)
def no_downloads(monkeypatch, closed_port_url):
    """Point torchvision's MNIST mirrors at a closed local port: no test can reach the internet."""
    from torchvision import datasets

    monkeypatch.setattr(datasets.MNIST, "mirrors", [closed_port_url])
