"""Tests of what the picture shows of learning (the learning curve, the first layer's weights),
--hidden-units, and the README's "Try this" experiments (benchmarks/experiments.py)."""

import os
import re
import runpy
import sys

import matplotlib.pyplot as plt
import pytest
import torch
from conftest import ROOT, SCRIPT, error_of
from test_mnist_mlp import EPOCH_LINE, HISTORY, results_figure

import mnist_mlp

sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
import experiments  # noqa: E402  (benchmarks/experiments.py)


def caught_history(monkeypatch):
    """The history main() hands to the picture, caught instead of drawn."""
    caught = []
    monkeypatch.setattr(mnist_mlp, "plot_results", lambda *args: caught.append(args[5]))
    return caught


# --- what training records ------------------------------------------------------------------------

def test_training_records_every_batch_loss_and_both_accuracies(synthetic_mnist, tmp_path, monkeypatch, capsys):
    caught = caught_history(monkeypatch)
    mnist_mlp.run(["--data-dir", synthetic_mnist, "--subset", "500", "--epochs", "2", "--batch-size", "100",
                   "--device", "cpu", "--plot", str(tmp_path / "p.png")])
    epochs = EPOCH_LINE.findall(capsys.readouterr().out)
    [history] = caught
    losses = history["batch losses"]
    assert len(losses) == 2 * 5  # 500 pictures in batches of 100, twice
    for epoch, (_, _, loss, train, test) in enumerate(epochs):  # what each epoch line printed
        assert sum(losses[5 * epoch:5 * epoch + 5]) / 5 == pytest.approx(float(loss), abs=5e-5)
        assert 100 * history["training accuracy"][epoch] == pytest.approx(float(train), abs=0.005)
        assert 100 * history["test accuracy"][epoch] == pytest.approx(float(test), abs=0.005)


def test_no_plot_draws_nothing(synthetic_mnist, monkeypatch):
    monkeypatch.setattr(mnist_mlp, "plot_results", lambda *args: pytest.fail("drew with --no-plot"))
    monkeypatch.setattr(mnist_mlp, "confident_mistakes", lambda *args: pytest.fail("looked for mistakes"))
    mnist_mlp.run(["--data-dir", synthetic_mnist, "--subset", "300", "--epochs", "1", "--no-plot"])
    assert plt.get_fignums() == []


# --- the picture ----------------------------------------------------------------------------------

def test_the_learning_curve_shows_every_batch_its_running_mean_and_the_epoch_accuracies(
        synthetic_mnist, tmp_path, monkeypatch):
    curve, *_ = results_figure(synthetic_mnist, tmp_path, monkeypatch).subfigs
    loss_axes, accuracy_axes = curve.axes
    batches, running_mean = loss_axes.lines
    assert list(batches.get_ydata()) == pytest.approx(HISTORY["batch losses"])
    assert batches.get_xdata()[-1] == pytest.approx(2)  # the x axis counts epochs: 6 batches in 2
    assert batches.get_alpha() < 0.5 < (running_mean.get_alpha() or 1)  # each batch faint, the mean bold
    window = len(HISTORY["batch losses"]) - len(running_mean.get_ydata()) + 1
    assert running_mean.get_ydata()[0] == pytest.approx(sum(HISTORY["batch losses"][:window]) / window)
    labels = [label.get_text() for label in loss_axes.get_yticklabels(which="both") if label.get_text()]
    assert len(labels) >= 2 and all(re.fullmatch(r"\d+(\.\d+)?", label) for label in labels), labels  # 0.5, 2
    training, test = accuracy_axes.lines
    assert list(training.get_xdata()) == [1, 2] and list(training.get_ydata()) == pytest.approx([90, 95])
    assert list(test.get_ydata()) == pytest.approx([88, 90])
    assert [text.get_text() for text in accuracy_axes.get_legend().get_texts()] == [
        "training pictures: 95.00% at the end", "test pictures: 90.00% at the end"]
    assert accuracy_axes.get_ylim()[1] == 100
    plt.close("all")


@pytest.mark.parametrize("hidden_units, shown, title", [(86, 86, "its 86 neurons"), (16, 16, "its 16 neurons"),
                                                        (200, 96, "96 of its 200 neurons")])
def test_the_first_layer_is_drawn_neuron_by_neuron_red_for_positive(synthetic_mnist, tmp_path, monkeypatch,
                                                                     hidden_units, shown, title):
    torch.manual_seed(0)
    model = mnist_mlp.Net(hidden_units)
    _, weights, *_ = results_figure(synthetic_mnist, tmp_path, monkeypatch, model=model).subfigs
    [image] = weights.axes[0].images
    colours = torch.from_numpy(image.get_array())  # [height, width, red/green/blue/opacity], bytes
    columns = colours.shape[1] // 30
    first_layer = model.fc1.weight.detach().reshape(-1, 28, 28)
    for neuron in (0, shown - 1):  # the first and the last tile
        row, column = divmod(neuron, columns)
        tile = colours[30 * row + 1:30 * row + 29, 30 * column + 1:30 * column + 29]
        scaled = first_layer[neuron] / first_layer[neuron].abs().max()  # its own scale, -1 to 1
        expected = mnist_mlp.FIRST_LAYER_COLOURS((scaled.numpy() + 1) / 2, bytes=True)  # centred on 0
        assert torch.equal(tile, torch.from_numpy(expected))
        strongest = divmod(int(scaled.abs().argmax()), 28)  # its largest weight, either way: -1 or 1
        red, _, blue, _ = tile[strongest].tolist()
        assert (red - blue > 50) if scaled[strongest] > 0 else (blue - red > 50)  # red above 0, blue below
    assert int((colours[..., 3] > 0).sum()) == shown * 30 * 30  # the places left over are transparent
    assert title in weights.get_suptitle()
    plt.close("all")


def test_a_loaded_network_has_no_learning_curve_but_its_first_layer(synthetic_mnist, tmp_path, monkeypatch):
    curve, weights, *_ = results_figure(synthetic_mnist, tmp_path, monkeypatch, history=None).subfigs
    assert curve.axes == [] and "--load-model" in " ".join(text.get_text() for text in curve.texts)
    assert weights.axes[0].images
    plt.close("all")


def test_the_picture_is_saved_with_all_four_parts(synthetic_mnist, tmp_path):
    plot = tmp_path / "summary.png"
    mnist_mlp.run(["--data-dir", synthetic_mnist, "--subset", "300", "--epochs", "2", "--plot", str(plot)])
    from PIL import Image
    with Image.open(plot) as picture:
        assert picture.size == (960, 672)  # 12 x 8.4 inches at 80 dots per inch


# --- --hidden-units -------------------------------------------------------------------------------

def test_hidden_units_sets_both_hidden_layers(synthetic_mnist, tmp_path, capsys):
    mnist_mlp.run(["--data-dir", synthetic_mnist, "--subset", "300", "--epochs", "1", "--hidden-units", "16",
                   "--no-plot", "--save-model", str(tmp_path / "m.pt")])
    state_dict = torch.load(tmp_path / "m.pt", weights_only=True)
    assert state_dict["fc1.weight"].shape == (16, 784) and state_dict["fc2.weight"].shape == (16, 16)
    assert state_dict["fc3.weight"].shape == (10, 16)


def test_a_saved_network_loads_at_its_own_size(synthetic_mnist, tmp_path, capsys):
    saved = str(tmp_path / "m.pt")
    mnist_mlp.run(["--data-dir", synthetic_mnist, "--subset", "300", "--epochs", "1", "--hidden-units", "16",
                   "--no-plot", "--save-model", saved])
    trained = re.search(r"Test accuracy: .*", capsys.readouterr().out).group(0)
    mnist_mlp.run(["--data-dir", synthetic_mnist, "--load-model", saved, "--no-plot"])
    assert re.search(r"Test accuracy: .*", capsys.readouterr().out).group(0) == trained
    mnist_mlp.run(["--data-dir", synthetic_mnist, "--load-model", saved, "--no-plot", "--hidden-units", "32"])
    assert "--hidden-units 32 changed nothing: the network's size comes from" in capsys.readouterr().out


@pytest.mark.parametrize("value", ["0", "-3", "many"])
def test_a_bad_hidden_units_is_refused(value, capsys):
    with pytest.raises(SystemExit) as excinfo:
        mnist_mlp.run(["--hidden-units", value])
    assert excinfo.value.code == 2 and "--hidden-units" in capsys.readouterr().err


def test_weights_of_another_shape_say_so(tmp_path):
    state_dict = mnist_mlp.Net(16).state_dict()
    state_dict["fc3.weight"] = torch.zeros(10, 17)
    torch.save(state_dict, tmp_path / "odd.pt")
    with pytest.raises(SystemExit) as excinfo:
        mnist_mlp.load_model(str(tmp_path / "odd.pt"), torch.device("cpu"))
    assert "do not fit this network" in error_of(excinfo)


# --- the README's experiments ---------------------------------------------------------------------

def test_the_experiments_change_what_they_say(tmp_path):
    edited = {name: experiments.edited_source(edits) for name, _, edits in experiments.EXPERIMENTS}
    assert edited["the defaults"] == open(SCRIPT).read()
    no_relu = edited["no ReLU: a linear model"]
    assert "F.relu" not in no_relu and no_relu.count("self.fc") == 6
    with pytest.raises(ValueError, match="not once"):
        experiments.edited_source([("this text is not in the file", "")])


@pytest.mark.parametrize("name, flags, edits", [e for e in experiments.EXPERIMENTS if e[2]],
                         ids=[e[0].split(":")[0] for e in experiments.EXPERIMENTS if e[2]])
def test_each_edited_copy_runs(synthetic_mnist, tmp_path, name, flags, edits, capsys):
    copy = tmp_path / "copy.py"
    copy.write_text(experiments.edited_source(edits))
    copied = runpy.run_path(str(copy), run_name="experiment")
    copied["run"](["--data-dir", synthetic_mnist, "--subset", "200", "--epochs", "1", "--no-plot", "--device",
                   "cpu", *flags])
    assert "Test accuracy" in capsys.readouterr().out
    if "sorted" in name:  # all the 0s, then all the 1s, ...: in order, every epoch
        train_loader, _, _ = copied["make_loaders"](synthetic_mnist, 64, 200)
        for _ in range(2):
            labels = torch.cat([labels for _, labels in train_loader])
            assert torch.equal(labels, labels.sort().values)
    if "normalisation" in name:  # white stays 1, or 255
        white = copied["prepare"](torch.full((1, 1, 1), 255, dtype=torch.uint8)).item()
        assert white == (255 if name.endswith("0-255") else 1)


def test_the_readme_quotes_every_experiment():
    with open(os.path.join(ROOT, "README.md")) as file:
        readme = file.read()
    for name, flags, edits in experiments.EXPERIMENTS:
        assert name in readme, name
        for _, new in edits:
            assert new.strip().splitlines()[0].strip() in readme, new
