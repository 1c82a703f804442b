"""mnist_mlp.py: your first deep-learning program, one file to read top to bottom.

It teaches a small neural network to read handwritten digits. The network looks at 60,000
labelled 28x28 pictures of digits (the MNIST data set) three times over, then we measure how many
of 10,000 pictures it has never seen it reads correctly, and show you one of them with the
network's answer. At the end you can save the network and let it read your own handwriting.

Run it:
    pip install -r requirements.txt
    python mnist_mlp.py                            # downloads MNIST (about 12 MB) into ./data once
    python mnist_mlp.py --data-dir ~/mnist         # offline: a folder that holds MNIST/raw/
    python mnist_mlp.py --save-model mnist_mlp.pt  # keep the trained network
    python mnist_mlp.py --load-model mnist_mlp.pt --predict my_digit.png

What to expect: about 98% test accuracy (97.99% on average over seeds 0-9, from 97.92% to 98.12%,
measured on a CPU; README.md has the details), a line per epoch, and the picture prediction.png.
Training takes 2 to 3 seconds on a 2-core CPU. `python mnist_mlp.py --help` lists every setting.
"""

# ---------------------------------------------------------------------------------------------
# Imports: what each one is for
# ---------------------------------------------------------------------------------------------
import argparse  # reads the settings you type after `python mnist_mlp.py`
import os  # file paths, and the MNIST_DATA environment variable
import socket  # a time limit for the download, so that a dead network cannot hang the program
import sys  # error messages to stderr, and whether we are printing to a terminal
import time  # how long each epoch takes

import matplotlib.pyplot as plt  # draws the picture of a digit and the network's answer
import torch  # tensors (n-dimensional arrays) that can live on a GPU, and automatic gradients
import torch.nn as nn  # building blocks of neural networks, such as fully connected layers
import torch.nn.functional as F  # functions without weights: relu, log_softmax, nll_loss
from matplotlib.backends import BackendFilter, backend_registry  # can this matplotlib open windows?
from PIL import Image, ImageOps, UnidentifiedImageError  # opens your own pictures of digits
from torch.utils.data import DataLoader  # cuts the data into shuffled batches
from torchvision import datasets  # downloads MNIST and decodes its files into tensors
from torchvision.transforms.functional import pil_to_tensor  # a picture's pixels as a tensor
from tqdm import tqdm  # a progress bar for each epoch

# ---------------------------------------------------------------------------------------------
# Settings that are not flags
# ---------------------------------------------------------------------------------------------
# MNIST's pixels have mean 0.1307 and standard deviation 0.3081 (on a 0-1 scale, over the training
# set). Subtracting the mean and dividing by the spread gives inputs centred on 0 with spread 1,
# which the network learns from faster than raw pixel values.
MNIST_MEAN, MNIST_STD = 0.1307, 0.3081
HIDDEN_UNITS = 86  # neurons in each hidden layer: an arbitrary choice; 86 is small and works well
# Label smoothing: we ask the network for 95% confidence in the right digit instead of 100%, so it
# stops pushing ever harder on pictures it already gets right; that helps it on new pictures.
LABEL_SMOOTHING = 0.05
DOWNLOAD_TIMEOUT = 30  # seconds a download may stall before we give up
IDX_FILES = [  # MNIST's four files, as torchvision expects them in <data-dir>/MNIST/raw/
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
]


def fail(message):
    """Stop with one clear sentence on stderr and exit status 1: for mistakes a user can fix."""
    sys.exit(f"mnist_mlp: error: {message}")


def positive_int(text):
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive whole number, not {text}")
    return value


def positive_float(text):
    value = float(text)
    if not value > 0:  # also refuses nan
        raise argparse.ArgumentTypeError(f"must be a positive number, not {text}")
    return value


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description="Train a small neural network to read handwritten digits (MNIST).")
    parser.add_argument("--data-dir", default=os.environ.get("MNIST_DATA", "data"),
                        help="folder that holds MNIST/raw/; MNIST is downloaded there when missing "
                             "(default: $MNIST_DATA if set, else ./data)")
    parser.add_argument("--epochs", type=positive_int, default=3,
                        help="passes over the training set (default: %(default)s)")
    parser.add_argument("--batch-size", type=positive_int, default=128,
                        help="images per step (default: %(default)s)")
    parser.add_argument("--lr", type=positive_float, default=8e-3,
                        help="peak learning rate of the one-cycle schedule (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0,
                        help="random seed: the same seed gives the same result (default: %(default)s)")
    parser.add_argument("--device", choices=["auto", "cpu", "cuda", "mps"], default="auto",
                        help="auto (the default): CUDA if there is one, else Apple's MPS, else the CPU")
    parser.add_argument("--subset", type=positive_int, metavar="N",
                        help="train on the first N training images only, for quick runs")
    parser.add_argument("--plot", default="prediction.png", metavar="PATH",
                        help="where to save the picture (default: %(default)s)")
    parser.add_argument("--no-plot", action="store_true", help="draw no picture")
    parser.add_argument("--save-model", metavar="PATH", help="save the weights to PATH after training")
    parser.add_argument("--load-model", metavar="PATH", help="skip training and use the weights in PATH")
    parser.add_argument("--predict", nargs="+", metavar="IMAGE",
                        help="read the digit in each of these pictures (PNG or JPEG)")
    return parser.parse_args(argv)


def pick_device(name):
    """The device that holds the data and does the arithmetic."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cuda" and not torch.cuda.is_available():
        fail("--device cuda was asked for, but this PyTorch sees no CUDA GPU; use --device cpu or auto")
    if name == "mps" and not torch.backends.mps.is_available():
        fail("--device mps was asked for, but this PyTorch sees no Apple GPU; use --device cpu or auto")
    return torch.device(name)


# ---------------------------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------------------------
# MNIST comes as two separate sets: 60,000 pictures to train on, and 10,000 to test on. The test
# pictures are never shown to the network while it learns, so the test accuracy tells us how well
# it reads digits it has never seen, which is the whole point, rather than how well it remembers.


def check_idx_file(path):
    """Fail, naming the file, if `path` is not a complete IDX file of MNIST images or labels."""
    images = "images" in os.path.basename(path)
    dims = 3 if images else 1  # images: count x 28 x 28; labels: count
    try:
        with open(path, "rb") as file:
            header = file.read(4 + 4 * dims)
    except OSError as error:
        fail(f"cannot read {path}: {error.strerror or error}")
    if len(header) < 4 + 4 * dims:
        fail(f"{path} is truncated (too short to be an MNIST file); delete it and run again, "
             "or copy a good one in its place")
    # The header is a magic number (0x0803: unsigned bytes, 3 dimensions) and the size of each.
    magic = int.from_bytes(header[:4], "big")
    sizes = [int.from_bytes(header[4 + 4 * i: 8 + 4 * i], "big") for i in range(dims)]
    expected_bytes = len(header) + sizes[0] * (28 * 28 if images else 1)
    actual_bytes = os.path.getsize(path)
    if magic != 0x800 + dims or (images and sizes[1:] != [28, 28]):
        fail(f"{path} is not an MNIST {'images' if images else 'labels'} file (its header is wrong); "
             "delete it and run again, or copy a good one in its place")
    if actual_bytes != expected_bytes:
        fail(f"{path} is corrupt: its header promises {expected_bytes:,} bytes but it has "
             f"{actual_bytes:,}; delete it and run again, or copy a good one in its place")


def load_mnist(data_dir):
    """MNIST's training and test sets as torchvision datasets, downloaded on the first run."""
    raw_folder = os.path.join(data_dir, "MNIST", "raw")
    for name in IDX_FILES:
        if os.path.isfile(os.path.join(raw_folder, name)):
            check_idx_file(os.path.join(raw_folder, name))
    # torchvision's download has no time limit of its own; without one, a network that answers
    # nothing would leave the program waiting forever.
    previous_timeout = socket.getdefaulttimeout()
    socket.setdefaulttimeout(DOWNLOAD_TIMEOUT)
    try:
        # download=True fetches the four files once; after that it finds them and reads them.
        train_set = datasets.MNIST(data_dir, train=True, download=True)
        test_set = datasets.MNIST(data_dir, train=False, download=True)
    except (RuntimeError, OSError) as error:
        missing = [name for name in IDX_FILES if not os.path.isfile(os.path.join(raw_folder, name))]
        if not missing:
            raise  # the files are there, so this is not a download problem: show it as it is
        reason = str(error).strip().splitlines()[-1]
        fail(f"MNIST is not in {raw_folder} and downloading it failed ({reason}). Put the four IDX "
             f"files ({', '.join(IDX_FILES)}) in {raw_folder}, or point --data-dir (or the MNIST_DATA "
             "environment variable) at a folder that holds MNIST/raw/")
    finally:
        socket.setdefaulttimeout(previous_timeout)
    for dataset, prefix in ((train_set, "train"), (test_set, "t10k")):
        labels_file = os.path.join(raw_folder, f"{prefix}-labels-idx1-ubyte")
        if len(dataset.targets) != len(dataset.data):
            fail(f"{labels_file} has {len(dataset.targets):,} labels for {len(dataset.data):,} images; "
                 "one of the two files is not the right one")
        if dataset.targets.max() > 9:
            fail(f"{labels_file} is corrupt: it has labels other than the digits 0-9")
    return train_set, test_set


def as_tensors(dataset, limit=None):
    """All images of a dataset as one tensor [N, 1, 28, 28] of bytes (pixels 0-255), and the labels.

    Decoded once, up front: the classic tutorial turns every image into a PIL picture and back into
    a tensor again in every epoch (about 4 s an epoch on a 2-core CPU). We keep the pixels as bytes
    (47 MB for the training set, against 188 MB as floats) and convert one batch at a time.
    """
    return dataset.data[:limit].unsqueeze(1), dataset.targets[:limit]  # unsqueeze: 1 grey channel


def normalise(images):
    """Bytes 0-255 -> floats with mean 0 and spread 1 over MNIST, which the network learns from best."""
    return (images / 255).sub_(MNIST_MEAN).div_(MNIST_STD)  # in place (_): one new tensor, not three


def make_loader(images, labels, batch_size, seed, device):
    """A DataLoader that hands out shuffled batches of (images, labels), in a new order every epoch.

    A batch is a handful of pictures processed together: one step of learning averages what they
    teach, which is steadier and much faster than one picture at a time, and needs far less memory
    than all 60,000 at once. Shuffling gives every batch a fair mix of digits, in a new order each
    epoch: fed in a fixed order (all the 0s, then all the 1s, say) a network over-specialises on
    whatever it saw last.
    """
    # The DataLoader shuffles and batches the positions 0 to N-1; gather() then takes a whole
    # batch's images out of the big tensor in one index_select. Looking the images up one by one
    # and stacking them, as a DataLoader over a TensorDataset does, takes eight times as long
    # (0.36 s against 0.04 s an epoch, in batches of 128 on a 2-core CPU).
    def gather(positions):
        positions = torch.tensor(positions)
        return images.index_select(0, positions), labels.index_select(0, positions)

    # On a GPU, pinned (page-locked) memory lets each batch's copy run while the GPU computes.
    return DataLoader(range(len(labels)), batch_size=batch_size, shuffle=True, collate_fn=gather,
                      generator=torch.Generator().manual_seed(seed), pin_memory=device.type == "cuda")


# ---------------------------------------------------------------------------------------------
# The network
# ---------------------------------------------------------------------------------------------
class Net(nn.Module):
    """A fully connected network: 784 inputs -> 86 -> 86 -> 10 outputs.

    784 = 28 x 28: one input per pixel. "Fully connected" means each neuron looks at every value
    of the layer before it; the network knows nothing of which pixels are neighbours (that would
    be a convolutional network) and has no memory between pictures (a recurrent one). The 10
    outputs are one score for each digit 0-9.
    """

    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(28 * 28, HIDDEN_UNITS)
        self.fc2 = nn.Linear(HIDDEN_UNITS, HIDDEN_UNITS)
        self.fc3 = nn.Linear(HIDDEN_UNITS, 10)

    def forward(self, images):
        x = images.flatten(start_dim=1)  # [B, 1, 28, 28], [B, 28, 28] or [B, 784] -> [B, 784]
        # ReLU (max(0, x)) after each hidden layer: without something non-linear between them,
        # three layers would collapse into one linear function and could not learn much.
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        # log_softmax turns the 10 scores into log-probabilities: exponentiated, they are positive
        # and add up to 1. Logs because nll_loss (below) wants exactly -log(probability of the
        # right digit), and computing the log directly is more precise than taking log(softmax).
        return F.log_softmax(self.fc3(x), dim=1)


# ---------------------------------------------------------------------------------------------
# Training
# ---------------------------------------------------------------------------------------------
def loss_function(log_probs, labels):
    """How wrong the network is on a batch: low when it gives the right digit a high probability.

    nll_loss ("negative log-likelihood") is the mean of -log(probability of the right digit).
    Label smoothing (see LABEL_SMOOTHING) mixes in a little of the mean -log(probability) over all
    ten digits, which is the same as asking for 95% confidence instead of 100%. So the loss cannot
    fall to 0: its floor is about 0.28, reached only by a network exactly 95.5% sure of every answer.
    """
    return (1 - LABEL_SMOOTHING) * F.nll_loss(log_probs, labels) - LABEL_SMOOTHING * log_probs.mean()


def train(model, device, train_loader, optimizer, scheduler, epoch, epochs):
    """One epoch: one pass over every training image, one small step of learning per batch."""
    model.train()  # training mode (matters for layers such as dropout; a good habit everywhere)
    start = time.perf_counter()
    show_progress = sys.stdout.isatty()
    progress = tqdm(train_loader, desc=f"Epoch {epoch}/{epochs}", leave=False, file=sys.stdout,
                    disable=not show_progress)
    # Summed on the device, not with loss.item() per batch: .item() makes the CPU wait for a GPU to
    # finish each step before it may queue the next.
    loss_sum = torch.zeros((), device=device)
    for batch, (images, labels) in enumerate(progress):
        # non_blocking: on a GPU the copy runs in the background; on the CPU .to() does nothing.
        images = normalise(images.to(device, non_blocking=True))
        labels = labels.to(device, non_blocking=True)
        # Gradients add up in each weight's .grad until they are cleared, so clear last batch's.
        optimizer.zero_grad()
        loss = loss_function(model(images), labels)
        loss.backward()  # backpropagation: how much each weight contributed to the loss
        optimizer.step()  # Adam nudges every weight a little in the direction that lowers the loss
        scheduler.step()  # and the learning rate moves one step along its schedule
        loss_sum += loss.detach()
        if show_progress and batch % 100 == 0:
            progress.set_postfix(loss=f"{loss.item():.3f}")
    mean_loss = loss_sum.item() / len(train_loader)  # the mean over this epoch's batches
    print(f"Epoch {epoch}/{epochs}: loss {mean_loss:.4f} ({time.perf_counter() - start:.1f} s)")


# ---------------------------------------------------------------------------------------------
# Testing
# ---------------------------------------------------------------------------------------------
def test(model, device, test_loader):
    """Accuracy on the test set, and the mistakes the network makes most often."""
    model.eval()  # evaluation mode, the counterpart of model.train() (dropout, say, switches off)
    confusion = torch.zeros(10 * 10, dtype=torch.long, device=device)
    with torch.no_grad():  # no learning here, so skip the bookkeeping that backward() would need
        for images, labels in test_loader:
            images = normalise(images.to(device, non_blocking=True))
            labels = labels.to(device, non_blocking=True)
            predictions = model(images).argmax(dim=1)  # the most probable digit
            # Count each (true, predicted) pair. index_add_ rather than bincount: bincount would make
            # the CPU wait for a GPU to find the largest value before it can size its output.
            confusion.index_add_(0, labels * 10 + predictions, torch.ones_like(labels))
    confusion = confusion.view(10, 10).cpu()  # confusion[true digit, predicted digit]
    correct, total = int(confusion.trace()), int(confusion.sum())
    print(f"Test accuracy: {100 * correct / total:.2f}% ({correct}/{total})")
    # A high score can hide a network that learned its training pictures by heart (overfitting) or
    # that fails on one kind of digit, so look at what it gets wrong, too.
    mistakes = confusion.fill_diagonal_(0).flatten().tolist()  # entry 10 * true + predicted
    worst = [i for i in sorted(range(100), key=mistakes.__getitem__, reverse=True)[:3] if mistakes[i]]
    if worst:
        print("Most common mistakes: "
              + ", ".join(f"{i // 10} read as {i % 10} ({mistakes[i]} times)" for i in worst))
    return correct / total


# ---------------------------------------------------------------------------------------------
# Playing with the model
# ---------------------------------------------------------------------------------------------
def plot_prediction(image, probabilities, title, path):
    """Save (and, where there is a screen, show) a digit beside the network's ten probabilities."""
    figure, (left, right) = plt.subplots(1, 2, figsize=(8, 3.5), gridspec_kw={"width_ratios": [1, 1.6]})
    left.imshow(image.reshape(28, 28).cpu().numpy(), cmap="gray")
    left.set_title("what the network sees (28x28)", fontsize=10)
    left.axis("off")
    bars = right.bar(range(10), probabilities.cpu().numpy(), color="tab:gray")
    bars[int(probabilities.argmax())].set_color("tab:blue")
    right.set_xticks(range(10))
    right.set_ylim(0, 1)
    right.set_xlabel("digit")
    right.set_ylabel("probability")
    figure.suptitle(title)
    figure.tight_layout()
    try:
        figure.savefig(path, dpi=80)
    except OSError as error:
        fail(f"cannot save the picture to {path}: {error.strerror or error}")
    print(f"Saved the picture to {path}")
    # Open a window only where matplotlib can: on a server or in CI there is no screen.
    if plt.get_backend().lower() not in backend_registry.list_builtin(BackendFilter.NON_INTERACTIVE):
        print("Close the window to finish.")
        plt.show()
    plt.close(figure)


def show_test_digit(model, device, test_loader, path):
    """Let the trained network read one test digit (a random one: the test loader shuffles)."""
    images, labels = next(iter(test_loader))
    image = normalise(images[:1].to(device))
    with torch.no_grad():
        probabilities = model(image).exp()[0]  # log-probabilities -> probabilities
    prediction = int(probabilities.argmax())
    title = f"Prediction: {prediction} ({probabilities[prediction]:.1%}), true label: {int(labels[0])}"
    plot_prediction(image, probabilities, title, path)


def save_model(model, path):
    """Save the weights (the state_dict), so that a half-written file can never take PATH's place."""
    # Write a temporary file beside PATH, then rename it: a rename is all-or-nothing, so an
    # interrupted save leaves the old file (or none) at PATH, never a broken one.
    temporary = f"{path}.{os.getpid()}.tmp"
    try:
        try:
            with open(temporary, "wb") as file:
                torch.save(model.state_dict(), file)
                file.flush()
                os.fsync(file.fileno())  # on the disk, not just in memory, before the rename
            os.replace(temporary, path)
        except BaseException:  # a full disk, or Ctrl-C: leave no temporary file behind
            if os.path.exists(temporary):
                os.remove(temporary)
            raise
    except OSError as error:
        fail(f"cannot save the model to {path}: {error.strerror or error}")
    print(f"Saved the model to {path}")


def load_model(model, path, device):
    """Put the weights saved in PATH into `model`, refusing files that would run code."""
    try:
        # weights_only=True reads tensors and plain containers only. A full pickle can carry
        # code that runs the moment it is loaded, so never load one from a file you did not make.
        # map_location lets weights saved on a GPU load on a machine without one.
        state_dict = torch.load(path, map_location=device, weights_only=True)
    except FileNotFoundError:
        fail(f"there is no model file {path}")
    except OSError as error:
        fail(f"cannot read the model file {path}: {error.strerror or error}")
    except Exception:  # torch.load raises several kinds of error for files it will not read
        try:  # name what the file would have run; this reads the file without running any of it
            code = torch.serialization.get_unsafe_globals_in_checkpoint(path)
        except Exception:
            code = []
        if code:
            fail(f"{path} was not loaded: besides weights it holds Python code ({', '.join(code)}) "
                 "that would run on loading")
        fail(f"{path} is not a PyTorch weights file saved with --save-model")
    try:
        model.load_state_dict(state_dict)
    except (RuntimeError, TypeError, AttributeError):
        fail(f"the weights in {path} do not fit this network (784-{HIDDEN_UNITS}-{HIDDEN_UNITS}-10)")
    model.eval()
    print(f"Loaded the model from {path}")


def prepare_image(path):
    """Turn a picture of one digit into what the network was trained on: a normalised 28x28 tensor.

    A network only knows the kind of picture it learned from. MNIST's digits are bright on black,
    cropped to the ink, scaled into a 20x20 box and centred by their centre of mass in 28x28, so
    your picture gets the same treatment. For a picture it cannot use, it returns a message instead.
    """
    try:
        with Image.open(path) as picture:
            picture = ImageOps.exif_transpose(picture)  # phone photos: turn them the right way up
            picture.thumbnail((512, 512))  # a 12-megapixel photo has far more detail than 20x20 needs
            picture = picture.convert("RGBA")
    except FileNotFoundError:
        return f"there is no file {path}"
    except (UnidentifiedImageError, OSError, ValueError):
        return f"{path} is not a picture that can be read (PNG or JPEG)"
    rgba = pil_to_tensor(picture).float() / 255  # [4, height, width], values 0-1
    grey = torch.tensordot(torch.tensor([0.299, 0.587, 0.114]), rgba[:3], dims=1)  # as PIL weighs colours
    alpha = rgba[3]
    # A see-through background becomes white behind dark ink, or black behind light ink.
    ink_is_dark = (grey * alpha).sum() < 0.5 * alpha.sum()
    grey = grey * alpha + (1.0 if ink_is_dark else 0.0) * (1 - alpha)
    # MNIST's digits are bright on a dark background: flip dark ink on light paper. The border
    # tells which is which, as it is nearly all background.
    border = torch.cat([grey[0], grey[-1], grey[:, 0], grey[:, -1]])
    if border.median() > 0.5:
        grey = 1 - grey
    # Paper is never perfectly even: treat everything near the background level as no ink, and
    # stretch the rest so that the darkest ink becomes full brightness, like MNIST's strokes.
    background, brightest = grey.median(), grey.max()
    if brightest - background < 0.15:
        return f"{path} looks blank: no digit found"
    ink = ((grey - background) / (brightest - background) - 0.2).clamp(min=0) / 0.8
    # Crop to the ink, then scale it so its longer side is 20 pixels, keeping its proportions.
    rows, columns = ink.sum(dim=1).nonzero(), ink.sum(dim=0).nonzero()
    ink = ink[rows[0]: rows[-1] + 1, columns[0]: columns[-1] + 1]
    scale = 20 / max(ink.shape)
    height, width = max(1, round(ink.shape[0] * scale)), max(1, round(ink.shape[1] * scale))
    ink = F.interpolate(ink[None, None], size=(height, width), mode="bilinear", antialias=True)[0, 0]
    ink = ink / ink.max()  # shrinking blurs thin strokes; MNIST's are full brightness at their core
    # Place it in 28x28 with its centre of mass (the ink's balance point) at the centre.
    ys, xs = torch.arange(height, dtype=torch.float32), torch.arange(width, dtype=torch.float32)
    mass = ink.sum()
    centre_y, centre_x = (ink.sum(dim=1) @ ys) / mass, (ink.sum(dim=0) @ xs) / mass
    top = min(max(round(13.5 - float(centre_y)), 0), 28 - height)
    left = min(max(round(13.5 - float(centre_x)), 0), 28 - width)
    digit = torch.zeros(28, 28)
    digit[top: top + height, left: left + width] = ink.clamp(0, 1)
    return normalise(digit * 255).view(1, 1, 28, 28)  # the same normalisation as in training


def predict_images(model, paths, device, plot_path):
    """Print the network's reading of each picture; plot the first. Returns how many failed."""
    model.eval()
    failures = 0
    plotted = plot_path is None
    for path in paths:
        image = prepare_image(path)
        if isinstance(image, str):  # a message saying what is wrong with this picture
            print(f"mnist_mlp: error: {image}", file=sys.stderr)
            failures += 1
            continue
        with torch.no_grad():
            probabilities = model(image.to(device)).exp()[0]
        ranked = probabilities.argsort(descending=True).tolist()
        runners_up = ", ".join(f"{digit} ({probabilities[digit]:.1%})" for digit in ranked[1:3])
        print(f"{path}: {ranked[0]} ({probabilities[ranked[0]]:.1%}); then {runners_up}")
        if not plotted:
            plot_prediction(image, probabilities,
                            f"{os.path.basename(path)}: {ranked[0]} ({probabilities[ranked[0]]:.1%})",
                            plot_path)
            plotted = True
    return failures


# ---------------------------------------------------------------------------------------------
# main(): the lesson, in order
# ---------------------------------------------------------------------------------------------
def main(argv=None):
    args = parse_args(argv)
    torch.manual_seed(args.seed)  # the same random start, and so the same result, every run
    device = pick_device(args.device)
    print(f"Using device: {device}")

    model = Net().to(device)
    needs_data = not (args.load_model and args.predict)  # reading your own digits needs no MNIST
    if needs_data:
        train_set, test_set = load_mnist(args.data_dir)
        train_images, train_labels = as_tensors(train_set, limit=args.subset)
        test_images, test_labels = as_tensors(test_set)
        train_loader = make_loader(train_images, train_labels, args.batch_size, args.seed, device)
        # Shuffling the test set changes no score; it only makes the digit we show a random one.
        test_loader = make_loader(test_images, test_labels, args.batch_size, args.seed + 1, device)

    if args.load_model:
        load_model(model, args.load_model, device)
    else:
        print(f"Training on {len(train_labels):,} images for {args.epochs} epochs")
        # Adam adapts the step size of each weight from the history of its gradients. The one-cycle
        # schedule warms the learning rate up to --lr, then lowers it almost to 0: big steps while
        # the weights are far from good, small ones to settle at the end. fused=True updates all
        # weights in one go instead of one tensor at a time (an epoch takes 0.9 s instead of 1.0 to
        # 1.1 s on a 2-core CPU).
        optimizer = torch.optim.Adam(model.parameters(), lr=args.lr, fused=True)
        scheduler = torch.optim.lr_scheduler.OneCycleLR(
            optimizer, max_lr=args.lr, epochs=args.epochs, steps_per_epoch=len(train_loader))
        for epoch in range(1, args.epochs + 1):  # an epoch: one pass over all training images
            train(model, device, train_loader, optimizer, scheduler, epoch, args.epochs)
    if args.save_model:
        save_model(model, args.save_model)

    plot_path = None if args.no_plot else args.plot
    if needs_data:
        test(model, device, test_loader)
        if plot_path and not args.predict:
            show_test_digit(model, device, test_loader, plot_path)
    if args.predict:
        failures = predict_images(model, args.predict, device, plot_path)
        if failures:
            sys.exit(1)


if __name__ == "__main__":
    main()
