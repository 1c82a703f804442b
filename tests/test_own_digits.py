"""Tests of playing with the model: saving, loading, and reading pictures of digits."""

import os
import re

import numpy as np
import pytest
import torch
from conftest import REAL_MNIST, draw_strokes, needs_real_mnist, synthetic_digits, template_strokes
from PIL import Image

import mnist_mlp

PREDICTION_LINE = re.compile(r"^(.+): (\d) \((\d+\.\d)%\); then \d \(\d+\.\d%\), \d \(\d+\.\d%\)$",
                             re.MULTILINE)


def predictions_of(output):
    """{picture path: digit} from the lines that --predict prints."""
    return {path: int(digit) for path, digit, _ in PREDICTION_LINE.findall(output)}


def save_picture(path, array, mode="L"):
    Image.fromarray(np.asarray(array, dtype=np.uint8), mode=mode).save(path)
    return str(path)


def synthetic_pictures(tmp_path, count=6):
    """A few synthetic test digits as PNG files, bright on dark like MNIST."""
    images, labels = synthetic_digits(count, seed=5)
    return [save_picture(tmp_path / f"digit{i}_{label}.png", image) for i, (image, label) in
            enumerate(zip(images, labels, strict=True))]


# --- saving and loading ---------------------------------------------------------------------------

def test_saved_model_gives_the_same_accuracy_and_predictions(synthetic_mnist, tmp_path, capsys):
    model = str(tmp_path / "model.pt")
    pictures = synthetic_pictures(tmp_path)
    mnist_mlp.run(["--data-dir", synthetic_mnist, "--device", "cpu", "--save-model", model,
                    "--predict", *pictures, "--no-plot"])
    trained = capsys.readouterr().out
    assert f"Saved the model to {model}" in trained
    assert [name for name in os.listdir(tmp_path) if name.endswith(".tmp")] == []  # no temporary file left

    mnist_mlp.run(["--data-dir", synthetic_mnist, "--device", "cpu", "--load-model", model, "--no-plot"])
    tested = capsys.readouterr().out
    assert "Training on" not in tested
    accuracy_line = re.compile(r"^Test accuracy: .*$", re.MULTILINE)
    assert accuracy_line.findall(tested) == accuracy_line.findall(trained) != []

    mnist_mlp.run(["--load-model", model, "--predict", *pictures, "--no-plot"])
    predicted = capsys.readouterr().out
    assert PREDICTION_LINE.findall(predicted) == PREDICTION_LINE.findall(trained)
    assert len(predictions_of(predicted)) == len(pictures)


def test_predicting_with_a_saved_model_needs_no_data(trained_model, tmp_path, capsys):
    pictures = synthetic_pictures(tmp_path, count=3)
    plot = tmp_path / "mine.png"
    mnist_mlp.run(["--data-dir", str(tmp_path / "no-such-folder"), "--load-model", trained_model,
                    "--predict", *pictures, "--plot", str(plot)])
    output = capsys.readouterr().out
    assert "Test accuracy" not in output
    assert set(predictions_of(output)) == set(pictures)
    with Image.open(plot) as picture:
        assert picture.format == "PNG"
    assert not os.path.exists(tmp_path / "no-such-folder")


def test_saving_replaces_an_old_model_whole(synthetic_mnist, tmp_path, capsys):
    model = tmp_path / "model.pt"
    model.write_bytes(b"an older model")
    mnist_mlp.run(["--data-dir", synthetic_mnist, "--epochs", "1", "--no-plot", "--save-model", str(model)])
    state_dict = torch.load(model, weights_only=True)
    assert set(state_dict) == set(mnist_mlp.Net().state_dict())
    assert os.listdir(tmp_path) == ["model.pt"]


def test_saving_into_a_missing_folder_is_a_clean_error(synthetic_mnist, tmp_path, capsys):
    with pytest.raises(SystemExit) as excinfo:  # refused before training
        mnist_mlp.run(["--data-dir", synthetic_mnist, "--epochs", "1", "--no-plot",
                       "--save-model", str(tmp_path / "missing" / "model.pt")])
    assert excinfo.value.code == 2 and "there is no folder" in capsys.readouterr().err
    with pytest.raises(SystemExit) as excinfo:  # a folder that goes away while it trains
        mnist_mlp.save_model(mnist_mlp.Net(), str(tmp_path / "gone" / "model.pt"))
    assert "cannot save the model" in excinfo.value.code
    assert os.listdir(tmp_path) == []


class RunsCodeWhenLoaded:
    """Pickles as a call to open(): loading it the unsafe way would create the marker file."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return open, (self.marker, "w")


def test_a_model_file_that_runs_code_is_refused(tmp_path, trained_model):
    marker = tmp_path / "code-ran"
    evil = tmp_path / "evil.pt"
    torch.save({"fc1.weight": RunsCodeWhenLoaded(str(marker))}, evil)
    pictures = synthetic_pictures(tmp_path, count=1)
    with pytest.raises(SystemExit) as excinfo:
        mnist_mlp.run(["--load-model", str(evil), "--predict", *pictures, "--no-plot"])
    assert "io.open" in excinfo.value.code and "would run on loading" in excinfo.value.code
    assert str(evil) in excinfo.value.code
    assert not marker.exists()


@pytest.mark.parametrize("content, message", [
    (lambda path: torch.save(torch.nn.Linear(3, 4).state_dict(), path), "do not fit this network"),
    (lambda path: torch.save(torch.zeros(3), path), "do not fit this network"),
    (lambda path: open(path, "w").write("not a model"), "is not a PyTorch weights file"),
    (lambda path: None, "there is no model file"),
])
def test_bad_model_files_are_clean_errors(tmp_path, content, message):
    path = str(tmp_path / "model.pt")
    content(path)
    with pytest.raises(SystemExit) as excinfo:
        mnist_mlp.run(["--load-model", path, "--predict", "whatever.png", "--no-plot"])
    assert message in excinfo.value.code and path in excinfo.value.code


# --- reading pictures -----------------------------------------------------------------------------

def test_bad_pictures_are_named_and_good_ones_still_read(trained_model, tmp_path, capsys):
    good = synthetic_pictures(tmp_path, count=2)
    not_a_picture = tmp_path / "notes.png"
    not_a_picture.write_text("this is text")
    blank = save_picture(tmp_path / "blank.png", np.full((200, 200), 255))
    missing = str(tmp_path / "missing.jpg")
    with pytest.raises(SystemExit) as excinfo:
        mnist_mlp.run(["--load-model", trained_model, "--predict", good[0], str(not_a_picture), blank,
                        missing, good[1], "--no-plot"])
    assert excinfo.value.code == 1
    output = capsys.readouterr()
    assert set(predictions_of(output.out)) == set(good)
    errors = output.err.strip().splitlines()
    assert len(errors) == 3 and "Traceback" not in output.err
    assert str(not_a_picture) in errors[0] and "not a picture" in errors[0]
    assert blank in errors[1] and "blank" in errors[1]
    assert missing in errors[2] and "no file" in errors[2]


def test_a_decompression_bomb_is_refused_and_the_other_pictures_still_read(trained_model, tmp_path, capsys):
    # 15000x15000 pixels in a file of about 60 kB: PIL refuses to decode it, as it could fill the memory.
    bomb = tmp_path / "bomb.png"
    Image.new("1", (15000, 15000), 1).save(bomb)
    good = synthetic_pictures(tmp_path, count=2)
    with pytest.raises(SystemExit) as excinfo:
        mnist_mlp.run(["--load-model", trained_model, "--predict", good[0], str(bomb), good[1], "--no-plot"])
    assert excinfo.value.code == 1
    output = capsys.readouterr()
    assert set(predictions_of(output.out)) == set(good)
    assert output.err.strip().splitlines() == [output.err.strip()]  # one line, no traceback
    assert str(bomb) in output.err and "too large" in output.err and "decompression bomb" in output.err


@pytest.mark.parametrize("name, mode", [("png", "I;16"), ("tif", "I;16B")])  # PNG; big-endian TIFF
def test_a_16_bit_grey_picture_reads_like_its_8_bit_copy(trained_model, tmp_path, capsys, name, mode):
    templates = template_strokes()
    for label in (2, 5, 8):
        digit = draw_strokes(templates[label] * 2, size=56, radius=2.6)  # the made-up digit, twice as large
        page = np.full((140, 100), 255, dtype=np.uint16)  # dark ink on white paper, as scanned
        page[30:86, 20:76] = np.round(255 * (1 - digit))
        eight_bit = save_picture(tmp_path / f"scan{label}.png", page)
        sixteen_bit = str(tmp_path / f"scan{label}_16.{name}")
        byte_order = ">u2" if mode.endswith("B") else "<u2"  # big-endian, or little-endian
        sixteen_bit_page = (page * 257).astype(byte_order)  # 0-255 -> 0-65535
        Image.frombytes(mode, (100, 140), sixteen_bit_page.tobytes()).save(sixteen_bit)
        with Image.open(sixteen_bit) as picture:
            assert picture.mode == mode
        assert torch.allclose(mnist_mlp.prepare_image(sixteen_bit), mnist_mlp.prepare_image(eight_bit),
                              atol=0.02)
        mnist_mlp.run(["--load-model", trained_model, "--predict", sixteen_bit, "--no-plot"])
        assert predictions_of(capsys.readouterr().out) == {sixteen_bit: label}


def test_picture_becomes_an_mnist_style_digit(tmp_path):
    # A dark stroke on a large white canvas, far from the centre: a tall bar with a foot.
    canvas = np.full((300, 400), 255)
    canvas[40:200, 300:320] = 0
    canvas[180:200, 260:340] = 0
    digit = mnist_mlp.prepare_image(save_picture(tmp_path / "bar.png", canvas))
    assert digit.shape == (1, 1, 28, 28)
    pixels = digit[0, 0] * mnist_mlp.MNIST_STD + mnist_mlp.MNIST_MEAN  # back to 0-1
    assert pixels.min() == pytest.approx(0, abs=1e-5) and pixels.max() == pytest.approx(1, abs=1e-2)
    rows, columns = pixels.sum(dim=1).nonzero(), pixels.sum(dim=0).nonzero()
    assert rows[-1] - rows[0] + 1 == 20  # the longer side fills the 20x20 box
    assert columns[-1] - columns[0] + 1 == 10  # and the proportions stay (80 wide : 160 tall)
    ys = torch.arange(28.0)
    centre_y = (pixels.sum(dim=1) @ ys) / pixels.sum()
    centre_x = (pixels.sum(dim=0) @ ys) / pixels.sum()
    assert abs(centre_y - 13.5) <= 0.5 and abs(centre_x - 13.5) <= 0.5


def test_ink_colour_paper_and_transparency_do_not_matter(tmp_path):
    strokes = np.zeros((120, 90), dtype=bool)
    strokes[20:100, 40:50] = True
    strokes[20:30, 20:70] = True
    white_on_black = save_picture(tmp_path / "a.png", strokes * 255)
    black_on_white = save_picture(tmp_path / "b.png", (~strokes) * 255)
    blue_on_cream = np.where(strokes[..., None], [20, 40, 150], [245, 238, 220])
    coloured = save_picture(tmp_path / "c.png", blue_on_cream, mode="RGB")
    see_through = np.zeros((120, 90, 4))
    see_through[strokes] = [0, 0, 0, 255]  # black ink, transparent everywhere else
    transparent = save_picture(tmp_path / "d.png", see_through, mode="RGBA")
    reference = mnist_mlp.prepare_image(white_on_black)
    for path in (black_on_white, coloured, transparent):
        assert torch.allclose(mnist_mlp.prepare_image(path), reference, atol=0.05), path


# --- your own handwriting, simulated with real MNIST test digits ----------------------------------

def user_picture(digit, index, folder):
    """An MNIST digit as a person might photograph or draw it: dark ink on a white page of at
    least 200x200, scaled up 5 to 9 times, away from the centre, saved as grey PNG, colour PNG
    (blue ink on cream paper, with noise) or colour JPEG."""
    rng = np.random.default_rng(index)
    ink = Image.fromarray(digit.numpy())
    ink = ink.crop(ink.getbbox())
    scale = rng.uniform(5, 9)
    ink = ink.resize((round(ink.width * scale), round(ink.height * scale)), Image.BICUBIC)
    margin_x, margin_y = (int(m) for m in rng.integers(60, 200, size=2))
    page = Image.new("L", (max(200, ink.width + margin_x), max(200, ink.height + margin_y)), 0)
    corner = rng.integers(0, (page.width - ink.width + 1, page.height - ink.height + 1))
    page.paste(ink, (int(corner[0]), int(corner[1])))
    darkness = np.asarray(page, dtype=np.float32) / 255  # 1 where the ink is
    if index % 3 == 0:
        path, picture = folder / f"user{index}.png", Image.fromarray((255 * (1 - darkness)).astype(np.uint8))
    else:
        paper, pen = np.array([250, 246, 235]), np.array([25, 35, 110])  # cream paper, blue ballpoint
        rgb = paper + darkness[..., None] * (pen - paper) + rng.normal(0, 4, darkness.shape + (3,))
        picture = Image.fromarray(rgb.clip(0, 255).astype(np.uint8), mode="RGB")
        path = folder / (f"user{index}.png" if index % 3 == 1 else f"user{index}.jpg")
    picture.save(path)
    return str(path)


@needs_real_mnist
def test_reads_real_digits_drawn_as_user_pictures(real_model, tmp_path, capsys):
    model = real_model
    from torchvision import datasets

    test_set = datasets.MNIST(REAL_MNIST, train=False)
    net = mnist_mlp.Net()
    net.load_state_dict(torch.load(model, weights_only=True))
    net.eval()
    with torch.no_grad():
        predicted = net(mnist_mlp.prepare(test_set.data[:200])).argmax(dim=1)
    right = [i for i in range(200) if predicted[i] == test_set.targets[i]][:40]  # ones it reads as MNIST
    pictures = {user_picture(test_set.data[i], i, tmp_path): int(test_set.targets[i]) for i in right}
    assert {os.path.splitext(p)[1] for p in pictures} == {".png", ".jpg"}
    mnist_mlp.run(["--load-model", model, "--predict", *pictures, "--no-plot"])
    read = predictions_of(capsys.readouterr().out)
    correct = sum(read[path] == label for path, label in pictures.items())
    print(f"read {correct} of {len(pictures)} user pictures correctly")
    assert correct >= 0.9 * len(pictures)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_weights_saved_on_a_gpu_load_on_the_cpu(synthetic_mnist, tmp_path, capsys):
    model = str(tmp_path / "gpu.pt")
    pictures = synthetic_pictures(tmp_path, count=4)
    mnist_mlp.run(["--data-dir", synthetic_mnist, "--device", "cuda", "--save-model", model,
                    "--predict", *pictures, "--no-plot"])
    on_gpu = capsys.readouterr().out
    assert "Using device: cuda" in on_gpu
    assert next(iter(torch.load(model, weights_only=True).values())).is_cuda
    mnist_mlp.run(["--device", "cpu", "--load-model", model, "--predict", *pictures, "--no-plot"])
    on_cpu = capsys.readouterr().out
    assert predictions_of(on_cpu) == predictions_of(on_gpu) and len(predictions_of(on_cpu)) == 4
