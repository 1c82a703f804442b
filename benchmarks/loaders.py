"""docs/performance.md's speed tip: a faster training loader than the lesson's DataLoader(..., shuffle=True).

Both DataLoaders below give the same batches, in the same order for the same seed. The lesson's,
DataLoader(train_set, batch_size=128, shuffle=True), fetches each picture on its own and stacks
them; the BatchSampler one lets TensorDataset fetch a whole batch in one indexing. In one process,
alternating between the two, this times a pass over the loader alone and a whole training epoch
(mnist_mlp.train(), the real step), and prints the medians.

    python benchmarks/loaders.py --data-dir ../shared/mnist --rounds 6
"""

import argparse
import contextlib
import io
import itertools
import math
import os
import statistics
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=os.environ.get("MNIST_DATA", "data"))
    parser.add_argument("--rounds", type=int, default=6)
    args = parser.parse_args()

    import torch
    from torch.utils.data import BatchSampler, DataLoader, RandomSampler, TensorDataset

    import mnist_mlp

    train_set, _ = mnist_mlp.load_mnist(args.data_dir)
    train_set = TensorDataset(mnist_mlp.prepare(train_set.data), train_set.targets)  # as the lesson has them
    batch_size = mnist_mlp.parse_args([]).batch_size  # the lesson's default
    loaders = {
        "DataLoader(..., shuffle=True)": lambda: DataLoader(train_set, batch_size=batch_size, shuffle=True),
        "BatchSampler(RandomSampler(...))": lambda: DataLoader(
            train_set, sampler=BatchSampler(RandomSampler(train_set), batch_size, drop_last=False),
            batch_size=None),
    }

    def first_batches(make_loader):
        torch.manual_seed(0)
        return [labels.tolist() for _, labels in itertools.islice(make_loader(), 3)]

    same = first_batches(loaders["DataLoader(..., shuffle=True)"]) == first_batches(
        loaders["BatchSampler(RandomSampler(...))"])
    print(f"the same first three batches for the same seed: {same}")

    model = mnist_mlp.Net()
    steps = args.rounds * len(loaders) * math.ceil(len(train_set) / batch_size)  # every epoch timed
    optimizer, scheduler = mnist_mlp.make_optimizer(model, mnist_mlp.parse_args([]).lr, steps)
    loader_only = {name: [] for name in loaders}
    epoch = {name: [] for name in loaders}
    for round_number in range(args.rounds):
        for name in (list(loaders) if round_number % 2 == 0 else list(loaders)[::-1]):
            loader = loaders[name]()
            start = time.perf_counter()
            for _ in loader:
                pass
            loader_only[name].append(time.perf_counter() - start)
            start = time.perf_counter()
            with contextlib.redirect_stdout(io.StringIO()):  # no progress bar, but just in case
                mnist_mlp.train(model, torch.device("cpu"), loader, optimizer, scheduler, 1)
            epoch[name].append(time.perf_counter() - start)
    print(f"\nmedians of {args.rounds} rounds, in seconds, on the CPU\n")
    print("| loader | one pass over the loader alone | one training epoch |")
    print("| --- | --- | --- |")
    for name in loaders:
        print(f"| `{name}` | {statistics.median(loader_only[name]):.2f} s "
              f"| {statistics.median(epoch[name]):.2f} s |")


if __name__ == "__main__":
    main()
