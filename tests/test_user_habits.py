"""Files and habits users bring: weights saved elsewhere, near-miss MNIST folders, Ctrl-C, consoles
that cannot print every character, and settings that must be refused before training."""

import gzip
import http.server
import os
import shutil
import signal
import subprocess
import sys
import threading

import pytest
import torch
from conftest import SCRIPT, error_of, readings, run_script
from PIL import Image

import mnist_mlp


# --- weights files (--load-model) -----------------------------------------------------------------

@pytest.mark.parametrize("wrap", [
    lambda weights: {f"module.{name}": tensor for name, tensor in weights.items()},  # nn.DataParallel
    lambda weights: {f"_orig_mod.{name}": tensor for name, tensor in weights.items()},  # torch.compile
    lambda weights: {"epoch": 3, "model_state_dict": weights, "optimizer_state_dict": {}},  # a checkpoint
], ids=["DataParallel", "torch.compile", "checkpoint dict"])
def test_weights_saved_by_other_programs_load(trained_model, tmp_path, seven, capsys, wrap):
    mnist_mlp.run(["--load-model", trained_model, "--predict", seven, "--no-plot"])
    expected = readings(capsys.readouterr().out)
    wrapped = tmp_path / "wrapped.pt"
    torch.save(wrap(torch.load(trained_model, weights_only=True)), wrapped)
    mnist_mlp.run(["--load-model", str(wrapped), "--predict", seven, "--no-plot"])
    assert readings(capsys.readouterr().out) == expected != []


def test_a_whole_pickled_model_is_refused_with_how_to_save_weights(tmp_path, seven, closed_port_url):
    whole = tmp_path / "whole.pt"
    maker = ("import torch, torch.nn as nn\n"
             "class Net(nn.Module):\n"
             "    def __init__(self):\n"
             "        super().__init__()\n"
             "        self.fc1 = nn.Linear(784, 86)\n"
             f"torch.save(Net(), {str(whole)!r})\n")
    subprocess.run([sys.executable, "-c", maker], check=True, timeout=120)  # its class is __main__.Net
    result = run_script("--load-model", str(whole), "--predict", seven, "--no-plot",
                        closed_port_url=closed_port_url)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    message = result.stderr.strip()
    assert message.count("\n") == 0, message
    assert "whole pickled model" in message and "__main__.Net" in message
    assert "runs the code" in message and "torch.save(model.state_dict(), PATH)" in message
    assert readings(result.stdout) == []


# --- MNIST's files --------------------------------------------------------------------------------

def gzipped_copy(synthetic_mnist, root):
    """MNIST as it is published: only the four .gz files in MNIST/raw/ (compressed here, so their
    checksums are not the ones torchvision knows)."""
    raw = os.path.join(root, "MNIST", "raw")
    os.makedirs(raw)
    for name in mnist_mlp.IDX_FILES:
        with open(os.path.join(synthetic_mnist, "MNIST", "raw", name), "rb") as plain, \
                gzip.open(os.path.join(raw, name + ".gz"), "wb") as packed:
            shutil.copyfileobj(plain, packed)
    return raw


def test_only_the_gz_files_are_unpacked_and_used(synthetic_mnist, tmp_path, capsys):
    raw = gzipped_copy(synthetic_mnist, tmp_path)
    mnist_mlp.run(["--data-dir", str(tmp_path), "--epochs", "1", "--no-plot"])
    assert "Test accuracy" in capsys.readouterr().out
    for name in mnist_mlp.IDX_FILES:
        with open(os.path.join(raw, name), "rb") as unpacked, \
                open(os.path.join(synthetic_mnist, "MNIST", "raw", name), "rb") as original:
            assert unpacked.read() == original.read()
    assert not [name for name in os.listdir(raw) if name.endswith(".tmp")]


def test_a_truncated_gz_file_is_named(synthetic_mnist, tmp_path):
    raw = gzipped_copy(synthetic_mnist, tmp_path)
    path = os.path.join(raw, "train-images-idx3-ubyte.gz")
    with open(path, "rb") as file:
        data = file.read()
    with open(path, "wb") as file:
        file.write(data[: len(data) // 2])
    with pytest.raises(SystemExit) as excinfo:
        mnist_mlp.run(["--data-dir", str(tmp_path), "--no-plot"])
    assert path in error_of(excinfo) and "truncated" in error_of(excinfo)
    assert not os.path.exists(path[:-3])  # no half-unpacked file


@pytest.mark.parametrize("point_at", ["MNIST", os.path.join("MNIST", "raw")])
def test_data_dir_pointing_into_the_mnist_folders_is_taken_as_meant(synthetic_mnist, capsys, point_at):
    mnist_mlp.run(["--data-dir", os.path.join(synthetic_mnist, point_at), "--epochs", "1", "--no-plot"])
    assert "Test accuracy" in capsys.readouterr().out


def test_files_in_the_wrong_folder_say_where_they_go(synthetic_mnist, tmp_path):
    for name in mnist_mlp.IDX_FILES:
        shutil.copy(os.path.join(synthetic_mnist, "MNIST", "raw", name), tmp_path)
    with pytest.raises(SystemExit) as excinfo:
        mnist_mlp.run(["--data-dir", str(tmp_path), "--no-plot"])
    assert f"are in {tmp_path}," in error_of(excinfo)
    assert os.path.join(str(tmp_path), "MNIST", "raw") in error_of(excinfo) and "move them" in error_of(excinfo)


def test_files_named_with_a_dot_are_named_with_what_to_rename_them_to(synthetic_mnist, tmp_path):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for name in mnist_mlp.IDX_FILES:  # as some copies of MNIST name them: train-images.idx3-ubyte
        shutil.copy(os.path.join(synthetic_mnist, "MNIST", "raw", name), raw / name.replace("-idx", ".idx"))
    with pytest.raises(SystemExit) as excinfo:
        mnist_mlp.run(["--data-dir", str(tmp_path), "--no-plot"])
    assert "train-images.idx3-ubyte" in error_of(excinfo) and "rename" in error_of(excinfo)
    assert "train-images-idx3-ubyte" in error_of(excinfo)


def test_no_data_from_another_folder_names_the_absolute_path_and_leaves_nothing(tmp_path, closed_port_url):
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    result = run_script(closed_port_url=closed_port_url, cwd=notebooks, env={"MNIST_DATA": None})
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert f"MNIST is not in {notebooks / 'data' / 'MNIST' / 'raw'} " in result.stderr
    assert os.listdir(notebooks) == []  # no empty data/MNIST/raw/ left behind


@pytest.fixture
def broken_mirror():
    """A local web server that answers every file with a few bytes that are not MNIST, as a
    download cut off early would leave them."""
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Length", "16")
            self.end_headers()
            self.wfile.write(b"\x1f\x8b not mnist!!!")

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()


def test_a_failed_download_leaves_no_half_files_and_keeps_what_was_there(tmp_path, broken_mirror):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    (raw / "notes.txt").write_text("mine")
    result = run_script("--data-dir", str(tmp_path), closed_port_url=broken_mirror)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "downloading it failed" in result.stderr
    assert os.listdir(raw) == ["notes.txt"]


# --- stopping and consoles ------------------------------------------------------------------------

def test_ctrl_c_while_training_is_one_line_and_status_130(synthetic_mnist, tmp_path):
    model = tmp_path / "model.pt"
    # A real SIGINT, as Ctrl-C sends it, once the epoch lines show that training has begun.
    process = subprocess.Popen([sys.executable, SCRIPT, "--data-dir", synthetic_mnist, "--epochs", "100000",
                                "--save-model", str(model), "--no-plot"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, env=dict(os.environ, MPLBACKEND="Agg"))
    while not process.stdout.readline().startswith("Epoch 2/"):
        assert process.poll() is None, process.stderr.read()
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130
    assert stderr.strip() == "mnist_mlp: stopped by Ctrl-C"
    assert os.listdir(tmp_path) == []  # no model, and no half-saved one


@pytest.mark.parametrize("where", ["test", "plot_results", "prepare_image"])
def test_ctrl_c_anywhere_else_is_the_same_line(synthetic_mnist, trained_model, seven, tmp_path, monkeypatch,
                                               capsys, where):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(mnist_mlp, where, interrupted)
    flags = ["--load-model", trained_model, "--predict", seven] if where == "prepare_image" else \
        ["--data-dir", synthetic_mnist, "--epochs", "1", "--plot", str(tmp_path / "p.png")]
    with pytest.raises(SystemExit) as excinfo:
        mnist_mlp.run(flags)
    assert excinfo.value.code == 130
    assert capsys.readouterr().err.strip() == "mnist_mlp: stopped by Ctrl-C"
    assert not os.path.exists(tmp_path / "p.png")


def test_a_console_that_cannot_print_a_name_still_prints_the_readings(trained_model, seven, tmp_path,
                                                                      closed_port_url):
    cyrillic = tmp_path / "цифра.png"
    shutil.copy(seven, cyrillic)
    result = run_script("--load-model", trained_model, "--predict", str(cyrillic), seven, "--no-plot",
                        closed_port_url=closed_port_url, env={"PYTHONIOENCODING": "cp1252"})
    assert result.returncode == 0, result.stderr
    lines = readings(result.stdout)
    assert len(lines) == 2
    assert lines[0].startswith(str(tmp_path / "\\u0446\\u0438\\u0444\\u0440\\u0430.png: "))
    assert lines[1].startswith(f"{seven}: ")


def test_a_nan_loss_at_the_default_rate_points_to_the_device_or_the_data(synthetic_mnist, closed_port_url):
    # As a faulty GPU backend can make it: every output of the network NaN.
    result = run_script("--data-dir", synthetic_mnist, "--no-plot", closed_port_url=closed_port_url,
                        before="import torch.nn.functional as F; log_softmax = F.log_softmax; "
                               "F.log_softmax = lambda *a, **k: log_softmax(*a, **k) * float('nan')")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    message = result.stderr.strip()
    assert "loss reached nan" in message and "too high" not in message
    assert "no higher than the default" in message and "the device or the data" in message


def test_a_nan_loss_on_a_gpu_suggests_the_cpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    with pytest.raises(SystemExit) as excinfo:
        mnist_mlp.stop_if_training_failed(float("nan"), 0.1, 1, 469, mnist_mlp.parse_args([]))
    assert "try --device cpu" in error_of(excinfo)


# --- checks before training -----------------------------------------------------------------------

@pytest.mark.parametrize("flags, problem", [
    (["--save-model", "no-such-folder/m.pt"], "--save-model: there is no folder no-such-folder"),
    (["--save-model", "."], "--save-model: . is a folder"),
    (["--predict", "no-such-picture.png"], "--predict: there is no file no-such-picture.png"),
])
def test_settings_that_would_fail_after_training_are_refused_before_it(synthetic_mnist, closed_port_url, tmp_path,
                                                                       flags, problem):
    result = run_script("--data-dir", synthetic_mnist, "--no-plot", *flags, closed_port_url=closed_port_url,
                        cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert problem in result.stderr and "Training on" not in result.stdout


def test_a_blank_picture_is_refused_before_training(synthetic_mnist, tmp_path, capsys):
    blank = tmp_path / "blank.png"
    Image.new("L", (100, 100), 255).save(blank)
    with pytest.raises(SystemExit) as excinfo:
        mnist_mlp.run(["--data-dir", synthetic_mnist, "--predict", str(blank), "--no-plot"])
    assert excinfo.value.code == 2
    assert "looks blank" in capsys.readouterr().err


def test_one_epoch_is_one_epoch(synthetic_mnist, capsys):
    mnist_mlp.run(["--data-dir", synthetic_mnist, "--epochs", "1", "--subset", "100", "--no-plot"])
    assert "Training on 100 images for 1 epoch\n" in capsys.readouterr().out


def test_training_settings_with_load_model_are_said_to_change_nothing(trained_model, seven, capsys):
    mnist_mlp.run(["--load-model", trained_model, "--epochs", "5", "--lr", "0.5", "--predict", seven, "--no-plot"])
    assert "Not training (--load-model), so --epochs and --lr changed nothing" in capsys.readouterr().out
    mnist_mlp.run(["--load-model", trained_model, "--predict", seven, "--no-plot"])
    assert "changed nothing" not in capsys.readouterr().out


def test_several_pictures_are_read_before_the_picture_is_saved(trained_model, seven, tmp_path, capsys):
    mnist_mlp.run(["--load-model", trained_model, "--predict", seven, seven, seven, "--plot", str(tmp_path / "p.png")])
    lines = capsys.readouterr().out.splitlines()
    assert [("; then " in line) for line in lines[-4:]] == [True, True, True, False]
    assert lines[-1] == f"Saved the picture to {tmp_path / 'p.png'}"


def test_an_error_in_place_of_another_hides_it(tmp_path):
    # IPython's %run (Jupyter, Colab) fails to print a SystemExit that carries the error it replaced.
    with pytest.raises(SystemExit) as excinfo:
        mnist_mlp.load_model(str(tmp_path / "nothere.pt"), torch.device("cpu"))
    assert "there is no model file" in error_of(excinfo)
    assert excinfo.value.__suppress_context__ and excinfo.value.__cause__ is None
