"""mnist_mlp.py: your first deep-learning program, in one file that reads from top to bottom.

A small neural network learns to read handwritten digits: it studies 60,000 labelled 28x28
pictures (the MNIST data set) three times over, then reads 10,000 that it has never seen. It
prints how many it got right (about 98%) and saves prediction.png: its learning curve, what its
first layer looks for, one test digit with its answer, and the eight mistakes it was surest of.

    pip install -r requirements.txt
    python mnist_mlp.py                     # downloads MNIST (about 12 MB) into ./data once
    python mnist_mlp.py --data-dir ~/mnist  # offline: MNIST's files from elsewhere (README.md)
    python mnist_mlp.py --draw              # then draw digits with the mouse, and watch it read them
    python mnist_mlp.py --help              # every setting, and how to read your own digits

It needs no GPU: on a CPU it trains in seconds. README.md has the measured figures, and how to
run this in a notebook. The lesson comes first; after main() comes the plumbing, which a first
read can skip: the lesson calls it by names that say what they do, such as load_mnist().
"""

# %% Imports: the libraries this lesson uses (the plumbing after main() imports its own)
import time  # a clock, to time the training

import torch  # tensors (n-dimensional arrays that can live on a GPU) and automatic gradients
import torch.nn as nn  # building blocks of neural networks: layers whose weights learn
import torch.nn.functional as F  # operations without weights of their own, as plain functions
from torch.utils.data import DataLoader, TensorDataset  # pair pictures with labels; hand them out in batches
from torchvision import transforms  # torchvision's ready-made steps for preparing pictures

# %% Settings: each can be changed with a flag, e.g. `python mnist_mlp.py --epochs 5`; main() gets
# them as `args` (args.epochs, args.lr, ...). `python mnist_mlp.py --help` lists every flag.
EPOCHS = 3  # an epoch is one pass over all the training pictures; three passes are enough here
BATCH_SIZE = 128  # how many pictures the network learns from at each step
LEARNING_RATE = 8e-3  # how big the steps of learning are at their largest: the learning rate rises
#                       to this over the first 30% of the steps, then falls almost to 0
SEED = 0  # fixes every random choice (the first weights, the order of the pictures)
HIDDEN_UNITS = 86  # neurons in each of the two middle ("hidden") layers: enough for about 98%

# %% Data
# MNIST's pixels, on a 0-1 scale, have mean 0.1307 and standard deviation 0.3081 over the training
# pictures. transforms.Normalize subtracts the one and divides by the other: inputs centred on 0
# with a spread of 1, which a network learns from faster and more steadily. (One value each, as
# MNIST's pictures have one colour channel: grey.)
MNIST_MEAN, MNIST_STD = 0.1307, 0.3081
normalize = transforms.Normalize(mean=(MNIST_MEAN,), std=(MNIST_STD,))


def prepare(images):
    """MNIST's pictures as the network takes them, all N at once: from bytes 0-255, [N, 28, 28] (as
    torchvision's MNIST keeps them, in its .data: see make_loaders()) to normalised floats,
    [N, 1, 28, 28]."""
    # What transforms.ToTensor does to one picture, done to all of them: / 255 gives floats 0-1,
    # and unsqueeze(1) adds the colour channel, as image tensors are [pictures, channels, height,
    # width]. transforms.Normalize works on a whole stack of pictures as on one.
    return normalize(images.unsqueeze(1) / 255)


def make_loaders(data_dir, batch_size, subset=None):
    """Three DataLoaders of (images, labels) batches: the training pictures; the first 10,000 of
    them again, to measure how well the network reads the pictures it learns from; and the test
    pictures, to measure how well it reads new ones. (Comparing the two scores shows whether it
    learns its pictures by heart: see main().)

    MNIST comes as two sets: 60,000 pictures to learn from and 10,000 to test on. The network never
    learns from the test pictures, so its score on them says how well it reads digits it has never
    seen, which is the point, rather than how well it remembers the ones it has.
    """
    # load_mnist() is torchvision's datasets.MNIST(data_dir, download=True), once for each set,
    # with checks behind the scenes that turn a failed download or a damaged file into a clear
    # message. Each set holds its pictures in one tensor, .data, and its labels in another, .targets.
    train_set, test_set = load_mnist(data_dir)
    # The pictures are prepared here, once, all together. The tutorials' way, a
    # transform=transforms.Compose([ToTensor(), Normalize(...)]) given to datasets.MNIST, would
    # prepare each picture again every time it is handed out: every epoch. `subset` (--subset N)
    # keeps only the first N training pictures, for quick runs; [:None] keeps them all.
    train_images = prepare(train_set.data[:subset])
    train_labels = train_set.targets[:subset]
    test_images, test_labels = prepare(test_set.data), test_set.targets
    # TensorDataset pairs picture i with label i. A batch is a handful of pictures learned from
    # together: steadier than one at a time, and far lighter than all 60,000 at once.
    # shuffle=True deals the pictures in a new random order every epoch, so that each batch is a
    # fair mix of digits; in a fixed order (all the 0s, then all the 1s, say) the network would
    # keep unlearning one digit while it learned the next.
    train_loader = DataLoader(TensorDataset(train_images, train_labels), batch_size=batch_size, shuffle=True)
    # The other two are only counted, which no order changes: they keep the order they have.
    # 10,000 training pictures, as many as the test set, are enough to compare the two scores.
    train_sample = TensorDataset(train_images[:10_000], train_labels[:10_000])
    train_sample_loader = DataLoader(train_sample, batch_size=batch_size)
    test_loader = DataLoader(TensorDataset(test_images, test_labels), batch_size=batch_size)
    return train_loader, train_sample_loader, test_loader


# %% The network
class Net(nn.Module):
    """A fully connected network: 784 inputs -> 86 -> 86 -> 10 outputs.

    784 = 28 x 28: one input per pixel. The two hidden layers have `hidden_units` neurons each
    (86 unless --hidden-units says otherwise), and the 10 outputs are one score for each digit
    0-9. "Fully connected" (nn.Linear) means each neuron looks at every value of the layer before
    it, so the network knows nothing of which pixels are neighbours: it has to learn that too.
    """

    def __init__(self, hidden_units=HIDDEN_UNITS):
        super().__init__()
        self.fc1 = nn.Linear(28 * 28, hidden_units)
        self.fc2 = nn.Linear(hidden_units, hidden_units)
        self.fc3 = nn.Linear(hidden_units, 10)

    def forward(self, images):
        x = images.flatten(start_dim=1)  # [batch, 1, 28, 28] -> [batch, 784]: a row of pixels each
        # ReLU (max(0, x)) after each hidden layer: without something non-linear between them, the
        # three layers would collapse into one linear function, which cannot learn much.
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        # log_softmax turns the 10 scores into log-probabilities: the logs of ten probabilities
        # that add up to 1. Training's loss, F.nll_loss, takes these. (Networks that end on the
        # raw scores use F.cross_entropy instead, which is log_softmax and nll_loss in one call:
        # the same loss.)
        return F.log_softmax(self.fc3(x), dim=1)  # dim=1: over each picture's 10 scores


# %% Training
def make_optimizer(model, lr, epochs, steps_per_epoch):
    """The two things train() uses besides the network: the optimizer, which moves the weights at
    each step, and its schedule, which changes the size of those steps (the learning rate) as
    training goes. `lr` is the largest learning rate; `steps_per_epoch`, the batches in an epoch."""
    # Plain gradient descent (SGD) moves every weight by the learning rate times its gradient. Adam
    # divides each weight's step by the size of that weight's recent gradients, so that weights
    # with small gradients move too, and usually learns faster. AdamW is Adam with weight decay:
    # every weight also shrinks a little at each step, so that none grows large on a quirk of a few
    # training pictures. Over seeds 0-4, weight_decay=0.1 raised the mean test accuracy by under a
    # tenth of a percentage point.
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.1)
    # One-cycle schedule: the learning rate warms up from a 25th of `lr` to `lr` over the first 30%
    # of the steps, then falls almost to 0 (while the rate is high, it also makes Adam follow its
    # past steps less): big steps while the weights are far from good, small ones to settle at the
    # end. Against a constant rate of 1e-3 (Adam's usual), it raised the mean test accuracy by about
    # a point. It needs the number of steps in all, to plan the cycle.
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=lr, epochs=epochs, steps_per_epoch=steps_per_epoch)
    return optimizer, scheduler


def train(model, device, train_loader, optimizer, scheduler, epoch, epochs):
    """One epoch: a step of learning for each batch of training pictures. Returns the list of
    each batch's loss (main() keeps them all, for the learning curve). `device` is where the
    arithmetic runs (the CPU, or a GPU); `epoch` of `epochs` is for the progress bar."""
    # model.train() and model.eval() (in test()) switch layers that behave differently while
    # learning, such as dropout (which silences random neurons then); this network has none, but
    # the habit keeps you right when you add one.
    model.train()
    batch_losses = []
    for images, labels in progress_bar(train_loader, epoch, epochs):  # tqdm's bar, in a terminal
        images, labels = images.to(device), labels.to(device)  # to the GPU, if there is one
        optimizer.zero_grad()  # gradients (from backward(), below) add up in each weight's .grad: clear them
        output = model(images)  # [batch, 10]: log-probabilities
        # nll_loss, the negative log-likelihood: the mean over the batch of -log(probability of the
        # right digit), read from the log-probabilities. Near 0 when the network is sure and right,
        # large when it is sure and wrong.
        loss = F.nll_loss(output, labels)
        loss.backward()  # backpropagation: for each weight, how a small change would move the loss
        optimizer.step()  # the optimizer moves each weight a little, the way that lowers the loss
        scheduler.step()  # the learning rate moves along its schedule, one step per batch
        batch_losses.append(loss.item())  # .item(): the loss as a plain Python number
    return batch_losses


# %% Testing
def test(model, device, loader):
    """The share of the pictures in `loader` that the network reads right, from 0 to 1."""
    model.eval()  # evaluation mode (see model.train())
    correct = 0
    with torch.no_grad():  # no learning here: skip the record of each step that backward() needs
        for images, labels in loader:
            images, labels = images.to(device), labels.to(device)
            output = model(images)
            # argmax(dim=1): each picture's most probable digit, its answer; == labels: True where
            # it is right; sum(): how many were; item(): that count as a plain Python number.
            correct += (output.argmax(dim=1) == labels).sum().item()
    return correct / len(loader.dataset)


# %% Showing what it learned
def show_results(model, device, test_set, history, path):
    """Pick a test picture at random, let the network read it, and draw one page, saved to `path`:
    that reading, how the network learned (`history`, main()'s record of training), what its
    first layer looks for, and the test pictures it reads wrong with the most confidence."""
    index = torch.randint(len(test_set), (1,)).item()  # a random number from 0 to 9,999
    image, label = test_set[index]  # [1, 28, 28], and its digit
    model.eval()
    with torch.no_grad():
        output = model(image.unsqueeze(0).to(device))  # a batch of one picture: [1, 1, 28, 28]
    probabilities = output[0].exp()  # exp() turns the 10 log-probabilities back into probabilities
    plot_results(model, test_set, image, label, probabilities, history, path)  # behind the scenes


# %% main(): the lesson, in order
def main(args):
    """Train the network, test it after every epoch, and draw what it learned. `args` holds the
    settings, read from the command line behind the scenes: those at the top of the file, unless a
    flag changed them, and a few more (args.device, args.data_dir, args.plot, ...: see --help)."""
    # The seed fixes every random choice (the first weights, the order of the batches), so the same
    # seed gives the same result on the same machine and PyTorch build; elsewhere the last digits
    # can differ, as other processors round their sums differently.
    torch.manual_seed(args.seed)
    device = pick_device(args.device)  # a GPU if there is one (CUDA, or Apple's MPS), else the CPU
    print(f"Using device: {device}")
    train_loader, train_sample_loader, test_loader = make_loaders(args.data_dir, args.batch_size, args.subset)
    model = Net(args.hidden_units).to(device)
    optimizer, scheduler = make_optimizer(model, args.lr, args.epochs, len(train_loader))  # len: batches

    # What training records as it goes, for the learning curve in the picture: the loss of every
    # batch (hundreds an epoch, so += adds the epoch's list), and one accuracy of each kind an epoch.
    history = {"batch losses": [], "training accuracy": [], "test accuracy": []}

    print(f"Training on {len(train_loader.dataset):,} images for {args.epochs} "
          f"{'epoch' if args.epochs == 1 else 'epochs'}")
    for epoch in range(1, args.epochs + 1):
        start = time.perf_counter()
        batch_losses = train(model, device, train_loader, optimizer, scheduler, epoch, args.epochs)
        train_loss = sum(batch_losses) / len(batch_losses)  # the epoch's mean loss
        # Both accuracies measured the same way, after the epoch. A network that learns its training
        # pictures by heart (overfitting) reads them far better than new ones: a gap that grows
        # between the two. Here it stays small; `--subset 1000 --epochs 30` shows it wide open.
        train_accuracy = test(model, device, train_sample_loader)
        test_accuracy = test(model, device, test_loader)
        print(f"Epoch {epoch}/{args.epochs}: loss {train_loss:.4f}, training accuracy {train_accuracy:.2%}, "
              f"test accuracy {test_accuracy:.2%} ({time.perf_counter() - start:.1f} s)")
        # A loss that has blown up stops the run, with a hint; a run still at chance at the end, a warning.
        stop_if_training_failed(train_loss, train_accuracy, epoch, len(train_loader), args)
        history["batch losses"] += batch_losses
        history["training accuracy"].append(train_accuracy)
        history["test accuracy"].append(test_accuracy)

    test_set = test_loader.dataset
    print(f"Test accuracy: {test_accuracy:.2%} ({round(test_accuracy * len(test_set))}/{len(test_set)})")
    print_common_mistakes(model, device, test_set)  # e.g. "5 read as 3 (12 times)"
    if args.save_model:  # --save-model PATH: keep the learned weights (the model's state_dict)
        save_model(model, args.save_model)  # torch.save(model.state_dict(), PATH), and checks
    if args.plot:  # where to save the picture (--plot); None with --no-plot
        show_results(model, device, test_set, history, args.plot)
    return model


# %% Behind the scenes
# =================================================================================================
# Behind the scenes. A first read can stop here: the lesson is complete above. What follows, in
# this order: what `python mnist_mlp.py` runs (main(), or a saved network, and the extras around
# it); settings and devices; the progress bar and checks on training; MNIST's files and their
# download; the mistakes, and drawing, saving and showing the picture; model files; your own
# pictures, prepared for the network; the drawing pad. Its imports stand here, beside the code
# that uses them: Python runs them as it reads the file, so they are ready before main() is called.
# =================================================================================================
import argparse  # reads the flags you type after `python mnist_mlp.py`
import contextlib  # written_whole(), a `with` block that writes a file whole or not at all
import gzip  # MNIST's files as published are gzipped
import http.client  # its error: a download cut off halfway
import importlib.util  # whether ipywidgets is installed, for a notebook's progress bar
import math  # isfinite, to spot a loss that has blown up
import os  # file paths, and the MNIST_DATA environment variable
import pickle  # its error: a file that is not weights
import shutil  # copies a file's contents, to unpack a gzipped one
import socket  # a time limit for the download, so that a dead network cannot hang the program
import sys  # error messages, exit codes, and whether we print to a terminal
import warnings  # to silence PIL's warning about large pictures, which we shrink anyway
import zipfile  # a TorchScript export is a zip archive
import zlib  # its error: a gzipped file whose contents are damaged
from typing import NamedTuple  # PreparedPicture: a picture's digits, with what the plot shows of it

try:
    import matplotlib.pyplot as plt  # draws the pictures and the drawing pad
except ValueError as error:  # matplotlib refuses, as it is imported, an MPLBACKEND it does not know
    if "MPLBACKEND" not in os.environ:
        raise
    print(f"MPLBACKEND={os.environ.pop('MPLBACKEND')} is not a backend matplotlib knows, so it is ignored "
          f"({str(error).split('; ')[-1]}): fix it or unset it", file=sys.stderr)
    for name in [name for name in sys.modules if name.split(".")[0] == "matplotlib"]:
        del sys.modules[name]  # the parts the failed import left: matplotlib is imported afresh
    import matplotlib.pyplot as plt
from matplotlib.backend_bases import FigureCanvasBase, MouseButton  # picture formats; mouse buttons
from matplotlib.backends import BackendFilter, backend_registry  # can this matplotlib open windows?
from matplotlib.patches import Rectangle  # the boxes around the digits found in your picture
import numpy as np  # scipy's pictures are numpy arrays
from PIL import Image, ImageOps, UnidentifiedImageError  # opens your own pictures of digits
from scipy import ndimage  # cleans photos up: the paper's shading, pieces of ink (see README.md)
from torchvision import datasets  # downloads MNIST and decodes its files into tensors
from torchvision.transforms.functional import pil_to_tensor  # a picture's pixels as a tensor
from tqdm import tqdm  # a progress bar for each epoch

DOWNLOAD_TIMEOUT = 30  # seconds a download may stall before we give up
IDX_FILES = ["train-images-idx3-ubyte", "train-labels-idx1-ubyte",  # MNIST's four files, as
             "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"]  # in <data-dir>/MNIST/raw/
# MNIST's strokes are about 2.2 pixels wide in its 20-pixel box: 0.11 of the digit's longer side
# (the median over its training digits, measured as 2 * area / edge pixels). Your digits' strokes
# are made that wide when they are over a third wider or narrower.
PEN_WIDTH_RATIO, PEN_WIDTH_SLACK = 0.11, 1 / 3
# Photos of paper (find_digits()): the paper's brightness is estimated over a window of a third of
# the picture's shorter side (1 / BACKGROUND_WINDOW); a pixel may be ink when it is LOW_INK darker
# than the paper (a share of the paper's brightness); ruled lines are runs of ink over LINE_LENGTH
# of the picture, at most 2 * THIN_LINE of it thick; more than MAX_DIGITS marks is not a number.
BACKGROUND_WINDOW, LOW_INK, LINE_LENGTH, THIN_LINE, MAX_DIGITS = 3, 0.1, 0.85, 1 / 60, 10
# Formats the --plot picture can be saved in: what matplotlib writes, less PGF (it needs LaTeX).
PLOT_FORMATS = sorted(set(FigureCanvasBase.get_supported_filetypes()) - {"pgf"})
PICTURE_FORMATS = "PNG, JPEG, BMP, WebP, TIFF or GIF"  # what --predict reads (PIL reads these and more)
MNIST_TRAINING_IMAGES = 60_000


def run(argv=None):
    """What `python mnist_mlp.py` runs: the lesson's main(), or with --load-model a saved network
    instead (tested on MNIST, unless it is only to read your digits); then --save-model,
    --predict and --draw, and last the pictures' windows. Ctrl-C stops it with one line."""
    for stream in (sys.stdout, sys.stderr):  # a console that cannot print a character (Windows'
        if hasattr(stream, "reconfigure"):  # cp1252 and a Cyrillic file name) prints \u... instead
            stream.reconfigure(errors="backslashreplace")
    try:
        args = parse_args(argv)
        if args.load_model:
            model, device = use_saved_model(args)
        else:
            # With --predict or --draw, the picture is of your digits, not of a test digit.
            model = main(argparse.Namespace(**{**vars(args), "plot": None}) if args.predict or args.draw
                         else args)
            device = next(model.parameters()).device
        # main() has saved the network it trained (--save-model); use_saved_model(), the one it loaded
        if args.predict:  # your own pictures: see "Try your own digit" in README.md
            predict_images(model, args.predict, device, args.plot)
        if args.draw:  # a window to draw digits in with the mouse: see "Draw your own" in README.md
            draw_digits(model, device)
        show_pictures()  # last, so that nothing waits for a window to be closed
    except BrokenPipeError:  # the output piped into a program that stopped reading (| head)
        # As Python's documentation advises: what is still to be printed goes nowhere, quietly.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(1)
    except KeyboardInterrupt:  # files are written whole or not at all (see save_model())
        print(file=sys.stderr)  # off the line that ^C was echoed on
        print("mnist_mlp: stopped by Ctrl-C", file=sys.stderr)
        sys.exit(130)  # 128 + SIGINT's number: how shells report a program stopped by Ctrl-C


def use_saved_model(args):
    """--load-model: the network with the weights saved in that file, and its device; tested on
    MNIST as main() tests it, unless --predict or --draw asked for your digits instead. Saved
    again with --save-model before the picture is drawn."""
    torch.manual_seed(args.seed)  # the test digit that is shown
    device = pick_device(args.device)
    print(f"Using device: {device}")
    model = load_model(args.load_model, device)
    ignored = [flag for flag, value, default in (("--epochs", args.epochs, EPOCHS), ("--lr", args.lr, LEARNING_RATE),
                                                  ("--subset", args.subset, None)) if value != default]
    if ignored:
        print(f"Not training (--load-model), so {' and '.join(ignored)} changed nothing")
    saved_size = model.fc1.out_features
    if args.hidden_units not in (HIDDEN_UNITS, saved_size):
        print(f"--hidden-units {args.hidden_units} changed nothing: the network's size comes from "
              f"{shown_name(args.load_model)} ({saved_size} hidden units)")
    if args.predict or args.draw:  # your own digits need no MNIST
        if args.save_model:
            save_model(model, args.save_model)
        return model, device
    _, _, test_loader = make_loaders(args.data_dir, args.batch_size)
    test_set = test_loader.dataset
    test_accuracy = test(model, device, test_loader)
    if adapt_to_unit_pixels(model, device, test_set, test_accuracy, args.load_model):
        test_accuracy = test(model, device, test_loader)
    if args.save_model:
        save_model(model, args.save_model)
    print(f"Test accuracy: {test_accuracy:.2%} ({round(test_accuracy * len(test_set))}/{len(test_set)})")
    print_common_mistakes(model, device, test_set)
    if args.plot:  # the picture, without a learning curve: there was no training to record
        show_results(model, device, test_set, None, args.plot)
    return model, device


def unit_pixels(images):
    """Test pictures as the lesson keeps them (normalised, [N, 1, 28, 28]) as pixels 0-1, not
    normalised: what networks trained without transforms.Normalize read."""
    return images * MNIST_STD + MNIST_MEAN  # normalize undone


def adapt_to_unit_pixels(model, device, test_set, accuracy, path):
    """If the network reads MNIST's test pictures clearly better as plain 0-1 pixels than
    normalised (weights trained without normalisation, as in the classic tutorial), change its
    first layer to take normalised pixels and read them exactly as it read 0-1 pixels, and say
    so. `accuracy`: its accuracy on normalised pictures. Returns whether it changed the network."""
    images, labels = test_set.tensors
    model.eval()
    with torch.no_grad():
        readings = torch.cat([model(unit_pixels(part).to(device)).argmax(dim=1).cpu() for part in images.split(1000)])
    unit_accuracy = (readings == labels).float().mean().item()
    # Clearly better: a point more at least, and a fifth fewer mistakes (not two guessers' luck).
    if unit_accuracy < accuracy + 0.01 or 1 - unit_accuracy > 0.8 * (1 - accuracy):
        return False
    # A normalised pixel is (p - mean) / std, so p = std * pixel + mean, and the first layer's
    # W p + b = (std W) pixel + (b + mean * the sum of each row of W): the same outputs, exactly.
    with torch.no_grad():
        model.fc1.bias += MNIST_MEAN * model.fc1.weight.sum(dim=1)
        model.fc1.weight *= MNIST_STD
    print(f"The weights in {shown_name(path)} read MNIST's test pictures better as plain 0-1 pixels "
          f"({unit_accuracy:.2%}) than normalised ({accuracy:.2%}): they were trained without "
          "normalisation. Their first layer now undoes it, so they read this program's pictures as "
          "they read 0-1 pixels; add --save-model PATH to keep them so, for --predict and --draw")
    return True


def fail(message):
    """Stop with one clear sentence on stderr and exit status 1: for mistakes a user can fix."""
    # from None: the error it replaces (a missing file, say) is not shown with it; IPython's %run
    # stumbles over the pair.
    raise SystemExit(f"mnist_mlp: error: {message}") from None


def positive(kind):
    """An argparse type: a number of this kind (int or float) above 0; nan is refused too."""
    def parse(text):
        value = kind(text)
        if not value > 0:
            number = "whole number" if kind is int else "number"
            raise argparse.ArgumentTypeError(f"must be a positive {number}, not {text}")
        return value
    parse.__name__ = kind.__name__  # argparse's own message names it: "invalid int value: 'two'"
    return parse


def make_parser():
    """The flags, their defaults and their help (python mnist_mlp.py --help)."""
    parser = argparse.ArgumentParser(
        prog="mnist_mlp", exit_on_error=False,  # errors: one line, from parse_args()
        description="Train a small neural network to read handwritten digits (MNIST).")
    parser.add_argument("--data-dir", default=os.environ.get("MNIST_DATA", "data"),
                        help="folder that holds MNIST/raw/; MNIST is downloaded there when missing "
                             "(default: $MNIST_DATA if set, else ./data)")
    parser.add_argument("--epochs", type=positive(int), default=EPOCHS,
                        help="passes over the training set (default: %(default)s)")
    parser.add_argument("--batch-size", type=positive(int), default=BATCH_SIZE,
                        help="images per step (default: %(default)s)")
    parser.add_argument("--lr", type=positive(float), default=LEARNING_RATE,
                        help="peak learning rate of the one-cycle schedule (default: %(default)s)")
    parser.add_argument("--hidden-units", type=positive(int), default=HIDDEN_UNITS, metavar="N",
                        help="neurons in each of the two hidden layers (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=SEED,
                        help="random seed: the same seed gives the same result (default: %(default)s)")
    parser.add_argument("--device", choices=["auto", "cpu", "cuda", "mps"], default="auto",
                        help="auto (the default): CUDA if there is one, else Apple's MPS, else the CPU")
    parser.add_argument("--subset", type=positive(int), metavar="N",
                        help="train on the first N training images only, for quick runs")
    parser.add_argument("--plot", default="prediction.png", metavar="PATH",
                        help="where to save the picture, as .png, .pdf, .svg, ... (default: %(default)s)")
    parser.add_argument("--no-plot", action="store_true", help="draw no picture")
    parser.add_argument("--save-model", metavar="PATH", help="save the weights to PATH after training")
    parser.add_argument("--load-model", metavar="PATH", help="skip training and use the weights in PATH")
    parser.add_argument("--predict", nargs="+", metavar="IMAGE",
                        help="read the digit in each of these pictures (" + PICTURE_FORMATS + ")")
    parser.add_argument("--draw", action="store_true",
                        help="open a window to draw digits in with the mouse, and watch the network "
                             "read them as you draw (with --load-model, no MNIST is needed)")
    return parser


PATH_FLAGS = ("data_dir", "plot", "save_model", "load_model")  # ~ is expanded in these and --predict's


def parse_args(argv=None):
    """The settings from the flags in `argv` (None: the command line's, when run as a program),
    each checked now rather than after training. A bad one exits with one line and status 2."""
    parser = make_parser()
    if argv is None:
        argv = sys.argv[1:]
        if os.path.basename(sys.argv[0]) != os.path.basename(globals().get("__file__", "")):
            # Not run as a program (`python mnist_mlp.py`, `%run mnist_mlp.py`) but pasted into a notebook
            # cell, run cell by cell, or called by another script: sys.argv is not settings for us.
            say_ignored(parser, argv)
            argv = []
    try:
        args, extra = parser.parse_known_args(argv)
    except argparse.ArgumentError as error:
        refuse(f"{error}; python mnist_mlp.py --help lists the settings")
    if extra:
        refuse(f"unrecognized arguments: {' '.join(extra)}; python mnist_mlp.py --help lists the settings")
    for name in PATH_FLAGS:  # no shell expands the ~ of --data-dir=~/mnist, a notebook's "~/x" or .env files
        if getattr(args, name):
            setattr(args, name, os.path.expanduser(getattr(args, name)))
    args.predict = args.predict and [os.path.expanduser(path) for path in args.predict]
    if args.no_plot:
        args.plot = None  # what the lesson looks at
    check_settings(args)
    return args


def refuse(message):
    """Stop with one line on stderr and exit status 2, as for a flag argparse refuses."""
    print(f"mnist_mlp: error: {message}", file=sys.stderr)
    sys.exit(2)


def say_ignored(parser, arguments):
    """Say so when `arguments`, the command line of a program that is not this one, hold our flags."""
    ours = [argument for argument in arguments if argument.split("=")[0] in parser._option_string_actions]
    if ours:
        print(f"Not run as `python mnist_mlp.py` (sys.argv[0] is {shown_name(sys.argv[0])}), so these "
              f"arguments were ignored: {shown_name(' '.join(arguments))}. To pass settings, call "
              f"run({arguments!r})")


def check_settings(args):
    """Refuse now, with one line, settings that would fail only after training: a --plot or
    --save-model that cannot be written, --predict pictures that cannot be read, --draw with no
    window; and say what --subset beyond MNIST's size does."""
    if args.plot:
        if os.path.splitext(args.plot)[1].lower().lstrip(".") not in PLOT_FORMATS:
            refuse(f"argument --plot: cannot save a picture as {shown_name(args.plot)}: the name must end in "
                   "one of " + ", ".join(f".{name}" for name in PLOT_FORMATS))
        check_output(args.plot, "--plot", "the picture", "or --no-plot for none")
    if args.save_model:
        if os.path.isdir(args.save_model):
            refuse(f"argument --save-model: {shown_name(args.save_model)} is a folder; give a file name, "
                   f"such as {shown_name(os.path.join(args.save_model, 'mnist_mlp.pt'))}")
        check_output(args.save_model, "--save-model", "the model", "")
    if args.predict and not args.load_model:  # your pictures, read now rather than after training
        for path in args.predict:
            problem = prepare_image(path)
            if isinstance(problem, str):
                refuse(f"argument --predict: {problem} (checked before training)")
    if args.plot or args.draw:
        check_backend(args.plot)
    if args.draw:
        check_window_can_open()
    if args.subset and args.subset > MNIST_TRAINING_IMAGES and not args.load_model:
        print(f"--subset {args.subset:,} is more than MNIST's {MNIST_TRAINING_IMAGES:,} training images: "
              "it trains on all of them")


def check_output(path, flag, what, otherwise):
    """Refuse `flag` PATH if its folder is missing or cannot be written to (a shared course
    folder, Kaggle's read-only /kaggle/input)."""
    folder = os.path.dirname(path) or "."
    if not os.path.isdir(folder):
        refuse(f"argument {flag}: there is no folder {shown_name(folder)} to save {what} in")
    if not os.access(folder, os.W_OK):  # read-only, or not yours: checked now, not after training
        where = os.path.join("~", os.path.basename(path))
        refuse(f"argument {flag}: cannot write to the folder {shown_name(os.path.abspath(folder))} "
               f"(permission denied, or read-only): give a path in a folder you can write to, "
               f"such as {flag} {shown_name(where)}{', ' + otherwise if otherwise else ''}")


def check_backend(plot):
    """If matplotlib's backend (from MPLBACKEND, or a matplotlibrc) cannot be loaded here, as
    PyCharm's module://backend_interagg outside PyCharm, switch to Agg, which only saves files,
    and say so. A backend that loads but cannot open a window is for show_pictures() to handle."""
    backend = plt.get_backend()
    try:
        backend_registry.load_backend_module(backend)
    except ImportError as error:
        source = "MPLBACKEND" if os.environ.get("MPLBACKEND") else "your matplotlibrc"
        plt.switch_backend("agg")
        saved = f"the picture is saved to {shown_name(plot)}" if plot else "pictures are saved"
        print(f"matplotlib's backend {backend} (set by {source}) cannot be loaded here ({error}): using "
              f"Agg instead, so {saved} but not shown in a window; to show it, remove that setting")


def pick_device(name):
    """The device that holds the data and does the arithmetic: the one asked for, or the best there is."""
    available = {"cuda": torch.cuda.is_available(), "mps": torch.backends.mps.is_available(), "cpu": True}
    if name == "auto":
        return torch.device(next(kind for kind, there in available.items() if there))
    if not available[name]:
        gpu = "CUDA GPU" if name == "cuda" else "Apple GPU"
        fail(f"--device {name} was asked for, but this PyTorch sees no {gpu}; use --device cpu or auto")
    return torch.device(name)


def progress_bar(batches, epoch, epochs):
    """The batches, with a progress bar while they run: in a terminal a line of text, in a notebook
    a widget (or that line of text, where ipywidgets is not installed), and none when the output
    goes to a file or a pipe, which would fill with half-drawn bars."""
    settings = {"desc": f"Epoch {epoch}/{epochs}", "leave": False}
    if in_notebook() and importlib.util.find_spec("ipywidgets") is not None:
        from tqdm.notebook import tqdm as notebook_bar  # imported here: it needs ipywidgets
        return notebook_bar(batches, **settings)
    # A notebook's output is no terminal, and it shows the text bar as one (\r redraws the line).
    return tqdm(batches, file=sys.stdout, disable=not (sys.stdout.isatty() or in_notebook()), **settings)


def in_notebook():
    """Whether this runs in a Jupyter kernel: JupyterLab, Jupyter Notebook, Colab, VS Code's notebooks."""
    ipython = sys.modules.get("IPython")  # a notebook has imported it; we do not import it for nothing
    shell = ipython.get_ipython() if ipython is not None else None
    return getattr(shell, "kernel", None) is not None  # IPython in a terminal has no kernel


def stop_if_training_failed(loss, accuracy, epoch, batches_per_epoch, args):
    """Stop if the loss has blown up; after the last epoch, say so if the network learned nothing."""
    hint = f"the learning rate (--lr {args.lr:g}) is probably too high; the default is {LEARNING_RATE:g}"
    if args.lr <= LEARNING_RATE:  # a rate this small does not blow up on good data and arithmetic
        gpu = args.device != "cpu" and (torch.cuda.is_available() or torch.backends.mps.is_available())
        hint = (f"at --lr {args.lr:g}, no higher than the default, that points to the device or the "
                "data, not the settings: " +
                ("try --device cpu" if gpu else "check MNIST's files (--data-dir) and the PyTorch install"))
    # Guessing among ten digits costs a loss of log(10) = 2.3. Far above it, the steps are so large
    # that the weights fly apart, and more epochs only make them larger.
    if not math.isfinite(loss) or loss > 10 * math.log(10):
        fail(f"training blew up: the loss reached {loss:.3g} in epoch {epoch}, far above the 2.3 of "
             f"guessing among ten digits; {hint}")
    # Chance is 10%. (A run of under 100 steps may simply not have had time to learn: no hint then.)
    if epoch == args.epochs and epoch * batches_per_epoch >= 100 and accuracy < 0.2:
        print(f"Training is stuck at chance: {accuracy:.1%} of the training digits were read right, "
              f"about what guessing gets; {hint}")


def check_data_files(raw_folder):
    """Fail, naming the file, if one of MNIST's IDX files in raw_folder is truncated or not MNIST."""
    for path in [os.path.join(raw_folder, name) for name in IDX_FILES]:
        if not os.path.isfile(path):
            continue  # missing files are downloaded, or reported, by load_mnist()
        images = "images" in os.path.basename(path)
        dims = 3 if images else 1  # images: count x 28 x 28; labels: count
        replace = "delete it and run again, or copy a good one in its place"
        try:
            with open(path, "rb") as file:
                header = file.read(4 + 4 * dims)
        except OSError as error:
            fail(f"cannot read {path}: {error.strerror or error}")
        if len(header) < 4 + 4 * dims:
            fail(f"{path} is truncated (too short to be an MNIST file); {replace}")
        # The header is a magic number (0x0803: unsigned bytes, 3 dimensions) and the size of each.
        magic = int.from_bytes(header[:4], "big")
        sizes = [int.from_bytes(header[4 + 4 * i: 8 + 4 * i], "big") for i in range(dims)]
        expected_bytes = len(header) + sizes[0] * (28 * 28 if images else 1)
        actual_bytes = os.path.getsize(path)
        if magic != 0x800 + dims or (images and sizes[1:] != [28, 28]):
            fail(f"{path} is not an MNIST {'images' if images else 'labels'} file (its header is "
                 f"wrong); {replace}")
        if actual_bytes != expected_bytes:
            fail(f"{path} is corrupt: its header promises {expected_bytes:,} bytes but it has "
                 f"{actual_bytes:,}; {replace}")


def find_mnist(data_dir):
    """The folder to give torchvision, which reads <folder>/MNIST/raw/: data_dir, made absolute so
    that messages name it wherever the program runs from. A --data-dir that points at MNIST/ or
    at MNIST/raw/ itself is taken as meant; MNIST's files elsewhere in it are a clear error."""
    data_dir = os.path.abspath(data_dir)
    for root in (data_dir, os.path.dirname(data_dir), os.path.dirname(os.path.dirname(data_dir))):
        raw_folder = os.path.join(root, "MNIST", "raw")
        if data_dir in (root, os.path.dirname(raw_folder), raw_folder) and has_mnist_files(raw_folder):
            return root
    for folder in (os.path.join(data_dir, "MNIST"), data_dir):
        if has_mnist_files(folder):
            fail(f"MNIST's files are in {folder}, but they are read from {os.path.join(data_dir, 'MNIST', 'raw')}: "
                 "move them there")
    return data_dir


def has_mnist_files(folder):
    """Whether the folder holds any of MNIST's four files: as they are, gzipped, or named with a dot
    before "idx" (train-images.idx3-ubyte, as some copies of MNIST name them)."""
    names = os.listdir(folder) if os.path.isdir(folder) else []
    return any(name.replace(".idx", "-idx").removesuffix(".gz") in IDX_FILES for name in names)


def unpack_mnist_files(raw_folder):
    """Make MNIST's four files ready in raw_folder when they came gzipped, as MNIST is published
    (torchvision unpacks only the ones it downloaded itself), or say how to name them."""
    names = os.listdir(raw_folder) if os.path.isdir(raw_folder) else []
    dotted = sorted(name for name in names if ".idx" in name and name.replace(".idx", "-idx") in IDX_FILES)
    if dotted and not all(name in names for name in IDX_FILES):
        fail(f"{raw_folder} has {', '.join(dotted)}: rename them with a dash before idx "
             f"({', '.join(IDX_FILES)}), the names torchvision reads")
    for name in IDX_FILES:
        path = os.path.join(raw_folder, name)
        if os.path.exists(path) or not os.path.exists(path + ".gz"):
            continue
        if os.path.getsize(path + ".gz") == 0:  # gzip would unpack it into an empty file, without a word
            fail(f"{path}.gz is empty (0 bytes: a download cut off?); delete it and run again, or copy a "
                 "good one in its place")
        try:
            with written_whole(path) as temporary, gzip.open(path + ".gz", "rb") as packed, \
                    open(temporary, "wb") as unpacked:
                shutil.copyfileobj(packed, unpacked)
        except (OSError, EOFError, zlib.error) as error:
            problem = "is not a gzip file" if isinstance(error, (gzip.BadGzipFile, zlib.error)) else \
                "is truncated" if isinstance(error, EOFError) else None
            if problem:
                fail(f"{path}.gz {problem}; delete it and run again, or copy a good one in its place")
            fail(f"cannot unpack {path}.gz into {raw_folder} ({error.strerror or error}): unpack it "
                 "yourself (gunzip), or copy the folder somewhere you can write to")


@contextlib.contextmanager
def written_whole(path):
    """A temporary file name beside PATH to write to; when the block ends, the file is renamed to
    PATH. A rename is all or nothing, so an error or Ctrl-C halfway leaves the old PATH (or none),
    never half a file, and no temporary file either."""
    temporary = f"{path}.{os.getpid()}.tmp"
    try:
        yield temporary
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)


def load_mnist(data_dir):
    """MNIST's training and test sets as torchvision datasets, downloaded on the first run."""
    data_dir = find_mnist(data_dir)
    raw_folder = os.path.join(data_dir, "MNIST", "raw")
    unpack_mnist_files(raw_folder)
    check_data_files(raw_folder)
    # A download that fails must leave nothing behind: note what is there before it starts.
    new_folders = []  # every folder the download would make, outermost first
    folder = raw_folder
    while not os.path.isdir(folder) and os.path.dirname(folder) != folder:
        new_folders.insert(0, folder)
        folder = os.path.dirname(folder)
    old_files = set(os.listdir(raw_folder)) if os.path.isdir(raw_folder) else set()
    # torchvision's download has no time limit of its own: without one, a network that answers
    # nothing would leave the program waiting forever. download=True fetches the files once.
    previous_timeout = socket.getdefaulttimeout()
    socket.setdefaulttimeout(DOWNLOAD_TIMEOUT)
    try:
        train_set = datasets.MNIST(data_dir, train=True, download=True)
        test_set = datasets.MNIST(data_dir, train=False, download=True)
    except (RuntimeError, OSError, http.client.HTTPException) as error:  # the last: a cut-off transfer
        if all(os.path.isfile(os.path.join(raw_folder, name)) for name in IDX_FILES):
            raise  # the files are there, so this is not a download problem: show it as it is
        for name in set(os.listdir(raw_folder) if os.path.isdir(raw_folder) else []) - old_files:
            os.remove(os.path.join(raw_folder, name))  # half-downloaded files
        for folder in reversed(new_folders):
            if os.path.isdir(folder) and not os.listdir(folder):
                os.rmdir(folder)
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


def read_all(model, device, images):
    """The network's ten probabilities for each of `images` (normalised, [N, 1, 28, 28]), on the
    CPU: in batches of 128 (larger ones raise the peak memory), with one read-back at the end."""
    model.eval()
    with torch.no_grad():
        return torch.cat([model(part.to(device)).exp() for part in images.split(128)]).cpu()


def print_common_mistakes(model, device, test_set):
    """Print the three mistakes the network makes most often on the test set, e.g. "5 read as 3
    (12 times)"; nothing if it makes none."""
    images, labels = test_set.tensors
    readings = read_all(model, device, images).argmax(dim=1)
    wrong = readings != labels
    # One counter for each (true digit, digit read) pair: number 10 * true digit + digit read.
    counts = torch.bincount(labels[wrong] * 10 + readings[wrong], minlength=100).tolist()
    pairs = sorted(range(100), key=lambda pair: counts[pair], reverse=True)[:3]
    worst = [f"{pair // 10} read as {pair % 10} ({counts[pair]} {'time' if counts[pair] == 1 else 'times'})"
             for pair in pairs if counts[pair]]
    if worst:
        print("Most common mistakes: " + ", ".join(worst))


def confident_mistakes(model, device, test_set, count):
    """Up to `count` test pictures that the network reads wrong, the ones it is surest of first:
    (picture, true digit, digit read, probability of the digit read) for each."""
    images, labels = test_set.tensors
    probability, reading = read_all(model, device, images).max(dim=1)  # the top value, and its digit
    sureness = torch.where(reading == labels, -1.0, probability)  # -1: read right, so never chosen
    surest = sureness.topk(min(count, len(sureness)))  # the largest values, and their places
    return [(images[index], int(labels[index]), int(reading[index]), value)
            for value, index in zip(surest.values.tolist(), surest.indices.tolist(), strict=True)
            if value >= 0]


def plot_prediction(image, probabilities, title, path, picture=None):
    """Draw your digit (--predict, `image` [1, 1, 28, 28]) beside the network's ten
    `probabilities` [10]; save the picture to PATH (it is shown at the end, by show_pictures()).
    With `picture`, the PreparedPicture it came from: first the photo, with a box around each
    digit found, and the ink that was kept; for several digits (`image` [N, 1, 28, 28],
    `probabilities` [N, 10]), each 28x28 that the network read, with its reading."""
    if picture is None:
        figure = plt.figure(figsize=(8, 3.5), layout="constrained")
        draw_reading(figure, image, probabilities, title)
    else:
        figure = plt.figure(figsize=(13, 3.8), layout="constrained")
        photo_panel, reading_panel = figure.subfigures(1, 2, width_ratios=[1, 1.4])
        draw_photo(photo_panel, picture)
        if len(image) == 1:
            draw_reading(reading_panel, image[0], probabilities.reshape(-1, 10)[0], title)
        else:
            draw_several(reading_panel, image, probabilities, title)
    save_picture(figure, path)


def draw_photo(panel, picture):
    """The photo as read, a red box around each digit found; beside it the ink kept, cropped to
    the digits: what the cleaning left of the photo (a PreparedPicture), in `panel`."""
    photo_axes, kept_axes = panel.subplots(1, 2)
    photo_axes.imshow(picture.photo.numpy())
    for top, left, bottom, right in picture.boxes:
        photo_axes.add_patch(Rectangle((left - 0.5, top - 0.5), right - left, bottom - top, fill=False,
                                       edgecolor="tab:red", linewidth=1.5))
    photo_axes.set_title(f"your picture,\nthe digit{'s' if len(picture.boxes) > 1 else ''} found", fontsize=10)
    tops, lefts, bottoms, rights = zip(*picture.boxes, strict=True)
    kept_axes.imshow(picture.kept[min(tops): max(bottoms), min(lefts): max(rights)], cmap="gray", vmin=0, vmax=1)
    kept_axes.set_title("the ink kept\n(shading, specks, lines out)", fontsize=10)
    for axes in (photo_axes, kept_axes):
        axes.axis("off")


def draw_several(panel, images, probabilities, title):
    """Several digits (`images` [N, 1, 28, 28]) as the network sees them, each titled with the
    digit it was read as and how sure the network is of it (`probabilities` [N, 10])."""
    panel.suptitle(title, fontsize=12)
    for axes, image, reading in zip(panel.subplots(1, len(images), squeeze=False)[0], images, probabilities,
                                    strict=True):
        axes.imshow(image.reshape(28, 28).cpu().numpy(), cmap="gray")
        axes.set_title(f"{int(reading.argmax())} ({float(reading.max()):.0%})", fontsize=10)
        axes.axis("off")


def plot_results(model, test_set, image, label, probabilities, history, path):
    """The picture main() ends with, on one page, saved to PATH: the learning curve and the first
    layer's weights on top; below, the test digit `image` ([1, 28, 28], normalised) with its true
    `label` and the network's ten `probabilities`, and the test pictures it reads wrong with the
    most confidence. `history` is None for a network loaded with --load-model (no training to draw)."""
    prediction = int(probabilities.argmax())
    title = f"Prediction: {prediction} ({probabilities[prediction]:.1%}), true label: {int(label)}"
    # Its surest mistakes: read them yourself. They show what it finds hard, and where it is wrong.
    mistakes = confident_mistakes(model, next(model.parameters()).device, test_set, count=8)
    # Each neuron of the first layer adds up the 784 pixels, each times its own weight: fc1.weight
    # is [86, 784], as nn.Linear keeps one row of weights per output. Laid out as 28x28, a row is a
    # picture of what its neuron looks for: ink on pixels whose weights are positive raises its
    # output, ink on negative ones lowers it. detach(): the weights without the gradient tracking
    # they carry, which drawing cannot take; cpu(): off the GPU, if there; -1: as many as there are.
    first_layer = model.fc1.weight.detach().cpu().reshape(-1, 28, 28)  # [86, 28, 28]
    # Subfigures, figures inside the figure: four panels, each with its own title and axes. At 80
    # dots per inch, as it is saved: a 960x672 window, which fits a laptop's screen.
    figure = plt.figure(figsize=(12, 8.4), dpi=80, layout="constrained")
    (curve, weights), (reading, wrong) = figure.subfigures(2, 2, height_ratios=[1, 1],
                                                           width_ratios=[1.15, 1])
    plot_learning_curve(curve, history)
    plot_first_layer(weights, first_layer)
    draw_reading(reading, image, probabilities.cpu(), title)
    plot_mistakes(wrong, mistakes, columns=4)
    save_picture(figure, path)


def plot_learning_curve(subfigure, history):
    """Every batch's loss (faint) and its running mean, above the training and test accuracies
    after each epoch, all against the epochs."""
    subfigure.suptitle("How it learned", fontsize=12)
    if history is None:
        subfigure.text(0.5, 0.5, "Loaded with --load-model:\nnot trained in this run", ha="center",
                       va="center", fontsize=11, color="0.4")
        return
    losses = torch.tensor(history["batch losses"])
    epochs = len(history["test accuracy"])
    batch_epochs = torch.arange(1, len(losses) + 1) * epochs / len(losses)  # batch -> epoch, e.g. 1.5
    # The running mean over a twentieth of training (at least 2 batches, at most all there are):
    # smooth enough to see the trend through the noise.
    window = min(len(losses), max(2, len(losses) // 20))
    running_mean = losses.unfold(0, window, 1).mean(dim=1)  # the mean of each `window` batches in a row
    loss_axes, accuracy_axes = subfigure.subplots(2, 1, sharex=True)
    loss_axes.plot(batch_epochs, losses, color="tab:blue", alpha=0.25, linewidth=0.8,
                   label="loss of each batch")
    loss_axes.plot(batch_epochs[window - 1:], running_mean, color="tab:blue", linewidth=2,
                   label=f"running mean of {window} {'batch' if window == 1 else 'batches'}")
    loss_axes.set(yscale="log", ylabel="loss (log scale)")
    loss_axes.yaxis.set_major_formatter("{x:g}")  # 0.1 rather than 10^-1

    def minor_label(value, position):  # between 0.1 and 1, say: 0.2 and 0.5 if the view is short
        low, high = loss_axes.get_ylim()
        leading = round(value / 10 ** math.floor(math.log10(value)))  # 0.2 -> 2
        return f"{value:g}" if high / low < 10 or (high / low < 100 and leading in (2, 5)) else ""

    loss_axes.yaxis.set_minor_formatter(minor_label)
    loss_axes.legend(fontsize=9, loc="upper right")
    epoch_numbers = range(1, epochs + 1)
    # The training line wide and the test line narrow and dashed on top: both show where they meet.
    for name, colour, style, width in (("training", "tab:orange", "o-", 4), ("test", "tab:green", "o--", 1.5)):
        accuracies = history[f"{name} accuracy"]
        accuracy_axes.plot(epoch_numbers, [100 * a for a in accuracies], style, color=colour, linewidth=width,
                           markersize=2 + width, label=f"{name} pictures: {accuracies[-1]:.2%} at the end")
    accuracy_axes.set(xlabel="epoch", ylabel="accuracy (%)", xlim=(0, epochs * 1.02))
    accuracy_axes.set_ylim(top=100)  # the top is always 100%, to show how far there is to go
    accuracy_axes.xaxis.get_major_locator().set_params(integer=True)
    accuracy_axes.legend(fontsize=9, loc="best")  # where it hides the fewest points
    accuracy_axes.grid(alpha=0.3)


FIRST_LAYER_SHOWN = 96  # at most this many neurons' pictures (--hidden-units 512: the first 96)
# Red above 0, blue below, white at 0; the gaps between the pictures grey.
FIRST_LAYER_COLOURS = plt.colormaps["RdBu_r"].with_extremes(bad="0.8")


def plot_first_layer(subfigure, first_layer):
    """The weights of each neuron of the first layer as a 28x28 picture, in one tiled image: red
    where ink raises the neuron's output, blue where it lowers it, white for 0."""
    neurons = len(first_layer)
    first_layer = first_layer[:FIRST_LAYER_SHOWN]  # more would be too small to see
    count = len(first_layer)
    columns = math.ceil(math.sqrt(count * 1.3))  # a grid a little wider than tall
    rows = math.ceil(count / columns)
    # Each neuron on its own scale, from -1 to 1 (its largest weight, either way): some neurons'
    # weights are far smaller than others', and would look blank on a shared scale.
    scaled = first_layer / first_layer.abs().amax(dim=(1, 2), keepdim=True).clamp(min=1e-12)
    tiles = torch.full((rows * columns, 30, 30), float("nan"))  # a 1-pixel grey gap (nan) round each
    tiles[:count, 1:29, 1:29] = scaled
    mosaic = tiles.reshape(rows, columns, 30, 30).permute(0, 2, 1, 3).reshape(rows * 30, columns * 30)
    # Coloured here, as bytes (red, green, blue, opacity), rather than by imshow: matplotlib's own
    # colouring of a large picture works in 64-bit floats, which raised the run's peak memory.
    colours = torch.from_numpy(FIRST_LAYER_COLOURS((mosaic.numpy() + 1) / 2, bytes=True))  # -1..1 -> 0..1
    colours[rows * 30 - 30:, (count % columns or columns) * 30:, 3] = 0  # the places left over: transparent
    axes = subfigure.subplots()
    axes.imshow(colours.numpy(), interpolation="nearest")
    axes.axis("off")
    which = f"its {neurons} neurons" if count == neurons else f"{count} of its {neurons} neurons"
    subfigure.suptitle(f"What the first layer looks for: the weights of {which}\n"
                       "red: ink here raises the neuron's output; blue: ink here lowers it", fontsize=11)
    subfigure.supxlabel("Each neuron on its own scale. A tile of noise: a neuron that no training picture\n"
                        "switches on, so it got no gradient and never learned (its starting weights, shrunk)",
                        fontsize=9)


def draw_reading(panel, image, probabilities, title):
    """A digit as the network sees it, beside its ten probabilities, under `title`, in `panel` (a
    figure, or a subfigure of one)."""
    left, right = panel.subplots(1, 2, width_ratios=[1, 1.6])
    panel.suptitle(title, fontsize=12)
    left.imshow(image.reshape(28, 28).cpu().numpy(), cmap="gray")
    left.set_title("what the network sees\n(28x28)", fontsize=10)
    left.axis("off")
    bars = right.bar(range(10), probabilities.cpu().numpy(), color="tab:gray")
    bars[int(probabilities.argmax())].set_color("tab:blue")
    right.set(xticks=range(10), ylim=(0, 1), xlabel="digit", ylabel="probability")


def plot_mistakes(subfigure, mistakes, columns=8):
    """The row of mistakes under the picture: each digit with its true label, what it was read as,
    and how sure the network was."""
    if not mistakes:
        subfigure.suptitle("It reads every test digit right", fontsize=11)
        return
    subfigure.suptitle("Test digits it reads wrong, the surest mistakes first", fontsize=11)
    places = subfigure.subplots(8 // columns, columns).flat  # 8 places, so that the digits keep one size
    for index, axes in enumerate(places):
        axes.axis("off")
        if index < len(mistakes):
            image, label, reading, probability = mistakes[index]
            axes.imshow(image.reshape(28, 28).cpu().numpy(), cmap="gray")
            axes.set_title(f"{label} read as {reading}\n{probability:.1%} sure", fontsize=9)


def showing_backend():
    """How matplotlib shows figures here: "window" (a desktop window), "widget" (a notebook's
    live widget, ipympl's `%matplotlib widget`), "inline" (a notebook's still pictures) or None
    (no screen: files only)."""
    backend = plt.get_backend().lower()
    if backend in backend_registry.list_builtin(BackendFilter.NON_INTERACTIVE):
        return None
    if backend in backend_registry.list_builtin(BackendFilter.INTERACTIVE):
        return "window"
    return "widget" if "ipympl" in backend or backend == "widget" else "inline"


def save_picture(figure, path):
    """Save the figure to PATH. Where it can be shown, it stays open for show_pictures()."""
    try:
        with written_whole(path) as temporary:  # the format from PATH's ending, not the temporary's
            figure.savefig(temporary, format=os.path.splitext(path)[1][1:].lower(), dpi=80)
    except (OSError, ValueError) as error:
        plt.close(figure)
        fail(f"cannot save the picture to {shown_name(path)}: {getattr(error, 'strerror', None) or error}")
    print(f"Saved the picture to {shown_name(path)}")
    if showing_backend() is None:
        plt.close(figure)  # nowhere to show it: free it now


def show_pictures():
    """Show the saved pictures still open: in windows on a desktop, below the cell in a notebook.
    An open drawing pad is left alone: it shows itself, and closes when you close it."""
    pictures = [number for number, label in zip(plt.get_fignums(), plt.get_figlabels(), strict=True)
                if label != PAD_LABEL]
    if not pictures:
        return
    if showing_backend() == "widget":
        # Shown as widgets, and left open (a closed widget stops drawing). Not plt.show(): under
        # %run it takes the figure off pyplot's list, and %run then opens a blank one. ipympl's
        # manager.show() shows a figure once: those an earlier run showed are not shown again.
        for number in pictures:
            plt.figure(number).canvas.manager.show()
        return
    if showing_backend() == "window":
        print("Close the window to finish.")
    plt.show()
    for number in pictures:
        plt.close(number)


def save_model(model, path):
    """Save the weights (the state_dict) to PATH, whole or not at all (see written_whole())."""
    try:
        with written_whole(path) as temporary, open(temporary, "wb") as file:
            torch.save(model.state_dict(), file)
            file.flush()
            os.fsync(file.fileno())  # on the disk, not just in memory, before the rename
    except OSError as error:
        fail(f"cannot save the model to {shown_name(path)}: {error.strerror or error}")
    print(f"Saved the model to {shown_name(path)}")


def load_model(path, device):
    """The network with the weights saved in PATH, on `device`, as large as they say (any
    --hidden-units). The weights may come from --save-model, a checkpoint of another program (any
    dict that holds fc1.weight, fc2.weight, ...) or a TorchScript export. Fails with one line for a
    file that is missing, unreadable, not weights, would run code, or does not fit; other errors
    (bugs) raise."""
    state_dict = weights_in(read_weights_file(path), path)
    model = Net(len(state_dict["fc1.weight"]))  # N: the size it was saved with
    expected = model.state_dict()
    # What torch's load_state_dict would list, on one line: each misfit, then what is missing or extra.
    misfits = [f"{name} is {list(state_dict[name].shape)} in the file but {list(tensor.shape)} in this network"
               for name, tensor in expected.items() if name in state_dict and state_dict[name].shape != tensor.shape]
    missing = [name for name in expected if name not in state_dict]
    unexpected = [name for name in state_dict if name not in expected]
    if misfits or missing or unexpected:
        misfit(path, "; ".join(misfits + [f"{', '.join(names)} {kind}" for names, kind in (
            (missing, "missing"), (unexpected, "not in this network")) if names]))
    model.load_state_dict(state_dict)  # on the CPU, where torch.load put them; then to the device
    model.to(device).eval()
    print(f"Loaded the model from {shown_name(path)}")
    return model


def read_weights_file(path):
    """What PATH holds, read onto the CPU (tensors, and the dicts and lists around them), or, for a
    TorchScript export, its state_dict. Fails with one line when the file cannot be read or holds
    something other than weights; other errors raise."""
    name = shown_name(path)
    if os.path.isdir(path):
        fail(f"{name} is a folder, not a model file; give the file inside it, such as "
             f"{shown_name(os.path.join(path, 'mnist_mlp.pt'))}")
    if os.path.isfile(path) and os.path.getsize(path) == 0:
        fail(f"{name} is empty (0 bytes): it was not saved whole; save the weights again")
    if is_torchscript(path):
        return torchscript_weights(path)
    try:
        # weights_only=True reads tensors and plain containers only: a full pickle can carry code
        # that runs as it loads. map_location="cpu": tensors saved on a GPU load without one, and
        # a checkpoint's optimizer state stays off the GPU (the network is moved there after).
        if not starts_as_torch_saves(path):  # a text file, say: torch.load's errors for it are KeyErrors
            fail(f"{name} is not a PyTorch weights file saved with --save-model")
        return torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        fail(f"there is no model file {name}")
    except OSError as error:  # permission denied, a disk error, ...
        fail(f"cannot read the model file {name}: {error.strerror or error}")
    except MemoryError:
        fail(f"not enough memory to load {name} ({os.path.getsize(path) / 1e6:,.0f} MB)")
    except (pickle.UnpicklingError, EOFError, RuntimeError) as error:  # what torch.load raises for not weights
        if isinstance(error, torch.OutOfMemoryError):
            raise
        fail_if_code(path)
        fail(f"{name} is not a PyTorch weights file saved with --save-model (or it was cut off)")


def starts_as_torch_saves(path):
    """Whether the file PATH starts as torch.save writes one: a zip archive (PyTorch 1.6 and later),
    or a pickle of protocol 2 (the older format)."""
    with open(path, "rb") as file:
        start = file.read(2)
    return start == b"PK" or start == b"\x80\x02"


def is_torchscript(path):
    """Whether PATH is a TorchScript export: a zip archive with a constants.pkl in it."""
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as archive:
        return any(entry.endswith("/constants.pkl") for entry in archive.namelist())


def fail_if_code(path):
    """Fail, naming the code, if the file PATH is a pickle that would run code on loading."""
    try:  # name what the file would have run; this reads the file without running any of it
        code = torch.serialization.get_unsafe_globals_in_checkpoint(path)
    except (pickle.UnpicklingError, EOFError, RuntimeError, ValueError):
        code = []
    name = shown_name(path)
    if any(found.startswith("torch.nn.modules.") or found.endswith(".Net") for found in code):
        fail(f"{name} holds a whole pickled model (saved with torch.save(model)), not just its "
             "weights; it is not loaded, because loading a pickle runs the code it names "
             f"({', '.join(code)}). Where the model was made, save its weights with "
             "torch.save(model.state_dict(), PATH), as --save-model does, and load that file")
    if code:
        fail(f"{name} was not loaded: besides weights it holds Python code ({', '.join(code)}) "
             "that would run on loading")


def torchscript_weights(path):
    """The state_dict of the TorchScript export in PATH (torch.jit.save), on the CPU. Its code is
    not run: only its weights are kept."""
    try:
        with warnings.catch_warnings():  # torch.jit's notice that it is deprecated: not the user's concern
            warnings.simplefilter("ignore", FutureWarning)
            weights = torch.jit.load(path, map_location="cpu").state_dict()
    except RuntimeError as error:
        fail(f"{shown_name(path)} is a TorchScript export (torch.jit.save) that does not load here "
             f"({str(error).strip().splitlines()[0]}); where it was made, save its weights with "
             "torch.save(torch.jit.load(PATH).state_dict(), 'weights.pt') and load that file")
    print(f"{shown_name(path)} is a TorchScript export (torch.jit.save): using the weights in it")
    return weights


def weights_in(saved, path):
    """The network's weights in `saved` (what PATH holds), named fc1.weight, fc1.bias, ...: found
    in whichever dict holds fc1.weight, at any depth (checkpoints keep them beside the optimizer's
    state), with any prefix taken off (nn.DataParallel's "module.", torch.compile's "_orig_mod.",
    PyTorch Lightning's "model.", or several). Fails with one line if there is none."""
    found = find_fc1(saved, depth=4)
    if found is None:
        misfit(path, "there is no fc1.weight in it")
    weights, prefix = found
    state_dict = {name[len(prefix):]: tensor for name, tensor in weights.items()
                  if isinstance(name, str) and name.startswith(prefix)}
    if not all(isinstance(tensor, torch.Tensor) for tensor in state_dict.values()) or \
            state_dict["fc1.weight"].dim() != 2:
        misfit(path, "its fc1.weight is not a table of weights")
    return state_dict


def find_fc1(saved, depth):
    """(the dict, the prefix) for the first dict in `saved`, looking `depth` levels down, that
    holds a tensor named fc1.weight or <prefix>fc1.weight; None if there is none."""
    if isinstance(saved, dict):
        for name, value in saved.items():
            if isinstance(name, str) and (name == "fc1.weight" or name.endswith(".fc1.weight")) and \
                    isinstance(value, torch.Tensor):
                return saved, name.removesuffix("fc1.weight")
    if depth == 0 or not isinstance(saved, (dict, list, tuple)):
        return None
    for value in saved.values() if isinstance(saved, dict) else saved:
        found = find_fc1(value, depth - 1)
        if found is not None:
            return found
    return None


def misfit(path, why):
    """Fail: the weights in PATH do not fit this network, and why."""
    fail(f"the weights in {shown_name(path)} do not fit this network (784-N-N-10, for N hidden units): {why}")


def shown_name(path):
    """PATH as it can be shown anywhere: a name that is not valid UTF-8 (from an old zip archive,
    say) comes from the system with stand-ins (surrogates) that cannot be printed or drawn; they are
    shown as \\x escapes, e.g. caf\\xe9.png."""
    return os.fsencode(path).decode("utf-8", errors="backslashreplace")


# A HEIC photo's bytes 4-12: "ftyp", then one of these brands (ISO/IEC 23008-12, HEIF).
HEIC_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1"}


def open_picture(path):
    """The picture in PATH, opened by PIL (its pixels are decoded when first used), or a message
    that says why it cannot be: no such file, a folder, no permission, a HEIC photo, too large,
    not a picture PIL reads."""
    name = shown_name(path)
    try:
        with warnings.catch_warnings():
            # PIL warns about pictures of over 89 million pixels (twice that, it refuses them, below);
            # the thumbnail shrinks them before they are converted, so they are read like any other.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            return Image.open(path)
    except FileNotFoundError:
        return f"there is no file {name}"
    except IsADirectoryError:
        return f"{name} is a folder, not a picture; give the pictures in it, such as {shown_name(path)}/*.png"
    except PermissionError:
        return f"cannot read {name}: permission denied"
    except Image.DecompressionBombError:
        return (f"{name} is too large to read: PIL refuses pictures of over {2 * Image.MAX_IMAGE_PIXELS:,} "
                "pixels, which could be a decompression bomb; scale it down first")
    except UnidentifiedImageError:
        with open(path, "rb") as file:
            start = file.read(12)
        if start[4:8] == b"ftyp" and start[8:12] in HEIC_BRANDS:
            return (f"{name} is a HEIC photo (an iPhone's format), which PIL cannot read: convert it to "
                    "JPEG (on a Mac: open it in Preview, then File > Export), or set the iPhone to take "
                    "JPEGs (Settings > Camera > Formats > Most Compatible)")
        return f"{name} is not a picture that can be read ({PICTURE_FORMATS})"
    except OSError as error:
        return f"cannot read {name}: {error.strerror or error}"


def prepare_image(path, details=False):
    """The digits in your picture as the network knows digits, left to right: each as MNIST's,
    bright on black, cropped to its ink, scaled into a 20x20 box, centred by centre of mass in
    28x28, normalised: [number of digits, 1, 28, 28]. Or a message that says why the picture cannot
    be used (no file, not a picture, no digit in it). With details=True, a PreparedPicture: those
    digits, and for the saved plot the photo as read ([height, width, 3], 0-255), the ink kept
    ([height, width], 0-1) and each digit's box in it (top, left, bottom, right)."""
    picture = open_picture(path)
    if isinstance(picture, str):
        return picture
    try:
        with picture:
            picture = ImageOps.exif_transpose(picture)  # phone photos: turn them the right way up
            picture.thumbnail((512, 512))  # a 12-megapixel photo has far more detail than 20x20 needs
            if picture.mode.startswith("I"):  # 16-bit grey, as scanners write it: 0-65535 to 0-255
                picture = picture.convert("I").point(lambda value: value / 256)
            picture = picture.convert("RGBA")
    except (OSError, ValueError) as error:  # PIL's errors for a picture it cannot decode
        return f"{shown_name(path)} is damaged or cut off, and cannot be read ({error})"
    photo = pil_to_tensor(picture)  # [4, height, width], 0-255: the picture as the saved plot shows it
    found = find_digits(paper_view(photo.float() / 255))
    if isinstance(found, str):  # what was found instead of digits
        return f"{shown_name(path)} {found}"
    digits, kept, boxes = found
    return PreparedPicture(digits, photo[:3].permute(1, 2, 0), kept, boxes) if details else digits


class PreparedPicture(NamedTuple):
    """A picture read by prepare_image(path, details=True); see there."""
    digits: torch.Tensor  # [number of digits, 1, 28, 28], normalised as in training
    photo: torch.Tensor  # [height, width, 3], 0-255, as it was read (turned upright, shrunk)
    kept: np.ndarray  # [height, width], 0-1: the ink kept as the digits', bright on black
    boxes: list  # each digit's (top, left, bottom, right) in `kept`, in pixels, bottom and right excluded


def paper_view(rgba):
    """A picture, RGBA [4, height, width] with values 0-1, as grey dark ink on lighter paper:
    numpy [height, width], 0-1. Bright ink on a dark ground (as MNIST's) is flipped; see-through
    parts become paper."""
    grey = torch.tensordot(torch.tensor([0.299, 0.587, 0.114]), rgba[:3], dims=1)  # as PIL weighs colours
    alpha = rgba[3]
    ink_is_dark = (grey * alpha).sum() < 0.5 * alpha.sum()  # a see-through background becomes white
    grey = grey * alpha + (1.0 if ink_is_dark else 0.0) * (1 - alpha)  # behind dark ink, else black
    # The border is nearly all background: a dark one, with the rest brighter on the whole, is a
    # dark ground (a dimly lit page is dark too, but its ink makes the rest darker still).
    border = torch.cat([grey[0], grey[-1], grey[:, 0], grey[:, -1]]).median()
    if border <= 0.5 and grey.mean() >= border:
        grey = 1 - grey
    return grey.numpy()


def remove_background(page):
    """The ink on a page (numpy [height, width], 0-1, dark ink on paper) as bright on black, 0-1:
    how much darker than the paper around it each pixel is, as a share of the paper's brightness
    there (a shadow dims ink and paper alike). The paper's brightness is a grey closing (the
    brightest pixel near each pixel, then the darkest of those): it follows shadows and uneven
    light, and skips any stroke narrower than its window. The window is a third of the picture's
    shorter side, which is wider than the strokes of any digit that fits in the picture, even a
    blurred or fat one; smaller windows eat the middle of thick strokes."""
    window = max(3, round(min(page.shape) / BACKGROUND_WINDOW))
    smooth = ndimage.gaussian_filter(page, 1.0)  # without it, noise would raise the paper's level
    # Beyond the edges, the paper is taken to go on as it goes at the edge (an odd reflection, so
    # that a shadow darkening towards an edge is not seen as ink along it), never brighter than
    # at the edge (the odd reflection of dark ink near the edge would be bright).
    padded = np.minimum(np.pad(smooth, window, mode="reflect", reflect_type="odd"),
                        np.pad(smooth, window, mode="edge"))
    paper = ndimage.grey_closing(padded, size=(window, window))[window: -window, window: -window]
    return (1 - page / np.maximum(paper, 0.02)).clip(0, 1)


def line_pixels(mask):
    """The pixels of `mask` (bool [height, width]) on thin straight lines across the picture: ruled
    lines, a margin line. A run of ink along a row at least LINE_LENGTH of the picture's width
    (or down a column, of its height), at most 2 * THIN_LINE of the picture thick. Runs are found by
    a morphological opening along the rows (the least, then the most, over that many pixels),
    after gaps of up to 4 pixels (noise, a lighter spot) are closed. Where a stroke crosses a
    line, the line's pixels between the stroke's two sides are not counted as the line's."""
    def opening(picture, size, axis):  # odd sizes, so that the two filters line up exactly
        size = 2 * (size // 2) + 1
        least = ndimage.minimum_filter1d(picture, size, axis=axis, mode="constant")  # no ink beyond the edges
        return ndimage.maximum_filter1d(least, size, axis=axis, mode="constant")

    def closing(picture, size, axis):  # the most, then the least: gaps of up to size - 1 pixels filled
        most = ndimage.maximum_filter1d(picture, size, axis=axis, mode="constant")
        return ndimage.minimum_filter1d(most, size, axis=axis, mode="constant", cval=1)

    lines = np.zeros_like(mask)
    thin = max(1, round(THIN_LINE * max(mask.shape)))
    for along in (1, 0):  # along the rows, then down the columns
        runs = closing(mask.astype(np.uint8), 5, along)
        runs = opening(runs, round(LINE_LENGTH * mask.shape[along]), along)
        lines |= (runs > opening(runs, 2 * thin + 1, 1 - along)) & mask
    # Where a stroke of the digit crosses a line, there is ink on both sides of it: that stays.
    rest = (mask & ~lines).astype(np.uint8)
    crossings = (closing(rest, 2 * thin + 3, 0) | closing(rest, 2 * thin + 3, 1)).astype(bool)
    return lines & ~crossings


def digit_parts(ink):
    """The connected pieces of ink (8 neighbours) that make the digits: numpy labels [height,
    width] (0: not ink; 1, 2, ...: the pieces) and, for each piece, whether it is kept. A pixel is
    ink where the smoothed ink passes LOW_INK; lines across the picture are taken out first (kept
    if nothing else is left). A piece is kept if its darkest
    part is twice that, it does not touch the picture's edge (a shadow, the paper's edge), and it
    is at least a tenth of the largest such piece (not a speck). Last, the share of the ink in
    pieces that touch the edge: most of it, in a photo of something else than paper."""
    smooth = ndimage.gaussian_filter(ink, 1.0)  # noise, and JPEG's blocks, smoothed out
    mask = smooth > LOW_INK
    for lines in (line_pixels(mask), np.zeros_like(mask)):
        labels, count = ndimage.label(mask & ~lines, structure=np.ones((3, 3)))
        pieces = np.arange(1, count + 1)
        strong = np.array(ndimage.maximum(smooth, labels, pieces)) >= 2 * LOW_INK
        edge = np.zeros(count + 1, dtype=bool)
        edge[np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]])] = True
        keep = strong & ~edge[1:] if (strong & ~edge[1:]).any() else strong
        area = np.bincount(labels.ravel(), minlength=count + 1)[1:]
        if keep.any():
            break
    amounts = np.asarray(ndimage.sum_labels(ink, labels, pieces))  # how much ink is in each piece
    off_the_edge = amounts[edge[1:]].sum() / max(amounts.sum(), 1e-6)
    return labels, keep & (area >= 0.1 * area[keep].max(initial=0)), off_the_edge


def group_into_digits(boxes):
    """Pieces of ink grouped into digits, left to right. A piece belongs to the digit on its left
    if they share at least a quarter of the narrower's width (a stroke cut by a ruled line), or
    if the paper between them is under a tenth of the taller's height (a 5's loose top bar, a
    stroke that stops short): the digits of a number stand side by side, with a gap. `boxes`:
    each piece's (top, left, bottom, right); returns the digits, each a list of its pieces'
    places in `boxes`."""
    groups, spans = [], []  # the pieces of each digit so far, and its box
    for piece in sorted(range(len(boxes)), key=lambda piece: boxes[piece][1]):
        top, left, bottom, right = boxes[piece]
        if spans:
            last = spans[-1]
            shared = min(right, last[3]) - max(left, last[1])
            heights = sorted((bottom - top, last[2] - last[0]))
            if shared >= 0.25 * min(right - left, last[3] - last[1]) or shared >= -0.1 * heights[1]:
                groups[-1].append(piece)
                spans[-1] = (min(top, last[0]), min(left, last[1]), max(bottom, last[2]), max(right, last[3]))
                continue
        groups.append([piece])
        spans.append(boxes[piece])
    return groups


def find_digits(page):
    """The digits on a page (numpy [height, width], 0-1, dark ink on paper), left to right:
    (digits [number, 1, 28, 28] normalised as in training, the ink kept [height, width] 0-1, each
    digit's (top, left, bottom, right)); or what was found instead, as the end of a sentence
    that starts with the picture's name: blank, no digit left after cleaning, or not a digit on
    paper (most ink off the edges and in many pieces, or over MAX_DIGITS digits). Digits shorter
    than 0.4 of the tallest are left out (a dot, a dash)."""
    ink = remove_background(page)
    if ndimage.gaussian_filter(ink, 1.0).max() < 2 * LOW_INK:
        return "looks blank: no digit found"
    labels, keep, off_the_edge = digit_parts(ink)
    pieces = [piece for piece, kept in enumerate(keep, start=1) if kept]
    slices = ndimage.find_objects(labels)
    boxes = [(slices[piece - 1][0].start, slices[piece - 1][1].start, slices[piece - 1][0].stop,
              slices[piece - 1][1].stop) for piece in pieces]
    groups = group_into_digits(boxes)
    if off_the_edge > 0.5 and max(map(len, groups), default=0) > 3:
        return ("does not look like a digit on paper: most of its dark parts run off the picture's edges, and "
                "the rest is in many pieces; photograph the digit alone on plain paper")
    tallest = max((max(boxes[i][2] for i in group) - min(boxes[i][0] for i in group) for group in groups),
                  default=0)
    digits, kept, digit_boxes = [], np.zeros_like(ink), []
    for group in groups:
        height = max(boxes[i][2] for i in group) - min(boxes[i][0] for i in group)
        digit = digit_ink(ink, np.isin(labels, [pieces[i] for i in group]))
        rows, columns = digit.any(axis=1).nonzero()[0], digit.any(axis=0).nonzero()[0]
        if height >= 0.4 * tallest and len(rows):  # (a faint smudge is cut to nothing)
            kept = np.maximum(kept, digit)
            digits.append(centre_digit(torch.from_numpy(digit).float()))
            digit_boxes.append((int(rows[0]), int(columns[0]), int(rows[-1]) + 1, int(columns[-1]) + 1))
    if not digits:
        return ("has no digit in it: once the paper's shading, specks and lines are taken out, no ink is left; "
                "write the digit darker, or larger")
    if len(digits) > MAX_DIGITS:
        return (f"does not look like a digit on paper: it has {len(digits)} separate marks of ink, more than "
                f"a number of {MAX_DIGITS} digits")
    return torch.cat(digits), kept, digit_boxes


def digit_ink(ink, parts):
    """One digit's ink: the pixels of `parts` (bool [height, width]) and 2 pixels around them (the
    strokes' soft edges), stretched so that the digit's darkest ink becomes full brightness, like
    MNIST's strokes, with the faintest fifth (noise, smudges) cut: numpy [height, width], 0-1."""
    near = ndimage.binary_dilation(parts, iterations=2)
    level = max(ink[parts].max(), 1e-6)
    return np.where(near, ((ink / level).clip(0, 1) - 0.2).clip(min=0) / 0.8, 0.0)


def crop_to_ink(ink):
    """The smallest rectangle of the picture that holds all its ink."""
    rows, columns = ink.sum(dim=1).nonzero(), ink.sum(dim=0).nonzero()
    return ink[rows[0]: rows[-1] + 1, columns[0]: columns[-1] + 1]


def even_out_pen(ink):
    """Ink cropped to the digit, its strokes thinned or thickened so that, for the digit's size,
    they are as wide as MNIST's: a thick felt pen, or a small digit on the drawing pad, would
    otherwise fill the loops in and look like an 8 to a network that has only seen MNIST's pen."""
    pen = (ink > 0.5).float()
    inside = -square_maximum(-pen, 1)  # the pen's pixels that are not on an edge of a stroke
    edge = float((pen - inside).sum())
    if edge == 0:
        return ink
    # A stroke of length L and width w covers about L * w pixels, with 2 * L of them on its edges.
    stroke_width = 2 * float(pen.sum()) / edge
    target = PEN_WIDTH_RATIO * max(ink.shape)
    change = round((stroke_width - target) / 2)  # pixels to take off (or add to) each side of a stroke
    if abs(stroke_width - target) < PEN_WIDTH_SLACK * target or change == 0:
        return ink
    if change < 0:  # dilation: each pixel takes the most ink within -change pixels of it
        return crop_to_ink(square_maximum(ink, -change))
    thinner = -square_maximum(-ink, change)  # erosion: the least ink within `change` pixels of it
    return crop_to_ink(thinner) if thinner.max() > 0.5 else ink  # never rub the whole digit out


def square_maximum(picture, k):
    """The maximum over the (2k+1)-square around each pixel, the picture padded with k zeros on each
    side: max_pool2d along the rows, then along the columns, which is the same and far faster
    than one pass over whole squares when k is large."""
    padded = F.pad(picture, (k, k, k, k))[None, None]  # [1, 1, height, width], as max_pool2d wants
    rows = F.max_pool2d(padded, (1, 2 * k + 1), stride=1)
    return F.max_pool2d(rows, (2 * k + 1, 1), stride=1)[0, 0]


def centre_digit(ink):
    """Ink, bright on black with values 0-1 in a picture of any size, placed as MNIST places its
    digits: cropped to the ink, its strokes made as wide as MNIST's for its size, scaled so that
    its longer side is 20 pixels, its centre of mass at the centre of 28x28, and normalised as in
    training. Used for pictures and for the drawing pad."""
    ink = crop_to_ink(ink)
    if max(ink.shape) > 64:  # for speed: the pen is evened out at 64 pixels, three times the digit's 20
        shrink = 64 / max(ink.shape)
        size = (max(1, round(ink.shape[0] * shrink)), max(1, round(ink.shape[1] * shrink)))
        ink = F.interpolate(ink[None, None], size=size, mode="bilinear", antialias=True)[0, 0]
    ink = even_out_pen(ink)
    scale = 20 / max(ink.shape)  # keeping its proportions: a 1 stays thin
    height, width = max(1, round(ink.shape[0] * scale)), max(1, round(ink.shape[1] * scale))
    # interpolate wants [pictures, channels, height, width]; antialias: each new pixel averages all
    # the pixels it covers, so that thin strokes are not lost in shrinking.
    ink = F.interpolate(ink[None, None], size=(height, width), mode="bilinear", antialias=True)[0, 0]
    ink = ink / ink.max()  # shrinking blurs thin strokes; MNIST's are full brightness at their core
    # The centre of mass is the ink's balance point.
    centre_y = (ink.sum(dim=1) @ torch.arange(height, dtype=torch.float32)) / ink.sum()
    centre_x = (ink.sum(dim=0) @ torch.arange(width, dtype=torch.float32)) / ink.sum()
    # 13.5 is the middle of rows (and columns) 0-27; min and max keep the digit inside the 28x28.
    top = min(max(round(13.5 - float(centre_y)), 0), 28 - height)
    left = min(max(round(13.5 - float(centre_x)), 0), 28 - width)
    digit = torch.zeros(28, 28)
    digit[top: top + height, left: left + width] = ink.clamp(0, 1)
    return normalize(digit.view(1, 1, 28, 28))  # as in training


def top_three(probabilities):
    """The network's reading, as --predict and --draw print it: "7 (96.1%); then 1 (2.0%), 9 (0.4%)"."""
    ranked = probabilities.argsort(descending=True).tolist()
    first, second, third = (f"{digit} ({probabilities[digit]:.1%})" for digit in ranked[:3])
    return f"{first}; then {second}, {third}"


def reading_line(probabilities):
    """What --predict prints after a picture's name, for its digits' `probabilities` [N, 10]: for
    one digit its top three, "7 (96.1%); then 1 (2.0%), 9 (0.4%)"; for several, the number and
    each digit's probability, "305 (3 98%, 0 99%, 5 97%)"."""
    if len(probabilities) == 1:
        return top_three(probabilities[0])
    best, digits = probabilities.max(dim=1)
    number = "".join(str(digit) for digit in digits.tolist())
    return f"{number} ({', '.join(f'{digit} {p:.0%}' for digit, p in zip(digits.tolist(), best.tolist()))})"


def predict_images(model, paths, device, plot_path):
    """Print the network's reading of each picture (each digit in it, left to right) and plot the
    first; exit 1 if one could not be read (no file, not a picture, no digit in it)."""
    model.eval()
    failures, first = 0, None
    for path in paths:
        picture = prepare_image(path, details=True)
        if isinstance(picture, str):  # a message saying what is wrong with this picture
            print(f"mnist_mlp: error: {picture}", file=sys.stderr)
            failures += 1
            continue
        with torch.no_grad():
            probabilities = model(picture.digits.to(device)).exp().cpu()  # [digits, 10]
        print(f"{shown_name(path)}: {reading_line(probabilities)}")
        if first is None:
            first = (path, picture, probabilities)
    if plot_path and first:  # the first picture that could be read, and only that one
        path, picture, probabilities = first
        best, digit = probabilities[0].max(dim=0)
        title = f"{shown_name(os.path.basename(path))}: " + (f"{int(digit)} ({float(best):.1%})" if len(probabilities) == 1
                                                  else reading_line(probabilities).split()[0])
        plot_prediction(picture.digits, probabilities, title, plot_path, picture)
    if failures:
        show_pictures()  # the picture of the ones that could be read, before the exit
        sys.exit(1)


# The drawing pad (--draw) --------------------------------------------------------------------------
PAD_PIXELS = 200  # the pad is a 200x200 picture, shrunk to 28x28 for the network like any other
PEN_RADIUS = 7  # in pad pixels: thick, and still thin enough that a small digit stays readable
PAD_LABEL = "drawing pad"  # the pad's figure's label, by which show_pictures() knows to leave it alone
HOW_TO_DRAW = "Draw a digit: hold the left mouse button. Right-click or c: clear. q: quit"


def check_window_can_open():
    """Fail, pointing to --predict, if matplotlib cannot open a window here to draw in."""
    # matplotlib's backend is the part that draws: in a window (Tk, Qt, macOS, ...), in a notebook,
    # or only into files (agg, which matplotlib falls back to where there is no display).
    backend = showing_backend()
    if backend in ("window", "widget"):  # a desktop window, or a notebook's widget
        return
    if backend == "inline":
        fail("--draw needs a window, and a notebook's inline pictures cannot take the mouse: run "
             "%matplotlib widget first (pip install ipympl), or draw your digit in a paint program and "
             "read it with --predict")
    fail(f"--draw needs a window, and none can open here (matplotlib's backend is {plt.get_backend()}: no "
         "display); draw your digit in a paint program and read it with --predict")


def draw_digits(model, device):
    """--draw: open the drawing pad. In a window, wait until it is closed (unless plt.ion() made
    plt.show() return at once); in a notebook, show it below the cell and return. Either way the
    pad stays alive until its figure is closed (see DrawingPad)."""
    pad = DrawingPad(model, device)
    if showing_backend() == "widget":
        pad.show_in_notebook()
        return
    print(f"{HOW_TO_DRAW}; or close the window.", flush=True)
    plt.show()


class DrawingPad:
    """The --draw window: a pad to draw a digit on, and beside it the network's ten probabilities,
    read again at every move of the mouse while the left button is held. Its methods are the
    window's event handlers, as in matplotlib's own interactive examples. The figure's canvas
    keeps the pad alive until the figure closes, and then its handlers are disconnected (see
    __init__). plt.show() opens the window (self.figure); in a notebook, show_in_notebook()."""

    def __init__(self, model, device):
        self.model, self.device = model.eval(), device
        self.ink = torch.zeros(PAD_PIXELS, PAD_PIXELS)  # what has been drawn: 0 to 1, bright on black
        self.rows, self.columns = torch.meshgrid(torch.arange(PAD_PIXELS) + 0.5, torch.arange(PAD_PIXELS) + 0.5,
                                                 indexing="ij")  # the centre of each pad pixel
        self.pen_down, self.pen_at = False, None  # whether the left button is held; where the stroke is
        self.held_seen = False  # whether this stroke's moves have said that the left button is held
        self.reading = None  # the network's probabilities for the drawing shown; None while it is blank
        self.background = None  # a saved copy of the window without the changing parts (see repaint())
        self.log = None  # in a notebook, the output widget that the readings are written to
        self.lay_out()
        # matplotlib holds a method it calls back weakly, and a plain function strongly: the last
        # one, a function, keeps the pad alive for as long as its figure, even where plt.show()
        # returns at once (a notebook, plt.ion()), until on_close() disconnects them all.
        self.connections = [self.figure.canvas.mpl_connect(name, handler) for name, handler in (
            ("button_press_event", self.on_press), ("motion_notify_event", self.on_move),
            ("button_release_event", self.on_release), ("key_press_event", self.on_key),
            ("draw_event", self.on_full_redraw), ("close_event", lambda event: self.on_close(event)))]

    def show_in_notebook(self):
        """Show the pad as an ipympl widget below the cell, without ipympl's toolbar, title and
        footer, and below it the line read at each release of the button."""
        from IPython.display import display  # there in any notebook, as ipywidgets is with ipympl
        from ipywidgets import Output
        canvas = self.figure.canvas
        canvas.toolbar_visible = canvas.header_visible = canvas.footer_visible = canvas.resizable = False
        canvas.manager.show()
        # ipympl runs the handlers outside the cell, so a print() would land in JupyterLab's log
        # console: an Output widget shown under the pad takes the lines instead.
        self.log = Output()
        display(self.log)

    def lay_out(self):
        """The window: the pad on the left; on the right, the digit as the network sees it and the bars."""
        # (rc's "None" is matplotlib's spelling) pan and zoom would take the mouse. ioff: a notebook
        # would show the figure by itself at the end of the cell, and then again when we show it.
        in_notebook_cell = showing_backend() == "widget"
        with plt.rc_context({"toolbar": "None"}), plt.ioff():  # 7.5 inches: 750 pixels, to fit a cell
            self.figure = figure = plt.figure(figsize=(7.5, 4.5) if in_notebook_cell else (10, 6))
        figure.set_label(PAD_LABEL)
        figure.canvas.manager.set_window_title(HOW_TO_DRAW)
        # matplotlib's own keys (l: log scale, g: grid, s: save, ...) would change the picture: ours only.
        figure.canvas.mpl_disconnect(figure.canvas.manager.key_press_handler_id)
        figure.text(0.02, 0.95, HOW_TO_DRAW, fontsize=11)
        self.pad = figure.add_axes((0.02, 0.03, 0.56, 0.89))  # left, bottom, width, height: fractions
        # extent: mouse positions come in pad pixels, y downwards like rows. bilinear: as smooth on
        # screen as the default smoothing, and a fraction of its cost to redraw.
        self.pad_image = self.pad.imshow(self.ink.numpy(), cmap="gray", vmin=0, vmax=1, interpolation="bilinear",
                                         extent=(0, PAD_PIXELS, PAD_PIXELS, 0))
        self.pad.set(xticks=[], yticks=[])
        seen = figure.add_axes((0.64, 0.62, 0.15, 0.25))
        self.seen_image = seen.imshow(torch.zeros(28, 28).numpy(), cmap="gray", vmin=0, vmax=1)
        seen.set_title("what the network sees", fontsize=9)
        seen.axis("off")
        self.answer = seen.text(1.2, 0.5, "", fontsize=16, va="center", transform=seen.transAxes)  # right of it
        bar_axes = figure.add_axes((0.64, 0.1, 0.33, 0.42))
        self.bars = bar_axes.bar(range(10), [0] * 10, color="tab:gray")
        bar_axes.set(xticks=range(10), ylim=(0, 1), xlabel="digit", ylabel="probability")
        # Blitting, for speed: a redraw paints only the artists (matplotlib's word for anything it
        # draws) that change as you draw, over a saved copy of the rest of the window (axes, labels,
        # text), rather than the whole window every time.
        self.changing = [self.pad_image, self.seen_image, self.answer, *self.bars]
        for artist in self.changing:
            artist.set_animated(True)  # left out of full redraws, to be painted over the saved copy

    def read_drawing(self):
        """Let the network read the drawing, and show its reading."""
        drawn = bool(self.ink.max() > 0)
        probabilities, seen_pixels = torch.zeros(10), torch.zeros(28, 28)
        if drawn:
            digit = centre_digit(self.ink)
            with torch.no_grad():
                probabilities = self.model(digit.to(self.device)).exp()[0].cpu()
            seen_pixels = digit[0, 0] * MNIST_STD + MNIST_MEAN  # normalize undone: 0-1, to show
        best = int(probabilities.argmax())
        for digit_bar, probability in zip(self.bars, probabilities.tolist(), strict=True):
            digit_bar.set_height(probability)
            digit_bar.set_color("tab:gray")
        self.bars[best].set_color("tab:blue" if drawn else "tab:gray")
        self.answer.set_text(f"{best} ({probabilities[best]:.1%})" if drawn else "")
        self.pad_image.set_data(self.ink.numpy())
        self.seen_image.set_data(seen_pixels.numpy())
        self.repaint()
        self.reading = probabilities if drawn else None

    def repaint(self):
        """Paint the saved copy back, then the changing artists over it; or redraw everything."""
        canvas = self.figure.canvas
        if self.background is None or not canvas.supports_blit:
            canvas.draw_idle()  # a full redraw, when the window is next idle
            return
        canvas.restore_region(self.background)
        for artist in self.changing:
            self.figure.draw_artist(artist)
        canvas.blit(self.figure.bbox)

    def on_full_redraw(self, event):
        """After the window is drawn whole (when it opens, or is resized): save the new copy."""
        if self.figure.canvas.supports_blit:
            self.background = self.figure.canvas.copy_from_bbox(self.figure.bbox)
        for artist in self.changing:  # the full redraw left them out
            self.figure.draw_artist(artist)

    def stroke_to(self, x, y):
        """Ink a thick line from where the pen was to (x, y): every pixel near the line, with soft edges."""
        start_x, start_y = self.pen_at or (x, y)
        along_x, along_y = x - start_x, y - start_y
        length_squared = along_x ** 2 + along_y ** 2
        # How far along the line the nearest point to each pixel is, from 0 (start) to 1 (end);
        # a click without a move is a line of length 0, hence the 1e-9.
        t = ((self.columns - start_x) * along_x + (self.rows - start_y) * along_y) / max(length_squared, 1e-9)
        t = t.clamp(0, 1)
        distance = torch.hypot(self.columns - start_x - t * along_x, self.rows - start_y - t * along_y)
        # Full ink within the pen's radius, fading to none over one more pixel; maximum, not +,
        # so that crossing a stroke leaves it as it was.
        torch.maximum(self.ink, (PEN_RADIUS + 0.5 - distance).clamp(0, 1), out=self.ink)
        self.pen_at = (x, y)

    def clear(self):
        self.ink.zero_()
        self.read_drawing()

    def on_press(self, event):
        if event.inaxes is self.pad and event.button == MouseButton.LEFT:
            self.pen_down, self.pen_at, self.held_seen = True, None, False
            self.stroke_to(event.xdata, event.ydata)
            self.read_drawing()
        elif event.button == MouseButton.RIGHT:
            self.clear()

    def on_move(self, event):
        if not self.pen_down:
            return
        # The buttons held, as the move reports them (an empty set where a backend does not say):
        # a move without the left button after moves with it means its release was missed (let
        # go outside the window or the browser), and the pen must not stay down.
        if MouseButton.LEFT in event.buttons:
            self.held_seen = True
        elif self.held_seen:
            self.lift_pen()
            return
        if event.inaxes is not self.pad:  # off the pad: the stroke breaks, and starts again on return
            self.pen_at = None
            return
        self.stroke_to(event.xdata, event.ydata)
        self.read_drawing()

    def on_release(self, event):
        if event.button == MouseButton.LEFT and self.pen_down:
            self.lift_pen()

    def lift_pen(self):
        """End the stroke, and write the reading: to the terminal, or below the pad in a notebook."""
        self.pen_down = False
        if self.reading is None:
            return
        line = f"drawing: {top_three(self.reading)}"  # as read at the last move: it has not changed since
        if self.log is not None:
            self.log.append_stdout(line + "\n")
        else:
            print(line, flush=True)

    def on_key(self, event):
        if event.key == "c":
            self.clear()
        elif event.key == "q":
            self.on_close(None)  # ipympl sends no close_event for a figure closed by plt.close()
            plt.close(self.figure)

    def on_close(self, event):
        """The figure is closing: disconnect the handlers, and so let the pad go."""
        for connection in self.connections:
            self.figure.canvas.mpl_disconnect(connection)
        self.connections = []


if __name__ == "__main__":
    run()
