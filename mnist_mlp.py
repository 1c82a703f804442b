"""Your first deep-learning program: a small neural network learns to read handwritten digits.

It starts from random weights, learns from MNIST's 60,000 labelled pictures of digits (28x28
pixels, grey), 128 at a time (a batch), three times over (three epochs), and after each epoch
reads the 10,000 test pictures, which it never learns from, and prints how many it got right
(about 97.8% at the end). It saves what it learned (its weights) to mnist_mlp.pt, and a
picture to prediction.png: one test digit with the network's answer, and how the accuracy grew.
Every random choice (the first weights, the order of the pictures) comes from a seed, --seed,
so that a run can be repeated.

    pip install -r requirements.txt
    python mnist_mlp.py              # downloads MNIST (about 12 MB) into ./data the first time
    python mnist_mlp.py --help       # the settings, such as --epochs and --lr

Read it from top to bottom. Each `# %%` cell is one step (VS Code and Spyder run them as cells).
The cells define the parts in turn (imports, data, the network, training, testing, the picture,
the settings), and the last one, main(), puts them to work.
"""

# %% Imports: the libraries this lesson uses
import argparse  # reads the settings typed after `python mnist_mlp.py`, such as --epochs 5
import os  # file paths, and MNIST_DATA: an environment variable you can set to say where MNIST is
import sys  # sys.argv, the command line's words; sys.exit, to stop with a message

import matplotlib.pyplot as plt  # draws the picture
import torch  # tensors (arrays of numbers that can live on a GPU), and gradients: for each
#               weight, how the loss (the network's error) changes when the weight changes
import torch.nn as nn  # layers whose weights learn
import torch.nn.functional as F  # operations without weights of their own: relu, log_softmax, nll_loss
from torch.utils.data import DataLoader, TensorDataset  # hand pictures and labels out in batches
from torchvision import datasets, transforms  # MNIST itself, and steps that prepare pictures
from tqdm.auto import tqdm  # a progress bar: text in a terminal, a widget in a notebook


# %% Data
def load_mnist(data_dir):
    """MNIST's training set (60,000 pictures) and test set (10,000), downloaded into
    data_dir/MNIST/raw/ the first time. Each holds its pictures as one tensor of bytes 0-255,
    .data, of shape [N, 28, 28] (N pictures of 28x28 pixels), and their digits as another,
    .targets [N]."""
    try:
        return (datasets.MNIST(data_dir, train=True, download=True),
                datasets.MNIST(data_dir, train=False, download=True))
    except RuntimeError as error:  # torchvision raises it when every mirror (web site) it tries fails
        reason = str(error).strip().splitlines()[-1]  # the last mirror's error, e.g. no network
        sys.exit(f"Could not download MNIST into {os.path.join(data_dir, 'MNIST', 'raw')} ({reason}). "
                 "Without internet, put MNIST's four files (train-images-idx3-ubyte, ...) in DIR/MNIST/raw/ "
                 "and pass --data-dir DIR, or set MNIST_DATA=DIR.")


# MNIST's pixels, scaled to 0-1, have a mean of 0.1307 and a standard deviation of 0.3081 over
# the training pictures. Normalize subtracts the mean from each pixel and divides by the standard
# deviation: inputs centred on 0 with a spread of 1, which a network learns from faster and more
# steadily than from pixels that are all 0 or above.
MNIST_MEAN, MNIST_STD = 0.1307, 0.3081
# (MNIST_MEAN,): a tuple with a value for each colour channel; MNIST's pictures have one, grey.
normalize = transforms.Normalize((MNIST_MEAN,), (MNIST_STD,))


def prepare(images):
    """Pictures as the network takes them: bytes 0-255 [N, 28, 28] to normalised floats [N, 1, 28, 28]."""
    # / 255 turns the bytes into floats from 0 to 1, and unsqueeze(1) adds the colour channel:
    # image tensors are [pictures, channels, height, width], and MNIST has one channel, grey.
    # Done here once for all 70,000 pictures. (Tutorials often pass transform= to datasets.MNIST,
    # which does the same to each picture again every time it is handed out: every epoch.)
    return normalize(images.unsqueeze(1) / 255)


def make_loaders(train_set, test_set, batch_size, subset=None):
    """The DataLoaders that hand out (images [B, 1, 28, 28], labels [B]) batches of B pictures:
    the training pictures, a sample of them to measure the training accuracy on, the test pictures."""
    # The test set is for testing only: the network never learns from it, so its score there
    # says how well it reads digits it has never seen, not how well it remembers the ones it has.
    # `subset` (--subset N): only the first N training pictures, for quick runs; [:None]: all.
    # A TensorDataset pairs picture i with label i.
    train_images, train_labels = prepare(train_set.data[:subset]), train_set.targets[:subset]
    train_data = TensorDataset(train_images, train_labels)
    test_data = TensorDataset(prepare(test_set.data), test_set.targets)
    # A batch is a handful of pictures learned from together: steadier than one at a time, and
    # far lighter than all 60,000 at once. shuffle=True deals the pictures in a new order every
    # epoch, so that each batch is a fair mix of digits and no epoch repeats the last one's steps.
    train_loader = DataLoader(train_data, batch_size=batch_size, shuffle=True)
    # The test loader is shuffled too, so that the picture drawn at the end (the first digit of
    # the first test batch) is a different digit for each seed; the order changes no test score.
    # Batches of 1,000, for speed: testing changes no weight, so the size changes no score.
    test_loader = DataLoader(test_data, batch_size=1000, shuffle=True)
    # The training accuracy, compared with the test accuracy after each epoch, shows overfitting:
    # a network that learns its training pictures by heart reads them far better than new ones.
    # It is measured on the first 10,000 training pictures: a sixth of the time all 60,000 take.
    train_sample = TensorDataset(train_images[:10_000], train_labels[:10_000])
    return train_loader, DataLoader(train_sample, batch_size=1000), test_loader


# %% The network
class Net(nn.Module):
    """784 -> 86 -> 86 -> 10: one input per pixel (28 x 28 = 784), two hidden layers (between
    input and output) of `hidden_units` neurons, and one output per digit 0-9. A neuron adds up
    its inputs, each times a weight, plus a weight of its own (the bias). 86 is small enough to
    train in seconds, and reads about 97.8% of the test digits; --hidden-units 16 reads about
    95.5%, 512 about 97.9%. Takes normalised pictures [N, 1, 28, 28]; returns [N, 10]."""

    def __init__(self, hidden_units=86):
        super().__init__()  # sets up nn.Module, which keeps track of the layers and their weights
        # nn.Linear is "fully connected": each neuron weighs every value of the layer before it,
        # so the network is not told which pixels are neighbours; it has to learn that too.
        self.fc1 = nn.Linear(28 * 28, hidden_units)
        self.fc2 = nn.Linear(hidden_units, hidden_units)
        self.fc3 = nn.Linear(hidden_units, 10)

    def forward(self, x):
        x = x.flatten(start_dim=1)  # [N, 1, 28, 28] -> [N, 784]: each picture as one row of pixels
        # ReLU, max(0, x), after each hidden layer: without it the three layers would add up to
        # one linear function, no better than a single layer (which reads about 92% of MNIST).
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        logits = self.fc3(x)  # 10 raw scores ("logits"), one for each digit
        # log_softmax turns the scores into log-probabilities: the logs of ten probabilities that
        # add up to 1. Logs, because the loss learned from is -log(probability of the right digit),
        # and log_softmax works them out directly, which stays precise even for probabilities too
        # tiny to store. F.cross_entropy, which you may have met, is log_softmax and this loss in one.
        return F.log_softmax(logits, dim=1)  # dim=1: over each picture's 10 scores


# %% Training
def make_optimizer(model, lr, total_steps):
    """The optimizer, which moves the weights at each step of learning, and its scheduler, which
    sets the learning rate (how far the weights move) for each of the `total_steps` steps: one
    step a batch, so the epochs times the batches in an epoch."""
    # The simplest optimizer, stochastic gradient descent (SGD), moves every weight by the learning
    # rate times its gradient on the batch. Adam, used here, moves it by a running average of its
    # recent gradients, divided by their recent typical size: steadier than one batch's gradient,
    # and weights whose gradients are small take steps as big as the others. It usually learns faster.
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    # A one-cycle schedule: the learning rate rises from lr/25 to lr (--lr, 8e-3 by default) over
    # the first 30% of the steps (25 and 30%: OneCycleLR's defaults), then falls almost to 0.
    # Small steps first, while Adam's averages are still rough (a warm-up); big ones to go far;
    # tiny ones at the end to settle. Against Adam's usual constant 1e-3 it reads 0.8 percentage
    # points more of the test digits (a mean of 97.7% against 96.9% over seeds 0-4).
    # cycle_momentum=False: the schedule changes the learning rate and nothing else of Adam's.
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=total_steps,
                                                    cycle_momentum=False)
    return optimizer, scheduler


def train(model, device, train_loader, optimizer, scheduler, epoch):
    """One epoch: one pass over all the training pictures, a step of learning for each batch.
    Returns the epoch's mean loss."""
    # model.train() and model.eval() (methods of every nn.Module) switch layers that behave
    # differently while learning, such as dropout (which switches random neurons off while
    # learning); this network has none, but the habit keeps you right when you add one.
    model.train()
    total_loss = 0.0
    # tqdm shows a progress bar over the batches; leave=False: it goes when the epoch ends;
    # disable=None: no bar when the output goes to a file rather than a terminal.
    for images, labels in tqdm(train_loader, desc=f"Epoch {epoch}", leave=False, disable=None):
        images, labels = images.to(device), labels.to(device)  # to the GPU, if main() chose one
        # loss.backward() (below) adds each weight's gradient to its .grad rather than replacing
        # it (so that gradients can be summed over batches on purpose): clear last batch's first.
        optimizer.zero_grad()
        output = model(images)  # calls forward(), recording each operation: [B, 10] log-probabilities
        # The negative log-likelihood: the mean over the batch of -log(probability given to the
        # right digit). Near 0 when the network is sure and right; large when sure and wrong.
        loss = F.nll_loss(output, labels)
        # backpropagation: back through the recorded operations, each weight's gradient into .grad
        loss.backward()
        optimizer.step()  # moves each weight a little against its gradient, to lower the loss
        scheduler.step()  # the learning rate moves along its schedule, once per batch
        total_loss += loss.item()  # .item(): the loss as a plain Python number
    return total_loss / len(train_loader)  # len(train_loader): its number of batches


# %% Testing
def test(model, device, loader):
    """The share of the pictures in `loader` that the network reads right, 0 to 1."""
    model.eval()  # layers such as dropout in their testing mode
    correct = 0
    with torch.no_grad():  # no learning here: no need to record the operations for backward()
        for images, labels in loader:
            images, labels = images.to(device), labels.to(device)
            output = model(images)
            # argmax: each picture's most probable digit (logs keep the order), its answer;
            # == labels: True where right.
            correct += (output.argmax(dim=1) == labels).sum().item()
    return correct / len(loader.dataset)


# %% The picture
def plot_prediction(model, device, test_loader, history, path):
    """Let the network read one test digit, and draw it with the ten probabilities beside the
    learning curve: history["training"] and history["test"], the accuracies after each epoch.
    Saved to `path`."""
    # iter() starts a pass over the (shuffled) loader; next() takes its first batch.
    images, labels = next(iter(test_loader))
    image, label = images[0], labels[0].item()  # [1, 28, 28], and its digit
    model.eval()
    with torch.no_grad():
        output = model(image.unsqueeze(0).to(device))  # a batch of one: [1, 1, 28, 28] -> [1, 10]
    # exp() undoes the log: ten probabilities that add up to 1; .cpu().numpy(): off the GPU, as
    # a numpy array, which matplotlib draws.
    probabilities = output[0].exp().cpu().numpy()
    answer = probabilities.argmax()

    # A figure with three plots (matplotlib calls each "axes") side by side, 13 x 4 inches.
    figure, (digit_axes, bar_axes, curve_axes) = plt.subplots(1, 3, figsize=(13, 4))
    # image[0] is [28, 28]; its normalised pixels go below 0: imshow scales them black to white.
    digit_axes.imshow(image[0].cpu().numpy(), cmap="gray")
    digit_axes.set_title(f"Test digit {label}, read as {answer} ({probabilities[answer]:.1%})")
    digit_axes.axis("off")
    bar_axes.bar(range(10), probabilities, color=["tab:blue" if d == answer else "tab:gray" for d in range(10)])
    bar_axes.set(xticks=range(10), ylim=(0, 1), xlabel="digit", ylabel="probability",
                 title="What the network gives each digit")
    epochs = range(1, len(history["test"]) + 1)
    curve_axes.plot(epochs, [100 * a for a in history["training"]], "o-", label="training pictures")
    curve_axes.plot(epochs, [100 * a for a in history["test"]], "o-", label="test pictures (never learned from)")
    curve_axes.set(xticks=epochs, xlabel="epoch", ylabel="accuracy (%)", title="Learning curve")
    curve_axes.legend()
    figure.tight_layout()
    figure.savefig(path)
    print(f"Saved the picture to {path}")
    plt.show()  # in a window or a notebook, where there is one; else nothing


# %% Settings: each has a flag, e.g. `python mnist_mlp.py --epochs 5`
def parse_args(argv=None):
    """The settings, from the command line (or from `argv`, a list of strings, if given)."""
    parser = argparse.ArgumentParser(description="Train a small network to read handwritten digits (MNIST).")
    # %(default)s: the default, in --help. metavar: the word --help shows for the value;
    # action="store_true": a flag with no value, True when it is given.
    parser.add_argument("--epochs", type=int, default=3,
                        help="passes over all the training pictures (default: %(default)s)")
    parser.add_argument("--batch-size", type=int, default=128,
                        help="pictures learned from at each step (default: %(default)s)")
    parser.add_argument("--lr", type=float, default=8e-3,
                        help="the schedule's highest learning rate (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0,
                        help="fixes the first weights and every shuffle (default: %(default)s)")
    parser.add_argument("--subset", type=int, metavar="N", help="train on the first N training pictures only")
    parser.add_argument("--hidden-units", type=int, default=86, metavar="N",
                        help="neurons in each hidden layer (default: %(default)s)")
    parser.add_argument("--data-dir", default=os.environ.get("MNIST_DATA", "data"), metavar="DIR",
                        help="where MNIST is, or is downloaded to (default: $MNIST_DATA if set, else ./data)")
    parser.add_argument("--save-model", default="mnist_mlp.pt", metavar="PATH",
                        help="where to save the weights (default: %(default)s)")
    parser.add_argument("--plot", default="prediction.png", metavar="PATH",
                        help="where to save the picture (default: %(default)s)")
    parser.add_argument("--no-plot", action="store_true", help="draw no picture")
    return parser.parse_args(argv)


# %% Putting it together: train, test, save
def main(args):
    """Train a network with the settings in `args` (see parse_args()); returns it, trained."""
    # The seed fixes every random choice: the first weights, the order of the batches. The same
    # seed gives the same result on the same machine and PyTorch build; on a GPU the last digits
    # can vary from run to run: some GPU sums add up in a varying order, and floating-point
    # rounding depends on the order.
    torch.manual_seed(args.seed)
    # Where the arithmetic runs: a GPU if there is one (NVIDIA's CUDA, or Apple's MPS), else the CPU.
    # (Python's `a if condition else b`, twice.)
    device = torch.device("cuda" if torch.cuda.is_available() else
                          "mps" if torch.backends.mps.is_available() else "cpu")
    print(f"Using device: {device}")

    train_set, test_set = load_mnist(args.data_dir)
    train_loader, train_sample_loader, test_loader = make_loaders(train_set, test_set, args.batch_size,
                                                                  args.subset)
    model = Net(args.hidden_units).to(device)  # the weights go where the pictures will go
    optimizer, scheduler = make_optimizer(model, args.lr, args.epochs * len(train_loader))

    history = {"training": [], "test": []}  # the accuracy after each epoch, for the picture
    print(f"Training on {len(train_loader.dataset):,} pictures for {args.epochs} "
          f"{'epoch' if args.epochs == 1 else 'epochs'}")
    for epoch in range(1, args.epochs + 1):
        loss = train(model, device, train_loader, optimizer, scheduler, epoch)
        # test() measures any loader: both accuracies the same way. Here the two stay close;
        # `--subset 1000 --epochs 20` shows the gap of overfitting open wide.
        history["training"].append(test(model, device, train_sample_loader))
        history["test"].append(test(model, device, test_loader))
        print(f"Epoch {epoch}: loss {loss:.4f}, training accuracy {history['training'][-1]:.2%}, "
              f"test accuracy {history['test'][-1]:.2%}")

    print(f"Test accuracy: {history['test'][-1]:.2%} of the {len(test_set):,} test pictures")
    # A state_dict maps each layer's name to its weights: all it takes to rebuild the trained
    # network later: model = Net(hidden_units) and model.load_state_dict(torch.load(PATH)), with
    # map_location="cpu" in torch.load for weights saved on a GPU and loaded on a machine without one.
    torch.save(model.state_dict(), args.save_model)
    print(f"Saved the weights to {args.save_model}")
    if not args.no_plot:
        plot_prediction(model, device, test_loader, history, args.plot)
    return model


if __name__ == "__main__":  # run as a program, not imported by another one
    # In a Jupyter or Colab notebook, sys.argv holds the notebook's own program (its
    # ipykernel_launcher.py or colab_kernel_launcher.py) and arguments, not this program's flags:
    # parse none, [], so that the defaults apply. (`%run mnist_mlp.py --epochs 1` passes flags.)
    model = main(parse_args([] if sys.argv[0].endswith("kernel_launcher.py") else None))
