"""Errors that tell the truth (issue 21): weights saved by other programs, the real cause of a file
that cannot be used, paths with ~, outputs that cannot be written, a matplotlib backend that is not
there, pictures that are folders or HEIC photos, names that are not UTF-8, and settings that would
otherwise be ignored without a word."""

import gzip
import os
import re
import shutil
import subprocess
import sys
import tempfile
import warnings
import zipfile

import pytest
import torch
import torch.nn.functional as F
from conftest import ROOT, SCRIPT, error_of, readings, run_script, synthetic_digits
from PIL import Image

import mnist_mlp


@pytest.fixture(scope="module")
def reading_of_seven(trained_model, seven):
    """What the trained network reads in the seven, as --predict prints it."""
    image = mnist_mlp.prepare_image(seven)
    model = mnist_mlp.load_model(trained_model, torch.device("cpu"))
    with torch.no_grad():
        return mnist_mlp.top_three(model(image).exp()[0])


def predicted(flags, capsys):
    """The --predict readings (without the picture's name) of a run with these flags."""
    mnist_mlp.run(flags)
    return [line.split(": ", 1)[1] for line in readings(capsys.readouterr().out)]


@pytest.fixture
def shared_folder():
    """A folder in /tmp that another user can enter (pytest's own tmp_path is root's alone)."""
    folder = tempfile.mkdtemp(prefix="mnist_mlp_errors_")
    os.chmod(folder, 0o755)
    yield folder
    for root, folders, _ in os.walk(folder):
        for name in folders:
            os.chmod(os.path.join(root, name), 0o755)
    shutil.rmtree(folder)


def run_as_a_user(*args, closed_port_url, cwd=None):
    """mnist_mlp.py run by a user who is not root (root may write and read anything, whatever a
    file's permissions say): as `nobody` when the tests run as root. Python's own files stay
    readable to it: the modules the program uses are imported before the switch."""
    before = ""
    if os.geteuid() == 0:
        before = ("import argparse, contextlib, gzip, http.client, math, os, pickle, shutil, socket, warnings, "
                  "zipfile, zlib, matplotlib.pyplot, matplotlib.backend_bases, matplotlib.backends, PIL.Image, "
                  "PIL.ImageOps, torchvision.transforms.functional, tqdm, importlib.util, typing, numpy, "
                  "scipy.ndimage, matplotlib.patches\n"
                  "import io, torch; PIL.Image.init(); saved = io.BytesIO(); torch.save({}, saved); saved.seek(0)\n"
                  "torch.load(saved, weights_only=True)  # what it imports on first use\n"
                  "os.setgid(65534); os.setuid(65534)")
    return run_script(*args, closed_port_url=closed_port_url, cwd=cwd, before=before,
                      env={"MPLCONFIGDIR": cwd, "HOME": cwd})


# --- 1. checkpoints of other programs: the fc1.weight family, under any prefix, at any depth --------

@pytest.mark.parametrize("wrap", [
    lambda weights: {"epoch": 3, "global_step": 1410, "pytorch-lightning_version": "2.4.0",
                     "state_dict": {f"model.{name}": tensor for name, tensor in weights.items()},
                     "optimizer_states": [{"state": {}, "param_groups": [{"lr": 0.001}]}]},
    lambda weights: {f"_orig_mod.module.{name}": tensor for name, tensor in weights.items()},
    lambda weights: {"run": {"checkpoint": {"net": {f"net.{name}": tensor for name, tensor in weights.items()}}}},
], ids=["PyTorch Lightning", "compiled DataParallel", "nested three deep"])
def test_weights_inside_other_programs_checkpoints_load(trained_model, tmp_path, seven, reading_of_seven, capsys,
                                                         wrap):
    wrapped = tmp_path / "checkpoint.ckpt"
    torch.save(wrap(torch.load(trained_model, weights_only=True)), wrapped)
    assert predicted(["--load-model", str(wrapped), "--predict", seven, "--no-plot"], capsys) == [reading_of_seven]


# --- 2. the classic tutorial's network, trained on pixels 0-1 ---------------------------------------

@pytest.fixture(scope="module")
def unit_pixel_model(tmp_path_factory):
    """Weights of a tiny network of this program's kind (8 hidden units) trained, as the classic
    tutorial trains it, on pixels 0-1 without normalisation (on the synthetic digits). Normalised
    pictures, 3.2 times as bright and shifted by -0.42, throw it off: 83% against 100% here."""
    torch.manual_seed(0)
    images, labels = (torch.from_numpy(array) for array in synthetic_digits(600, 1))
    images, labels = images.float().unsqueeze(1) / 255, labels.long()
    model = mnist_mlp.Net(8)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(20):
        for batch in torch.randperm(600).split(32):
            optimizer.zero_grad()
            F.nll_loss(model(images[batch]), labels[batch]).backward()
            optimizer.step()
    path = tmp_path_factory.mktemp("unit_pixels") / "tutorial.pt"
    torch.save(model.state_dict(), path)
    return str(path)


def accuracy_of(output):
    return float(re.search(r"Test accuracy: ([\d.]+)%", output).group(1))


def test_weights_trained_on_0_1_pixels_are_said_so_and_read_as_they_were_trained(unit_pixel_model, synthetic_mnist,
                                                                                 tmp_path, capsys):
    weights = torch.load(unit_pixel_model, weights_only=True)
    test_images, test_labels = (torch.from_numpy(array) for array in synthetic_digits(200, 2))
    model = mnist_mlp.Net(8)
    model.load_state_dict(weights)
    with torch.no_grad():  # its accuracy as it was trained: on pixels 0-1
        unit = (model(test_images.float().unsqueeze(1) / 255).argmax(1) == test_labels).float().mean().item()
    adapted = tmp_path / "adapted.pt"
    mnist_mlp.run(["--load-model", unit_pixel_model, "--data-dir", synthetic_mnist, "--no-plot",
                   "--save-model", str(adapted)])
    out = capsys.readouterr().out
    assert "read MNIST's test pictures better as plain 0-1 pixels" in out and "--save-model" in out
    assert accuracy_of(out) == pytest.approx(100 * unit, abs=0.01)  # as it reads 0-1 pixels, exactly
    # The saved copy takes normalised pictures as they are: no line, the same accuracy.
    mnist_mlp.run(["--load-model", str(adapted), "--data-dir", synthetic_mnist, "--no-plot"])
    out_again = capsys.readouterr().out
    assert "0-1 pixels" not in out_again and accuracy_of(out_again) == accuracy_of(out)


def test_weights_trained_here_are_left_as_they_are(trained_model, synthetic_mnist, capsys):
    mnist_mlp.run(["--load-model", trained_model, "--data-dir", synthetic_mnist, "--no-plot"])
    assert "0-1 pixels" not in capsys.readouterr().out


# --- 3. TorchScript -----------------------------------------------------------------------------

def test_a_torchscript_export_loads_without_a_warning(trained_model, tmp_path, seven, reading_of_seven, capsys):
    model = mnist_mlp.Net()
    model.load_state_dict(torch.load(trained_model, weights_only=True))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.jit's own notice that it is deprecated
        torch.jit.save(torch.jit.script(model), tmp_path / "scripted.pt")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any warning fails the test
        reading = predicted(["--load-model", str(tmp_path / "scripted.pt"), "--predict", seven, "--no-plot"],
                            capsys)
    assert reading == [reading_of_seven]


def test_a_torchscript_export_that_does_not_load_says_how_to_get_its_weights(tmp_path):
    broken = tmp_path / "broken.pt"
    with zipfile.ZipFile(broken, "w") as archive:  # a TorchScript archive's layout, with nothing right in it
        archive.writestr("broken/constants.pkl", b"not a pickle")
        archive.writestr("broken/data.pkl", b"not a pickle")
    with pytest.raises(SystemExit) as excinfo:
        mnist_mlp.load_model(str(broken), torch.device("cpu"))
    message = error_of(excinfo)
    assert "TorchScript" in message and "torch.jit.load(PATH).state_dict()" in message and "\n" not in message


# --- 4. a layer of another shape ----------------------------------------------------------------

def test_a_layer_of_another_shape_is_named_with_both_shapes(trained_model, tmp_path):
    weights = torch.load(trained_model, weights_only=True)
    weights["fc3.weight"], weights["fc3.bias"] = weights["fc3.weight"][:5], weights["fc3.bias"][:5]  # 5 classes
    torch.save(weights, tmp_path / "five.pt")
    with pytest.raises(SystemExit) as excinfo:
        mnist_mlp.load_model(str(tmp_path / "five.pt"), torch.device("cpu"))
    message = error_of(excinfo)
    assert "fc3.weight is [5, 86] in the file but [10, 86] in this network" in message
    assert "fc3.bias is [5] in the file but [10] in this network" in message and "fc1" not in message


def test_missing_and_extra_layers_are_named(trained_model, tmp_path):
    weights = torch.load(trained_model, weights_only=True)
    del weights["fc3.bias"]
    weights["fc4.weight"] = torch.zeros(10, 10)
    torch.save(weights, tmp_path / "other.pt")
    with pytest.raises(SystemExit) as excinfo:
        mnist_mlp.load_model(str(tmp_path / "other.pt"), torch.device("cpu"))
    assert "fc3.bias missing; fc4.weight not in this network" in error_of(excinfo)


# --- 5. the real cause, and the CPU first ---------------------------------------------------------

@pytest.mark.parametrize("make, message", [
    (lambda path: os.mkdir(path), "is a folder, not a model file"),
    (lambda path: open(path, "wb").close(), "is empty (0 bytes)"),
    (lambda path: open(path, "w").write("not a model"), "is not a PyTorch weights file"),
    (lambda path: open(path, "w").write("hidden_units=86\n"), "is not a PyTorch weights file"),  # h: KeyError
    (lambda path: open(path, "w").write("joe\n"), "is not a PyTorch weights file"),  # j: struct.error
], ids=["folder", "empty", "text", "text starting with h", "text starting with j"])
def test_a_model_file_that_cannot_be_used_says_why(tmp_path, make, message):
    path = str(tmp_path / "model.pt")
    make(path)
    with pytest.raises(SystemExit) as excinfo:
        mnist_mlp.load_model(path, torch.device("cpu"))
    assert message in error_of(excinfo)


def test_a_model_file_that_cannot_be_read_says_permission_denied(trained_model, shared_folder, seven,
                                                                  closed_port_url):
    path = os.path.join(shared_folder, "model.pt")
    shutil.copy(trained_model, path)
    os.chmod(path, 0)
    shutil.copy(seven, shared_folder)
    result = run_as_a_user("--load-model", path, "--predict", os.path.join(shared_folder, "seven.png"), "--no-plot",
                           closed_port_url=closed_port_url, cwd=shared_folder)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert f"cannot read the model file {path}: Permission denied" in result.stderr


def test_a_bug_while_loading_still_raises(trained_model, monkeypatch):
    def broken(*args, **kwargs):
        raise ZeroDivisionError("a bug, not a bad file")

    monkeypatch.setattr(torch, "load", broken)
    with pytest.raises(ZeroDivisionError):
        mnist_mlp.load_model(trained_model, torch.device("cpu"))


def test_weights_load_on_the_cpu_then_the_network_moves(trained_model, tmp_path, monkeypatch):
    weights = {name: tensor.double() for name, tensor in torch.load(trained_model, weights_only=True).items()}
    torch.save({"model_state_dict": weights, "optimizer_state_dict": {"state": {}}}, tmp_path / "float64.pt")
    places = []
    load = torch.load
    monkeypatch.setattr(torch, "load", lambda *args, **kwargs: places.append(kwargs["map_location"]) or
                        load(*args, **kwargs))
    model = mnist_mlp.load_model(str(tmp_path / "float64.pt"), torch.device("cpu"))
    assert places == ["cpu"] and model.fc1.weight.dtype == torch.float32


# --- 6. ~ in paths, and what a failed download made -----------------------------------------------

def test_a_tilde_is_expanded_in_every_path(monkeypatch, tmp_path, seven):
    monkeypatch.setenv("HOME", str(tmp_path))
    shutil.copy(seven, tmp_path / "seven.png")
    monkeypatch.setenv("MNIST_DATA", "~/mnist")
    args = mnist_mlp.parse_args(["--plot", "~/p.png", "--save-model", "~/m.pt", "--load-model", "~/in.pt",
                                 "--predict", "~/seven.png"])
    assert (args.data_dir, args.plot, args.save_model, args.load_model, args.predict) == (
        str(tmp_path / "mnist"), str(tmp_path / "p.png"), str(tmp_path / "m.pt"), str(tmp_path / "in.pt"),
        [str(tmp_path / "seven.png")])
    assert mnist_mlp.parse_args(["--data-dir=~/elsewhere"]).data_dir == str(tmp_path / "elsewhere")


def test_a_tilde_data_dir_reads_mnist_from_home_and_makes_no_folder_named_tilde(synthetic_mnist, tmp_path,
                                                                               closed_port_url):
    home, work = tmp_path / "home", tmp_path / "work"
    work.mkdir()
    shutil.copytree(synthetic_mnist, home / "mnist")
    result = run_script("--data-dir=~/mnist", "--epochs", "1", "--subset", "100", "--no-plot",
                        closed_port_url=closed_port_url, cwd=work, env={"HOME": str(home)})
    assert result.returncode == 0, result.stderr
    assert os.listdir(work) == []


def test_a_failed_download_removes_every_folder_it_made(tmp_path, closed_port_url):
    result = run_script("--data-dir", os.path.join("course", "week1", "data"), closed_port_url=closed_port_url,
                        cwd=tmp_path)
    assert result.returncode == 1 and "downloading it failed" in result.stderr
    assert os.listdir(tmp_path) == []


# --- 7. an empty .gz ------------------------------------------------------------------------------

def test_an_empty_gz_is_named_before_it_is_unpacked(synthetic_mnist, tmp_path):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for name in mnist_mlp.IDX_FILES:
        with open(os.path.join(synthetic_mnist, "MNIST", "raw", name), "rb") as plain, \
                gzip.open(raw / (name + ".gz"), "wb") as packed:
            shutil.copyfileobj(plain, packed)
    open(raw / "train-images-idx3-ubyte.gz", "wb").close()  # a download cut off before its first byte
    for _ in range(2):  # the same message the second time: nothing was unpacked to delete
        with pytest.raises(SystemExit) as excinfo:
            mnist_mlp.run(["--data-dir", str(tmp_path), "--no-plot"])
        assert f"{raw / 'train-images-idx3-ubyte.gz'} is empty" in error_of(excinfo)
    assert not (raw / "train-images-idx3-ubyte").exists()


# --- 8. outputs that cannot be written ------------------------------------------------------------

@pytest.mark.parametrize("flags, refused", [
    (["--plot", "course/out.png"], "--plot"),
    (["--save-model", "course/model.pt", "--no-plot"], "--save-model"),
    ([], "--plot"),  # run from the read-only folder, as on Kaggle: the default prediction.png
], ids=["plot", "save-model", "default plot"])
def test_an_output_folder_that_cannot_be_written_is_refused_before_training(shared_folder, closed_port_url,
                                                                            flags, refused):
    read_only = os.path.join(shared_folder, "course")
    os.mkdir(read_only)
    os.chmod(read_only, 0o555)
    result = run_as_a_user("--data-dir", os.path.join(shared_folder, "no-mnist"), *flags,
                           closed_port_url=closed_port_url, cwd=shared_folder if flags else read_only)
    assert result.returncode == 2 and "Traceback" not in result.stderr and "Training on" not in result.stdout
    assert result.stderr.startswith(f"mnist_mlp: error: argument {refused}: cannot write to the folder "
                                    f"{read_only} (permission denied, or read-only)")
    assert result.stderr.count("\n") == 1


# --- 9. a matplotlib backend that is not there ----------------------------------------------------

def test_a_backend_that_cannot_load_saves_the_picture_with_agg_and_says_so(synthetic_mnist, tmp_path,
                                                                           closed_port_url):
    picture = tmp_path / "p.png"
    result = run_script("--data-dir", synthetic_mnist, "--epochs", "1", "--subset", "200", "--plot", str(picture),
                        closed_port_url=closed_port_url, env={"MPLBACKEND": "module://backend_interagg"})
    assert result.returncode == 0 and result.stderr == "", result.stderr
    first, training = result.stdout.splitlines()[:2]
    assert "module://backend_interagg" in first and "MPLBACKEND" in first and "using Agg" in first
    assert training.startswith("Using device") and picture.exists()


# --- 10. pictures that are folders, unreadable, HEIC, or in other formats ------------------------

def test_a_folder_given_as_a_picture_is_called_a_folder(tmp_path):
    assert "is a folder, not a picture" in mnist_mlp.prepare_image(str(tmp_path))


def test_a_heic_photo_is_named_with_how_to_convert_it(tmp_path):
    photo = tmp_path / "IMG_0001.HEIC"
    photo.write_bytes(b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + bytes(200))  # HEIC's first bytes
    message = mnist_mlp.prepare_image(str(photo))
    assert "HEIC photo" in message and "JPEG" in message and "Most Compatible" in message


def test_a_file_that_is_no_picture_lists_the_formats_read(tmp_path):
    notes = tmp_path / "notes.png"
    notes.write_text("not a picture")
    assert mnist_mlp.prepare_image(str(notes)).endswith("(PNG, JPEG, BMP, WebP, TIFF or GIF)")


def test_a_picture_that_cannot_be_read_says_permission_denied(trained_model, shared_folder, seven, closed_port_url):
    path = os.path.join(shared_folder, "seven.png")
    shutil.copy(seven, path)
    os.chmod(path, 0)
    result = run_as_a_user("--data-dir", os.path.join(shared_folder, "no-mnist"), "--predict", path, "--no-plot",
                           closed_port_url=closed_port_url, cwd=shared_folder)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert f"cannot read {path}: permission denied" in result.stderr


@pytest.mark.parametrize("suffix", [".bmp", ".webp", ".tiff", ".gif"])  # lossless: the same pixels as the PNG
def test_every_format_listed_is_read(trained_model, seven, tmp_path, reading_of_seven, capsys, suffix):
    copy = tmp_path / f"seven{suffix}"
    Image.open(seven).save(copy, **({"lossless": True} if suffix == ".webp" else {}))
    assert suffix.lstrip(".").upper() in mnist_mlp.PICTURE_FORMATS.upper()
    assert predicted(["--load-model", trained_model, "--predict", str(copy), "--no-plot"], capsys) == [
        reading_of_seven]


# --- 11. names that are not UTF-8 -----------------------------------------------------------------

def test_a_name_that_is_not_utf8_is_shown_everywhere_and_the_picture_is_saved(trained_model, seven, tmp_path,
                                                                              capsys):
    old_name = os.fsdecode(bytes(tmp_path) + b"/caf\xe9.png")  # Latin-1, from an old zip archive
    shutil.copy(seven, old_name)
    picture = os.fsdecode(bytes(tmp_path) + b"/\xe9t\xe9.png")
    mnist_mlp.run(["--load-model", trained_model, "--predict", old_name, "--plot", picture])
    out = capsys.readouterr().out
    assert readings(out)[0].startswith(str(tmp_path / "caf\\xe9.png: "))
    saved = tmp_path / "\\xe9t\\xe9.png"
    assert f"Saved the picture to {saved}" in out and os.path.exists(picture)
    with pytest.raises(SystemExit) as excinfo:
        mnist_mlp.load_model(old_name + ".pt", torch.device("cpu"))
    assert "caf\\xe9.png.pt" in error_of(excinfo)


# --- 12. arguments that would be ignored without a word -------------------------------------------

def test_arguments_ignored_when_not_run_as_a_program_are_named(monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["wrapper.py", "--epochs", "1", "--no-plot"])
    args = mnist_mlp.parse_args()
    assert args.epochs == mnist_mlp.EPOCHS
    line = capsys.readouterr().out.strip()
    assert "these arguments were ignored: --epochs 1 --no-plot" in line
    assert "run(['--epochs', '1', '--no-plot'])" in line and "\n" not in line


def test_a_notebook_kernels_own_arguments_are_not_ours(monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["/usr/lib/python3/ipykernel_launcher.py", "-f", "/run/kernel-1.json"])
    mnist_mlp.parse_args()
    assert capsys.readouterr().out == ""


def test_a_subset_larger_than_mnist_says_it_trains_on_all_of_it(capsys):
    mnist_mlp.parse_args(["--subset", "100000", "--no-plot"])
    assert capsys.readouterr().out.strip() == ("--subset 100,000 is more than MNIST's 60,000 training images: "
                                               "it trains on all of them")
    mnist_mlp.parse_args(["--subset", "60000", "--no-plot"])
    assert capsys.readouterr().out == ""


# --- 13, 15. what a newcomer reads ----------------------------------------------------------------

def test_the_readmes_test_command_shows_why_tests_are_skipped():
    with open(os.path.join(ROOT, "README.md")) as file:
        readme = file.read()
    commands = re.findall(r"^.*python -m pytest.*$", readme, flags=re.MULTILINE)
    assert commands and all("-rs" in command for command in commands)


@pytest.mark.parametrize("flags", [["--epochs", "0"], ["--epochs"], ["--device", "tpu"], ["--epoch", "1", "--bogus"],
                                   ["--plot", "out.xyz"]])
def test_a_flag_error_is_one_line_with_the_programs_one_name(flags, closed_port_url):
    result = run_script(*flags, closed_port_url=closed_port_url)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith(("mnist_mlp: error: argument ", "mnist_mlp: error: unrecognized arguments: --bogus"))


def test_errors_after_the_flags_have_the_same_prefix(tmp_path, seven, closed_port_url):
    result = run_script("--load-model", str(tmp_path / "none.pt"), "--predict", seven,
                        closed_port_url=closed_port_url)
    assert result.returncode == 1 and result.stderr.startswith("mnist_mlp: error: ")


def test_help_names_the_program_and_every_picture_format(closed_port_url):
    result = subprocess.run([sys.executable, SCRIPT, "--help"], capture_output=True, text=True, timeout=120)
    assert result.stdout.startswith("usage: mnist_mlp ")
    assert "PNG, JPEG, BMP, WebP, TIFF or GIF" in " ".join(result.stdout.split())  # help wraps its lines


def test_an_mplbackend_matplotlib_does_not_know_is_ignored_with_a_line(closed_port_url):
    result = run_script("--help", closed_port_url=closed_port_url, env={"MPLBACKEND": "tk"})  # a typo for tkagg
    assert result.returncode == 0 and "Traceback" not in result.stderr
    assert "MPLBACKEND=tk is not a backend matplotlib knows, so it is ignored" in result.stderr
    assert "tkagg" in result.stderr and "usage: mnist_mlp" in result.stdout

