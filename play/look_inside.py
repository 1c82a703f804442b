"""A look inside the trained network: what its first layer looks for, and the mistakes it is surest of."""

import matplotlib.pyplot as plt
import torch
from torchvision.utils import make_grid

from mnist_mlp import load_mnist, prepare


def surest_mistakes(probabilities, labels, count=8):
    """The `count` pictures the network reads wrong with the highest probability, surest first,
    from its `probabilities` [N, 10] for them: their places, what it read, and how sure it was (0-1)."""
    sureness, readings = probabilities.max(dim=1)
    wrong = (readings != labels).nonzero()[:, 0]
    surest = wrong[sureness[wrong].argsort(descending=True)[:count]]
    return surest, readings[surest], sureness[surest]


def first_layer_grid(network):
    """fc1's weights as a grid of 28x28 pictures, one a neuron, 10 a row: [height, width], 0-1.
    Each neuron's weights are scaled by the largest of them, so that 0.5 is a weight of 0."""
    weights = network.fc1.weight.detach().view(-1, 1, 28, 28)  # [hidden units, 1, 28, 28]
    weights = weights / weights.abs().amax(dim=(1, 2, 3), keepdim=True)  # -1 to 1
    return make_grid(weights, nrow=10, padding=1, normalize=True, value_range=(-1, 1), pad_value=0.5)[0]


def inside(network, data_dir, plot=None):
    """Score the network on MNIST's 10,000 test pictures (read from `data_dir`, or downloaded
    there), print its three surest mistakes, and draw its first layer beside its eight surest
    mistakes: shown below the cell in a notebook, saved to `plot` if given."""
    _, test_set = load_mnist(data_dir)
    images, labels = prepare(test_set.data), test_set.targets
    with torch.no_grad():
        probabilities = network(images).exp()  # [10,000, 10]
    correct = int((probabilities.argmax(dim=1) == labels).sum())
    print(f"Test accuracy: {correct / len(labels):.2%} of the {len(labels):,} test pictures")
    places, readings, sureness = surest_mistakes(probabilities, labels)
    mistakes = [f"{label} read as {reading} ({sure:.1%})"
                for label, reading, sure in zip(labels[places].tolist(), readings.tolist(), sureness.tolist())]
    print(f"Its surest mistakes: {', '.join(mistakes[:3])}")

    figure = plt.figure(figsize=(8, 4), layout="constrained")  # 800 pixels: about a notebook cell's width
    left, right = figure.subfigures(1, 2, width_ratios=(1.1, 1))
    axes = left.subplots()
    axes.imshow(first_layer_grid(network).numpy(), cmap="RdBu_r", vmin=0, vmax=1)
    axes.set_title(f"What each of the {network.fc1.out_features} neurons of fc1 looks for:\n"
                   "red, ink there makes it fire; blue, ink there holds it back", fontsize=9)
    axes.axis("off")
    right.suptitle("The test digits it reads wrong, surest first", fontsize=10)
    for axes in right.subplots(2, 4).flat:
        axes.axis("off")
    for axes, place, mistake in zip(right.axes, places, mistakes):
        axes.imshow(images[place, 0].numpy(), cmap="gray")
        axes.set_title(mistake.replace(" (", "\n("), fontsize=8)  # "4 read as 9\n(99.1%)"
    if plot:
        figure.savefig(plot)
        print(f"Saved the picture to {plot}")
