"""Tests of the trainer: the network, device choice, the data path end to end, and clean errors."""

import os
import re
import shutil
import subprocess
import sys

import matplotlib.pyplot as plt
import pytest
import torch
from conftest import REAL_MNIST, SCRIPT, error_of, needs_real_mnist, run_script, write_idx, write_mnist
from PIL import Image

import mnist_mlp

ACCURACY_LINE = re.compile(r"^Test accuracy: (\d+\.\d\d)% \((\d+)/(\d+)\)$", re.MULTILINE)
EPOCH_LINE = re.compile(r"^Epoch (\d+)/(\d+): loss (\d+\.\d{4}|nan|inf), training accuracy (\d+\.\d\d)%, "
                        r"test accuracy (\d+\.\d\d)% \(\d+\.\d s\)$", re.MULTILINE)


def accuracy_of(output):
    match = ACCURACY_LINE.search(output)
    assert match, f"no accuracy line in:\n{output}"
    percent, correct, total = float(match.group(1)), int(match.group(2)), int(match.group(3))
    assert percent == pytest.approx(100 * correct / total, abs=0.005)
    return percent


# --- the network ----------------------------------------------------------------------------------

def test_network_is_784_86_86_10():
    layers = [m for m in mnist_mlp.Net().modules() if isinstance(m, torch.nn.Linear)]
    assert [(layer.in_features, layer.out_features) for layer in layers] == [(784, 86), (86, 86), (86, 10)]


@pytest.mark.parametrize("shape", [(5, 1, 28, 28), (5, 28, 28), (5, 784)])
def test_network_outputs_log_probabilities(shape):
    log_probs = mnist_mlp.Net()(torch.randn(shape))
    assert log_probs.shape == (5, 10)
    assert (log_probs <= 0).all()
    assert torch.allclose(log_probs.exp().sum(dim=1), torch.ones(5), atol=1e-5)


def test_importing_runs_nothing():
    result = subprocess.run([sys.executable, "-c", "import mnist_mlp"], cwd=os.path.dirname(SCRIPT),
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and result.stdout == ""


# --- settings and devices -------------------------------------------------------------------------

@pytest.mark.parametrize("flag", [["--epochs", "0"], ["--batch-size", "-3"], ["--subset", "0"],
                                  ["--lr", "0"], ["--device", "tpu"], ["--epochs", "two"]])
def test_bad_flags_are_argparse_errors(flag, capsys):
    with pytest.raises(SystemExit) as excinfo:
        mnist_mlp.parse_args(flag)
    assert excinfo.value.code == 2
    assert flag[0] in capsys.readouterr().err


def test_data_dir_defaults_to_mnist_data_variable(monkeypatch):
    monkeypatch.setenv("MNIST_DATA", "/somewhere/mnist")
    assert mnist_mlp.parse_args([]).data_dir == "/somewhere/mnist"
    monkeypatch.delenv("MNIST_DATA")
    assert mnist_mlp.parse_args([]).data_dir == "data"


@pytest.mark.parametrize("cuda, mps, expected",
                         [(True, True, "cuda"), (False, True, "mps"), (False, False, "cpu")])
def test_auto_device_prefers_cuda_then_mps(monkeypatch, cuda, mps, expected):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: mps)
    assert mnist_mlp.pick_device("auto").type == expected
    assert mnist_mlp.pick_device("cpu").type == "cpu"


@pytest.mark.parametrize("name", ["cuda", "mps"])
def test_unavailable_device_is_a_clean_error(monkeypatch, name):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    with pytest.raises(SystemExit) as excinfo:
        mnist_mlp.pick_device(name)
    assert f"--device {name}" in error_of(excinfo)


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_unavailable_device_from_the_command_line(closed_port_url):
    result = run_script("--device", "cuda", closed_port_url=closed_port_url)
    assert result.returncode == 1
    assert "--device cuda" in result.stderr and "Traceback" not in result.stderr


# --- end to end on synthetic data -----------------------------------------------------------------

def test_smoke_learns_synthetic_digits(synthetic_mnist, tmp_path, capsys):
    plot = tmp_path / "digit.png"
    mnist_mlp.run(["--data-dir", synthetic_mnist, "--subset", "500", "--device", "cpu", "--plot", str(plot)])
    output = capsys.readouterr().out
    assert "Using device: cpu" in output
    assert "Training on 500 images" in output
    epochs = EPOCH_LINE.findall(output)
    assert [(epoch, of) for epoch, of, *_ in epochs] == [("1", "3"), ("2", "3"), ("3", "3")]
    # Both accuracies are measured after each epoch, the same way: both climb far above chance
    # (10%), and the last epoch's test accuracy is the one the final line reports.
    training_accuracies = [float(train) for *_, train, _ in epochs]
    test_accuracies = [float(test) for *_, test in epochs]
    assert training_accuracies[0] <= training_accuracies[-1] and training_accuracies[-1] >= 80
    assert test_accuracies[0] <= test_accuracies[-1]
    assert accuracy_of(output) == test_accuracies[-1] >= 80
    assert "stuck at chance" not in output
    with Image.open(plot) as picture:
        assert picture.format == "PNG" and picture.width > 100 and picture.height > 100


def test_same_seed_same_result(synthetic_mnist, capsys):
    results = []
    for seed in (7, 7, 8):
        mnist_mlp.run(["--data-dir", synthetic_mnist, "--device", "cpu", "--epochs", "1", "--subset", "300",
                        "--seed", str(seed), "--no-plot"])
        output = capsys.readouterr().out
        loss = output.split("Epoch 1/1: loss ")[1].split()[0]
        results.append((loss, ACCURACY_LINE.search(output).group(0)))
    assert results[0] == results[1]  # the same loss, to the last digit, and the same accuracy line
    assert results[0][0] != results[2][0]  # and another seed gives another run


def test_no_plot_writes_no_picture(synthetic_mnist, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    mnist_mlp.run(["--data-dir", synthetic_mnist, "--epochs", "1", "--no-plot"])
    assert os.listdir(tmp_path) == []


# --- data problems --------------------------------------------------------------------------------

def test_no_data_and_no_download_says_where_files_go(tmp_path, closed_port_url):
    result = run_script("--data-dir", str(tmp_path / "empty"), closed_port_url=closed_port_url)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    message = result.stderr.strip()
    assert message.count("\n") == 0, message  # one message, on one line
    assert os.path.join(str(tmp_path / "empty"), "MNIST", "raw") in message
    assert "--data-dir" in message and "MNIST_DATA" in message and "train-images-idx3-ubyte" in message


def corrupted_copy(synthetic_mnist, tmp_path, name, damage):
    root = tmp_path / "mnist"
    shutil.copytree(synthetic_mnist, root)
    path = root / "MNIST" / "raw" / name
    data = bytearray(path.read_bytes())
    path.write_bytes(damage(data))
    return str(root), str(path)


@pytest.mark.parametrize("name, damage", [
    ("train-images-idx3-ubyte", lambda data: data[: len(data) // 2]),  # truncated
    ("t10k-labels-idx1-ubyte", lambda data: data[:-1]),  # one byte short
    ("train-labels-idx1-ubyte", lambda data: data[:6]),  # shorter than its header
    ("t10k-images-idx3-ubyte", lambda data: b"<html>not found</html>" + data),  # not IDX at all
    ("train-labels-idx1-ubyte", lambda data: data[:8] + bytes([42]) + data[9:]),  # a label that is no digit
])
def test_corrupt_file_is_named(synthetic_mnist, tmp_path, name, damage):
    data_dir, path = corrupted_copy(synthetic_mnist, tmp_path, name, damage)
    with pytest.raises(SystemExit) as excinfo:
        mnist_mlp.run(["--data-dir", data_dir, "--no-plot"])
    assert path in error_of(excinfo)


def test_labels_that_do_not_match_images(synthetic_mnist, tmp_path):
    root = tmp_path / "mnist"
    shutil.copytree(synthetic_mnist, root)
    raw = root / "MNIST" / "raw"
    shutil.copy(raw / "t10k-labels-idx1-ubyte", raw / "train-labels-idx1-ubyte")  # 200 labels, 600 images
    with pytest.raises(SystemExit) as excinfo:
        mnist_mlp.run(["--data-dir", str(root), "--no-plot"])
    assert "train-labels-idx1-ubyte" in error_of(excinfo) and "200 labels for 600 images" in error_of(excinfo)


def test_corrupt_file_from_the_command_line(synthetic_mnist, tmp_path, closed_port_url):
    data_dir, path = corrupted_copy(synthetic_mnist, tmp_path, "train-images-idx3-ubyte", lambda d: d[:1000])
    result = run_script("--data-dir", data_dir, closed_port_url=closed_port_url)
    assert result.returncode == 1
    assert path in result.stderr and "Traceback" not in result.stderr


def test_written_idx_files_read_back_through_torchvision(tmp_path):
    from torchvision import datasets

    images = torch.arange(3 * 28 * 28, dtype=torch.int64).remainder(256).to(torch.uint8).view(3, 28, 28)
    root = write_mnist(tmp_path, train_count=20, test_count=10)
    write_idx(os.path.join(root, "MNIST", "raw", "t10k-images-idx3-ubyte"), images.numpy())
    write_idx(os.path.join(root, "MNIST", "raw", "t10k-labels-idx1-ubyte"), [3, 1, 4])
    test_set = datasets.MNIST(root, train=False)
    assert torch.equal(test_set.data, images) and test_set.targets.tolist() == [3, 1, 4]


# --- real MNIST, when MNIST_DATA points at it -----------------------------------------------------

@needs_real_mnist
def test_real_mnist_one_epoch_on_10000_images(capsys):
    mnist_mlp.run(["--data-dir", REAL_MNIST, "--subset", "10000", "--epochs", "1", "--device", "cpu",
                    "--no-plot"])
    output = capsys.readouterr().out
    assert "Training on 10,000 images" in output
    assert accuracy_of(output) >= 90
    assert "(" in output and "/10000)" in output


# --- when training goes wrong ---------------------------------------------------------------------

def test_a_learning_rate_that_blows_up_stops_with_a_hint(synthetic_mnist, closed_port_url):
    result = run_script("--data-dir", synthetic_mnist, "--lr", "1e6", "--no-plot",
                        closed_port_url=closed_port_url)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    message = result.stderr.strip()
    assert message.count("\n") == 0, message
    assert "blew up" in message and "--lr 1e+06" in message and "too high" in message
    assert f"the default is {mnist_mlp.LEARNING_RATE:g}" in message
    assert "Test accuracy" not in result.stdout  # it stopped after the first epoch
    assert len(EPOCH_LINE.findall(result.stdout)) == 1


@pytest.mark.parametrize("loss", [float("nan"), float("inf"), 1e20, 24.0])
def test_a_loss_far_above_guessing_is_a_blow_up(loss):
    args = mnist_mlp.parse_args(["--lr", "3"])
    with pytest.raises(SystemExit) as excinfo:
        mnist_mlp.stop_if_training_failed(loss, 0.1, 1, 469, args)
    assert "--lr 3" in error_of(excinfo) and "epoch 1" in error_of(excinfo)


def test_training_stuck_at_chance_says_so_once_at_the_end(capsys):
    args = mnist_mlp.parse_args(["--lr", "0.3"])
    mnist_mlp.stop_if_training_failed(2.31, 0.11, 1, 469, args)  # not the last epoch: nothing yet
    mnist_mlp.stop_if_training_failed(2.30, 0.11, 3, 469, args)
    mnist_mlp.stop_if_training_failed(2.30, 0.11, 3, 20, args)  # 60 steps in all: too few to judge
    mnist_mlp.stop_if_training_failed(0.40, 0.97, 3, 469, args)  # learned fine
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1
    assert "stuck at chance" in lines[0] and "11.0%" in lines[0] and "--lr 0.3" in lines[0]
    assert f"the default is {mnist_mlp.LEARNING_RATE:g}" in lines[0]


# --- the picture ----------------------------------------------------------------------------------

@pytest.mark.parametrize("plot, problem", [
    ("out.xyz", "must end in one of"),
    ("prediction", "must end in one of"),
    ("no-such-folder/out.png", "no-such-folder to save"),
])
def test_a_bad_plot_path_is_refused_before_training(synthetic_mnist, tmp_path, closed_port_url, plot,
                                                    problem):
    result = run_script("--data-dir", synthetic_mnist, "--plot", str(tmp_path / plot),
                        closed_port_url=closed_port_url)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and "Training on" not in result.stdout
    assert "--plot" in result.stderr and problem in result.stderr
    if "must end" in problem:
        assert ".png" in result.stderr and ".pdf" in result.stderr


def test_a_bad_plot_path_does_not_matter_with_no_plot():
    assert mnist_mlp.parse_args(["--plot", "out.xyz", "--no-plot"]).no_plot


@pytest.mark.parametrize("name, signature", [("digit.pdf", b"%PDF"), ("digit.svg", b"<?xml"),
                                             ("digit.JPG", b"\xff\xd8\xff")])
def test_the_plot_is_saved_in_the_format_its_name_asks_for(synthetic_mnist, tmp_path, capsys, name,
                                                            signature):
    mnist_mlp.run(["--data-dir", synthetic_mnist, "--epochs", "1", "--plot", str(tmp_path / name)])
    assert (tmp_path / name).read_bytes().startswith(signature)


@pytest.mark.parametrize("backend, shown, told_to_close", [
    ("agg", False, False),  # a server or CI: save only
    ("module://matplotlib_inline.backend_inline", True, False),  # Jupyter: inline, no window to close
    ("tkagg", True, True),  # a desktop window
])
def test_the_picture_is_shown_where_it_can_be(monkeypatch, tmp_path, capsys, backend, shown, told_to_close):

    shows = []
    monkeypatch.setattr(plt, "get_backend", lambda: backend)
    monkeypatch.setattr(plt, "show", lambda: shows.append(True))
    mnist_mlp.plot_prediction(torch.zeros(1, 1, 28, 28), torch.full((10,), 0.1), "title",
                              str(tmp_path / "p.png"))
    assert shows == []  # shown at the end of the run, not while it is drawn
    mnist_mlp.show_pictures()
    assert bool(shows) == shown
    assert ("Close the window" in capsys.readouterr().out) == told_to_close
    assert plt.get_fignums() == []  # the figure is closed afterwards


def test_the_mistakes_are_wrong_and_the_surest_come_first(synthetic_mnist):
    torch.manual_seed(0)
    model = mnist_mlp.Net()  # untrained: it gets most digits wrong, with all kinds of confidence
    _, _, test_loader = mnist_mlp.make_loaders(synthetic_mnist, 64)
    mistakes = mnist_mlp.confident_mistakes(model, torch.device("cpu"), test_loader.dataset, count=8)
    images, labels = test_loader.dataset.tensors
    with torch.no_grad():
        probabilities = model(images).exp()
    sureness, readings = probabilities.max(dim=1)
    wrong = readings != labels
    assert len(mistakes) == 8
    assert [round(m[3], 6) for m in mistakes] == [round(p, 6) for p in sureness[wrong].sort(descending=True)
                                                  .values[:8].tolist()]
    for image, label, reading, probability in mistakes:
        index = next(i for i in range(len(images)) if torch.equal(images[i], image))
        assert (label, reading) == (labels[index], readings[index]) and label != reading


HISTORY = {"batch losses": [2.3, 1.0, 0.5, 0.4, 0.3, 0.2], "training accuracy": [0.9, 0.95],
           "test accuracy": [0.88, 0.9]}


def results_figure(synthetic_mnist, tmp_path, monkeypatch, history=HISTORY, model=None):
    """The figure show_results() draws for an untrained network, caught before it is saved."""
    shown = []
    monkeypatch.setattr(mnist_mlp, "save_picture", lambda figure, path: shown.append(figure))
    torch.manual_seed(0)
    _, _, test_loader = mnist_mlp.make_loaders(synthetic_mnist, 64)
    mnist_mlp.show_results(model or mnist_mlp.Net(), torch.device("cpu"), test_loader.dataset, history,
                           str(tmp_path / "p.png"))
    shown[0].draw_without_rendering()  # lay it out, as saving does
    return shown[0]


def test_a_network_that_makes_no_mistakes_has_no_mistakes_row(synthetic_mnist, tmp_path, monkeypatch):
    monkeypatch.setattr(mnist_mlp, "confident_mistakes", lambda *args, **kwargs: [])
    figure = results_figure(synthetic_mnist, tmp_path, monkeypatch)
    *_, wrong = figure.subfigs
    assert wrong.axes == [] and "every test digit right" in wrong.get_suptitle()
    plt.close("all")


def test_the_picture_shows_the_mistakes_in_a_row_under_the_digit(synthetic_mnist, tmp_path, monkeypatch):
    figure = results_figure(synthetic_mnist, tmp_path, monkeypatch)
    curve, weights, reading, wrong = figure.subfigs
    digit, bars = reading.axes
    assert digit.images and len(bars.patches) == 10
    assert len(wrong.axes) == 8 and all(axes.images for axes in wrong.axes)
    top_row_bottom = min(axes.get_window_extent().y0 for axes in curve.axes + weights.axes)  # pixels, y up
    assert all(axes.get_window_extent().y1 < top_row_bottom for axes in reading.axes + wrong.axes)
    for axes in wrong.axes:
        assert re.fullmatch(r"(\d) read as (?!\1)\d\n\d+\.\d% sure", axes.get_title())
    plt.close("all")


# --- notebooks ------------------------------------------------------------------------------------

KERNEL_ARGV = ["/usr/lib/python3/site-packages/ipykernel_launcher.py", "-f",
               "/root/.local/share/jupyter/runtime/kernel-1234.json"]


def run_in_kernel(source, cwd, data_dir, closed_port_url, file=None):
    """Run `source` the way a Jupyter kernel runs a cell: with the kernel's own sys.argv, and with
    no __file__ (a pasted cell) or with one (an editor that runs a file's cells in a kernel)."""
    namespace = {"__name__": "__main__", **({"__file__": file} if file else {})}
    code = ("import sys; from torchvision import datasets; "
            f"datasets.MNIST.mirrors = [{closed_port_url!r}]; sys.argv = {KERNEL_ARGV!r}; "
            "source = sys.stdin.read(); "
            f"exec(compile(source, {file or '<cell>'!r}, 'exec'), {namespace!r})")
    env = dict(os.environ, MPLBACKEND="Agg", MNIST_DATA=data_dir)
    return subprocess.run([sys.executable, "-c", code], input=source, capture_output=True, text=True,
                          env=env, cwd=cwd, timeout=300)


@pytest.mark.parametrize("file", [None, SCRIPT], ids=["pasted cell", "cells of the file"])
def test_the_file_run_in_a_notebook_kernel_runs_with_the_defaults(synthetic_mnist, tmp_path, closed_port_url,
                                                                   file):
    with open(SCRIPT) as script:
        source = script.read()
    result = run_in_kernel(source, tmp_path, synthetic_mnist, closed_port_url, file=file)
    assert result.returncode == 0, result.stderr
    assert len(EPOCH_LINE.findall(result.stdout)) == mnist_mlp.EPOCHS
    assert accuracy_of(result.stdout) >= 80
    assert (tmp_path / "prediction.png").exists()


def test_run_magic_passes_flags(synthetic_mnist, tmp_path, closed_port_url):
    # `%run mnist_mlp.py --epochs 1` runs the file with __file__ set and sys.argv = [file, flags...].
    result = run_script("--data-dir", synthetic_mnist, "--epochs", "1", "--no-plot",
                        closed_port_url=closed_port_url)
    assert result.returncode == 0, result.stderr
    assert [epoch[:2] for epoch in EPOCH_LINE.findall(result.stdout)] == [("1", "1")]


# --- the file reads as a lesson -------------------------------------------------------------------

def test_the_file_is_the_lesson_in_notebook_cells_then_behind_the_scenes():
    with open(SCRIPT) as file:
        lines = file.read().splitlines()
    cells = {line[5:].split(":")[0]: number  # "# %% Settings: ..." -> {"Settings": its line number}
             for number, line in enumerate(lines, start=1) if line.startswith("# %% ")}
    assert list(cells) == ["Imports", "Settings", "Data", "The network", "Training", "Testing",
                           "Showing what it learned", "main()", "Behind the scenes"]  # in this order

    def first_line(start):
        return next(number for number, line in enumerate(lines, start=1) if line.lstrip().startswith(start))

    assert first_line("class Net") < 100
    assert first_line("for epoch in range") < 230
    assert first_line("def main(") < cells["Behind the scenes"] <= 251  # the lesson: at most 250 lines
    for number, line in enumerate(lines[:cells["Behind the scenes"]], start=1):  # no timings in the lesson
        assert not re.search(r"\d s\b|\d seconds|\d-core", line), f"line {number}: {line}"


def test_the_pictures_are_prepared_once_as_normalised_floats(synthetic_mnist):
    from torchvision import datasets

    train_loader, train_sample_loader, test_loader = mnist_mlp.make_loaders(synthetic_mnist, 64, subset=500)
    raw = datasets.MNIST(synthetic_mnist, train=True)
    images, labels = train_loader.dataset.tensors
    assert images.dtype == torch.float32 and images.shape == (500, 1, 28, 28)
    expected = (raw.data[:500].float() / 255 - 0.1307) / 0.3081  # what transforms.Normalize gives
    assert torch.allclose(images[:, 0], expected, atol=1e-6) and torch.equal(labels, raw.targets[:500])
    # The training accuracy is measured on the first training pictures (here all 500 of the subset):
    sample_images, sample_labels = train_sample_loader.dataset.tensors
    assert torch.equal(sample_images, images[:10_000]) and torch.equal(sample_labels, labels[:10_000])
    assert test_loader.dataset.tensors[0].dtype == torch.float32


def test_the_lesson_has_no_data_augmentation():
    with open(SCRIPT) as file:
        lesson = file.read().split("# %% Behind the scenes")[0]
    for augmentation in ("roll(", "randint(-", "RandomAffine", "RandomRotation", "RandomCrop"):
        assert augmentation not in lesson, augmentation
