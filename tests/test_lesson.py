"""The lesson, mnist_mlp.py, run as a learner runs it, on MNIST's first pictures (tests/data/).

The expected values come from outside the lesson: the test pictures are read here with this file's
own IDX reader and normalisation, and the saved weights are scored on them here."""

import gzip
import os
import re
import shutil
import socket
import subprocess
import sys

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from conftest import DATA, ROOT

import mnist_mlp

SCRIPT = os.path.join(ROOT, "mnist_mlp.py")
ACCURACY_LINE = re.compile(r"^Test accuracy: (\d+\.\d\d)% of the ([\d,]+) test pictures$", re.MULTILINE)


def read_idx(name):
    """One of tests/data's gzipped IDX files as a numpy array: a 4-byte magic number whose last
    byte is the number of dimensions, a 4-byte size for each, then the bytes."""
    with gzip.open(os.path.join(DATA, name + ".gz")) as file:
        data = file.read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def correct_answers(weights_path):
    """How many of the 1,000 test pictures the saved weights read right, counted here."""
    images = torch.tensor(read_idx("t10k-images-idx3-ubyte"), dtype=torch.float32)
    labels = torch.tensor(read_idx("t10k-labels-idx1-ubyte"), dtype=torch.int64)
    network = mnist_mlp.Net()
    network.load_state_dict(torch.load(weights_path, weights_only=True))
    with torch.no_grad():  # MNIST's published mean and standard deviation of its 0-1 pixels
        readings = network(((images / 255 - 0.1307) / 0.3081).unsqueeze(1)).argmax(dim=1)
    return int((readings == labels).sum())


@pytest.fixture(scope="module")
def alone(mnist_subset, tmp_path_factory):
    """mnist_mlp.py copied alone into an empty folder and run there: (the folder, the finished process)."""
    folder = tmp_path_factory.mktemp("alone")
    shutil.copy(SCRIPT, folder)
    process = subprocess.run([sys.executable, "mnist_mlp.py", "--data-dir", mnist_subset], cwd=folder,
                             capture_output=True, text=True, timeout=300,
                             env={**os.environ, "MPLBACKEND": "Agg", "PYTHONPATH": ""})
    return folder, process


def test_runs_alone_and_saves_the_weights_and_the_picture(alone):
    folder, process = alone
    assert process.returncode == 0, process.stderr
    assert process.stderr == ""  # no warning, and no progress bar when the output is not a terminal
    assert sorted(os.listdir(folder)) == ["mnist_mlp.pt", "mnist_mlp.py", "prediction.png"]
    assert plt.imread(folder / "prediction.png").std() > 0.05  # a picture, not a blank page


def test_the_network_learns_to_read_digits_it_never_saw(alone):
    # Measured (seeds 0-4): 3 epochs on these 2,000 pictures read 83.6-86.6% of the 1,000 test
    # pictures; without zero_grad() 36-46%, and without backward() or step() about 10% (chance).
    folder, _ = alone
    assert correct_answers(folder / "mnist_mlp.pt") >= 800


def test_the_printed_accuracy_is_on_the_test_pictures(alone):
    folder, process = alone
    match = ACCURACY_LINE.search(process.stdout)
    assert match, process.stdout
    assert match[2] == "1,000"
    assert float(match[1]) == pytest.approx(correct_answers(folder / "mnist_mlp.pt") / 10, abs=0.001)


def test_loaders_deal_every_picture_once_in_a_new_order_each_epoch(mnist_subset):
    train_set, test_set = mnist_mlp.load_mnist(mnist_subset)
    torch.manual_seed(0)
    train_loader, _, test_loader = mnist_mlp.make_loaders(train_set, test_set, batch_size=100)
    for loader, labels in ((train_loader, "train-labels-idx1-ubyte"), (test_loader, "t10k-labels-idx1-ubyte")):
        epochs = [torch.cat([batch_labels for _, batch_labels in loader]) for _ in range(2)]
        for dealt in epochs:
            assert sorted(dealt.tolist()) == sorted(read_idx(labels).tolist())
        assert not torch.equal(epochs[0], epochs[1])  # shuffled again


def test_the_network_is_784_86_86_10_and_gives_log_probabilities():
    network = mnist_mlp.Net()
    layers = [(layer.in_features, layer.out_features) for layer in network.children()]
    assert layers == [(784, 86), (86, 86), (86, 10)]
    probabilities = network(torch.randn(5, 1, 28, 28)).exp()
    assert torch.allclose(probabilities.sum(dim=1), torch.ones(5))


def test_flags_change_the_settings(mnist_subset, tmp_path, capsys):
    weights = tmp_path / "small.pt"
    mnist_mlp.main(mnist_mlp.parse_args(["--data-dir", mnist_subset, "--subset", "500", "--epochs", "1",
                                         "--hidden-units", "20", "--save-model", str(weights), "--no-plot"]))
    output = capsys.readouterr().out
    assert "Training on 500 pictures for 1 epoch\n" in output
    assert len(re.findall(r"^Epoch \d", output, re.MULTILINE)) == 1
    assert torch.load(weights, weights_only=True)["fc1.weight"].shape == (20, 784)
    assert os.listdir(tmp_path) == ["small.pt"]  # --no-plot: no picture


def test_pasted_into_a_notebook_cell_it_runs_with_the_defaults(mnist_subset, tmp_path, monkeypatch):
    # A Jupyter kernel's own command line; MNIST_DATA says where the data is, as the README says.
    monkeypatch.setattr(sys, "argv", ["/venv/lib/ipykernel_launcher.py", "-f", "/run/kernel-1.json"])
    monkeypatch.setenv("MNIST_DATA", mnist_subset)
    monkeypatch.chdir(tmp_path)
    cell = {"__name__": "__main__"}
    with open(SCRIPT) as file:
        exec(compile(file.read(), "<cell>", "exec"), cell)
    assert isinstance(cell["model"], torch.nn.Module)
    assert sorted(os.listdir(tmp_path)) == ["mnist_mlp.pt", "prediction.png"]

    # The picture: the shown digit, read as the network reads it, with its ten probabilities.
    digit_axes, bar_axes, curve_axes = plt.gcf().axes
    shown = torch.tensor(digit_axes.images[0].get_array(), dtype=torch.float32)
    with torch.no_grad():
        probabilities = cell["model"].cpu()(shown.view(1, 1, 28, 28)).exp()[0]
    heights = torch.tensor([bar.get_height() for bar in bar_axes.patches], dtype=torch.float32)
    assert torch.allclose(heights, probabilities, atol=1e-6)
    assert f"read as {int(probabilities.argmax())} " in digit_axes.get_title()
    assert [len(line.get_xdata()) for line in curve_axes.lines] == [3, 3]  # training, test: one per epoch
    plt.close("all")


def test_a_failed_download_says_where_to_put_mnist(tmp_path):
    # Every download goes through a proxy on this machine where nothing listens: no network used.
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    proxy = f"http://127.0.0.1:{closed.getsockname()[1]}"
    env = {**os.environ, "http_proxy": proxy, "https_proxy": proxy, "no_proxy": "", "MPLBACKEND": "Agg"}
    process = subprocess.run([sys.executable, SCRIPT, "--data-dir", str(tmp_path / "data")], env=env,
                             capture_output=True, text=True, timeout=300)
    closed.close()
    assert process.returncode == 1
    assert len(process.stderr.strip().splitlines()) == 1, process.stderr
    for needed in (os.path.join(str(tmp_path / "data"), "MNIST", "raw"), "--data-dir", "MNIST_DATA"):
        assert needed in process.stderr
