"""python -m play read|inside, and the weights files it loads: what a user sees and the exit status."""

import os
import pickle
import subprocess
import sys

import matplotlib.pyplot as plt
import pytest
import torch
from conftest import ROOT
from PIL import Image, ImageDraw

import mnist_mlp
from play.__main__ import main


def run(capsys, *argv):
    """python -m play ARGV, in this process: (exit status, stdout, stderr)."""
    with pytest.raises(SystemExit) as exit_info:
        main(list(argv))
        raise SystemExit(0)
    out, err = capsys.readouterr()
    status = exit_info.value.code
    if isinstance(status, str):  # sys.exit("message"): Python prints it on stderr and exits with 1
        return 1, out, err + status + "\n"
    return status, out, err


def write_digit(path, strokes):
    """A digit in black marker on white paper: thick lines [(x0, y0, x1, y1), ...] on a 300x300 page."""
    page = Image.new("RGB", (300, 300), "white")
    for stroke in strokes:
        ImageDraw.Draw(page).line(stroke, fill="black", width=22)
    page.save(path)
    return str(path)


@pytest.fixture(scope="module")
def pictures(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pictures")
    return {"seven": write_digit(folder / "seven.png", [(70, 60, 230, 60), (230, 60, 120, 250)]),
            "one": write_digit(folder / "one.png", [(150, 50, 150, 250)]),
            "blank": write_digit(folder / "blank.png", []),
            "text": str(folder / "notes.txt"), "folder": str(folder)}


def test_read_prints_each_digit_and_one_line_for_each_picture_it_cannot_read(pictures, subset_weights,
                                                                             tmp_path, capsys):
    with open(pictures["text"], "w") as file:
        file.write("not a picture\n")
    plot = tmp_path / "reading.png"
    missing = str(tmp_path / "missing.png")
    status, out, err = run(capsys, "read", "--model", subset_weights, "--plot", str(plot), pictures["seven"],
                           missing, pictures["folder"], pictures["text"], pictures["blank"], pictures["one"])
    assert status == 1
    assert [line.split(" (")[0] for line in out.splitlines()[:2]] == [f"{pictures['seven']}: 7",
                                                                       f"{pictures['one']}: 1"]
    assert [line.split(": ")[0] for line in err.splitlines()] == [missing, pictures["folder"], pictures["text"],
                                                                   pictures["blank"]]
    assert plot.exists()  # the seven, the first picture read


def test_read_of_good_pictures_exits_0_and_no_plot_saves_nothing(pictures, subset_weights, tmp_path, capsys,
                                                                 monkeypatch):
    monkeypatch.chdir(tmp_path)
    status, out, _ = run(capsys, "read", "--model", subset_weights, "--no-plot", pictures["one"])
    assert (status, os.listdir(tmp_path)) == (0, [])
    assert out.startswith(f"{pictures['one']}: 1 (")


def test_two_rows_of_digits_print_as_two_numbers(subset_weights, tmp_path, capsys):
    one, seven = [(0, 0, 0, 150)], [(-50, 0, 50, 0), (50, 0, -20, 150)]  # strokes around (0, 0)
    page = Image.new("RGB", (500, 500), "white")
    for (x, y), strokes in (((120, 60), one), ((330, 60), seven), ((150, 290), seven), ((360, 290), one)):
        for x0, y0, x1, y1 in strokes:
            ImageDraw.Draw(page).line((x + x0, y + y0, x + x1, y + y1), fill="black", width=20)
    page.save(tmp_path / "rows.png")
    status, out, _ = run(capsys, "read", "--model", subset_weights, "--no-plot", str(tmp_path / "rows.png"))
    assert status == 0 and out.startswith(f"{tmp_path / 'rows.png'}: 17 / 71 (")


def test_a_usage_error_exits_2(capsys):
    status, _, err = run(capsys, "read")
    assert status == 2 and "PICTURE" in err


def test_without_weights_it_says_to_run_the_lesson_first(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    status, out, err = run(capsys, "read", "seven.png")
    assert status == 1 and out == ""
    assert "mnist_mlp.pt" in err and "python mnist_mlp.py" in err and len(err.splitlines()) == 1


def test_inside_scores_the_network_and_draws_its_first_layer(mnist_subset, subset_weights, tmp_path, capsys):
    plot = tmp_path / "inside.png"
    status, out, _ = run(capsys, "inside", "--model", subset_weights, "--data-dir", mnist_subset,
                         "--plot", str(plot))
    assert status == 0 and plot.exists()
    network = mnist_mlp.Net()
    network.load_state_dict(torch.load(subset_weights, weights_only=True))
    _, test_set = mnist_mlp.load_mnist(mnist_subset)
    with torch.no_grad():
        correct = (network(mnist_mlp.prepare(test_set.data)).argmax(dim=1) == test_set.targets).sum()
    assert out.splitlines()[0] == f"Test accuracy: {correct / 10:.2f}% of the 1,000 test pictures"
    grid = plt.gcf().axes[0].images[0].get_array()  # fc1's 86 neurons, 10 a row: 9 rows of 28 + 1 px gaps
    assert grid.shape == (9 * 29 + 1, 10 * 29 + 1)
    plt.close("all")


# --- weights files: what people save, and what they should not load ----------------------------------

def saved(path, content):
    torch.save(content, path)
    return str(path)


def test_weights_load_from_checkpoints_and_wrapped_networks(tmp_path):
    from play.weights import load_network

    network = mnist_mlp.Net(hidden_units=40)
    weights = network.state_dict()
    files = {
        "state_dict": weights,
        "checkpoint": {"epoch": 3, "model_state_dict": weights, "optimizer_state_dict": {}},
        "DataParallel": {f"module.{name}": tensor for name, tensor in weights.items()},
        "torch.compile": {"state_dict": {f"_orig_mod.{name}": tensor for name, tensor in weights.items()}},
    }
    pictures = torch.randn(3, 1, 28, 28)
    for name, content in files.items():
        loaded = load_network(saved(tmp_path / f"{name}.pt", content))
        assert torch.equal(loaded(pictures), network.eval()(pictures)), name


def test_weights_of_another_shape_are_named_in_one_line(tmp_path):
    from play.weights import WeightsError, load_network

    weights = mnist_mlp.Net().state_dict()
    weights["fc3.weight"], weights["fc3.bias"] = torch.zeros(5, 86), torch.zeros(5)
    with pytest.raises(WeightsError, match=r"fc3.weight is 5x86 in the file, 10x86"):
        load_network(saved(tmp_path / "five.pt", weights))


class Planted:
    """A pickle that would create a file if it ran code as it loaded."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


@pytest.mark.parametrize("kind", ["code", "whole model", "text"])
def test_files_that_are_not_plain_weights_are_refused_without_running_them(kind, tmp_path):
    from play.weights import WeightsError, load_network

    planted = tmp_path / "planted"
    path = tmp_path / "file.pt"
    if kind == "code":
        with open(path, "wb") as file:
            pickle.dump({"fc1.weight": Planted(str(planted))}, file, protocol=2)
    elif kind == "whole model":
        torch.save(mnist_mlp.Net(), path)
    else:
        path.write_text("hello, these are not weights\n")
    with pytest.raises(WeightsError, match="torch.save\\(model.state_dict\\(\\), PATH\\)"):
        load_network(str(path))
    assert not planted.exists()


def test_the_command_line_lists_its_three_commands():
    result = subprocess.run([sys.executable, "-m", "play", "--help"], cwd=ROOT, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0
    assert "{read,draw,inside}" in result.stdout
