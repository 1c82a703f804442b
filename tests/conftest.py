"""Shared test set-up: no windows, no network, MNIST's first pictures (tests/data/), trained networks."""

import gzip
import os
import shutil
import sys

os.environ["MPLBACKEND"] = "Agg"  # before matplotlib is imported: no test opens a window
# One thread for torch's arithmetic, here and in the programs the tests start: on a shared 2-core
# machine, more threads than free cores made the tests' training many times slower.
os.environ.setdefault("OMP_NUM_THREADS", "1")

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)  # import mnist_mlp and play from the project's folder
DATA = os.path.join(ROOT, "tests", "data")  # MNIST's first 2,000 training and 1,000 test pictures
MNIST_DATA = os.environ.get("MNIST_DATA")  # the whole of MNIST, where it is there
needs_mnist = pytest.mark.skipif(not (MNIST_DATA and os.path.isdir(os.path.join(MNIST_DATA, "MNIST", "raw"))),
                                 reason="set MNIST_DATA to a folder that holds MNIST/raw/")


@pytest.fixture(scope="session")
def mnist_subset(tmp_path_factory):
    """A folder that torchvision reads as MNIST (DIR/MNIST/raw/, four IDX files): tests/data unpacked."""
    root = tmp_path_factory.mktemp("mnist_subset")
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for name in os.listdir(DATA):
        if name.endswith(".gz"):
            with gzip.open(os.path.join(DATA, name)) as packed, open(raw / name[:-3], "wb") as unpacked:
                shutil.copyfileobj(packed, unpacked)
    return str(root)


def train_lesson(tmp_path_factory, *flags):
    """Train with the lesson's main(), as `python mnist_mlp.py FLAGS` would; returns the weights' path."""
    import mnist_mlp

    path = str(tmp_path_factory.mktemp("weights") / "mnist_mlp.pt")
    mnist_mlp.main(mnist_mlp.parse_args([*flags, "--no-plot", "--save-model", path]))
    return path


@pytest.fixture(scope="session")
def subset_weights(mnist_subset, tmp_path_factory):
    """Weights learned from the 2,000 training pictures of tests/data, 3 epochs (about 90% right)."""
    return train_lesson(tmp_path_factory, "--data-dir", mnist_subset)


@pytest.fixture(scope="session")
def mnist_weights(tmp_path_factory):
    """Weights learned from the whole of MNIST with the lesson's defaults (about 97.7% right)."""
    if not (MNIST_DATA and os.path.isdir(os.path.join(MNIST_DATA, "MNIST", "raw"))):
        pytest.skip("set MNIST_DATA to a folder that holds MNIST/raw/")
    return train_lesson(tmp_path_factory, "--data-dir", MNIST_DATA)
