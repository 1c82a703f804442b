"""The "Try this" table of docs/experiments.md: each experiment run over a few seeds, with its mean and spread.

An experiment is a set of flags, or a change to a line or two of mnist_mlp.py, or both. A change is
made the way docs/experiments.md tells a learner to make it: in a copy of the file, one exact text
replaced by another; the copy refuses to be made if the text is not there exactly once, so the
docs' instructions cannot drift from the code unnoticed (tests/test_docs.py checks that too). Each
run is a process of its own that runs the copy's main() with `--seed S --no-plot <flags>`, as
`python <copy> ...` would, then counts the first layer's neurons that none of the training pictures
switches on (ReLU's input above 0): those get no gradient, and never learn. Over the seeds, the
table gives the mean final training and test accuracies, the lowest and highest test accuracy, the
range of that count, and the time main() took (loading, training, testing), as a ratio to the
defaults' median.

    python benchmarks/experiments.py --data-dir ../shared/mnist --seeds 5
    python benchmarks/experiments.py --data-dir ../shared/mnist --only "no ReLU" --seeds 2
"""

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, "mnist_mlp.py")

ONE_CYCLE = """    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=total_steps,
                                                    cycle_momentum=False)"""
CONSTANT = "    scheduler = torch.optim.lr_scheduler.ConstantLR(optimizer, factor=1)"
ADAM = "optimizer = torch.optim.Adam(model.parameters(), lr=lr)"
SGD = "optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)"
SHUFFLED = "train_loader = DataLoader(train_data, batch_size=batch_size, shuffle=True)"
# A sampler is the order the DataLoader takes the pictures in: here a fixed list of places, all the
# 0s first, then all the 1s, ..., the same order every epoch (stable: within a digit, MNIST's order).
SORTED = ("train_loader = DataLoader(train_data, batch_size=batch_size, "
          "sampler=train_data.tensors[1].argsort(stable=True).tolist())")
PREPARED = "return normalize(images.unsqueeze(1) / 255)"
# Data augmentation: each batch moved by -1, 0 or +1 pixels down and right (roll wraps round, but
# MNIST's digits have an empty border), so that the network cannot count on a stroke being at one
# exact pixel.
STEP = "        optimizer.zero_grad()"
SHIFTED = ("        shift = torch.randint(-1, 2, (2,)).tolist()  # two of -1, 0, 1\n"
           "        images = images.roll(shift, dims=(2, 3))  # dims 2 and 3: height and width\n"
           "        optimizer.zero_grad()")

# (name, flags, [(text in mnist_mlp.py, what it becomes), ...])
EXPERIMENTS = [
    ("the defaults", [], []),
    ("no schedule: a constant learning rate, Adam's usual 1e-3", ["--lr", "1e-3"], [(ONE_CYCLE, CONSTANT)]),
    ("the classic tutorial's settings: batches of 10, Adam at 1e-3, no schedule",
     ["--batch-size", "10", "--lr", "1e-3"], [(ONE_CYCLE, CONSTANT)]),
    ("SGD with momentum 0.9 instead of Adam, learning rate 0.1", ["--lr", "0.1"], [(ADAM, SGD)]),
    ("no ReLU: a linear model", [],
     [("x = F.relu(self.fc1(x))", "x = self.fc1(x)"), ("x = F.relu(self.fc2(x))", "x = self.fc2(x)")]),
    ("16 hidden units", ["--hidden-units", "16"], []),
    ("512 hidden units", ["--hidden-units", "512"], []),
    ("no normalisation: pixels 0-1", [], [(PREPARED, "return images.unsqueeze(1) / 255")]),
    ("no normalisation: pixels 0-255", [], [(PREPARED, "return images.unsqueeze(1).float()")]),
    ("training pictures sorted by digit, not shuffled", [], [(SHUFFLED, SORTED)]),
    ("data augmentation: each batch shifted by up to a pixel", [], [(STEP, SHIFTED)]),
    ("more epochs: 10", ["--epochs", "10"], []),
    ("a learning rate 4 times the default", ["--lr", "0.032"], []),
    ("a learning rate far too high", ["--lr", "0.3"], []),
    ("overfitting: 1,000 training pictures, 20 epochs", ["--subset", "1000", "--epochs", "20"], []),
]

# Runs the copy's main() as `python <copy> <flags>` would, timed, then counts the neurons never switched on.
DRIVER = """
import runpy, sys, time, torch
script, *argv = sys.argv[1:]
copy = runpy.run_path(script, run_name="experiment")
args = copy["parse_args"](argv)
start = time.perf_counter()
model = copy["main"](args).cpu()
print(f"main() took {time.perf_counter() - start:.2f} s")
train_set, _ = copy["load_mnist"](args.data_dir)
switched_on = torch.zeros(model.fc1.out_features, dtype=torch.bool)
with torch.no_grad():
    for images in copy["prepare"](train_set.data[:args.subset]).split(1000):
        switched_on |= (model.fc1(images.flatten(1)) > 0).any(dim=0)
print(f"never switched on: {int((~switched_on).sum())} of {len(switched_on)}")
"""
EPOCH_LINE = re.compile(r"Epoch (\d+): loss (\S+), training accuracy ([\d.]+)%, test accuracy ([\d.]+)%")


def edited_source(edits):
    """mnist_mlp.py's text with each (old, new) of `edits` made; each old text must occur once."""
    with open(SCRIPT) as file:
        source = file.read()
    for old, new in edits:
        if source.count(old) != 1:
            raise ValueError(f"mnist_mlp.py holds {old!r} {source.count(old)} times, not once: "
                             "update this experiment (and README.md) to the code")
        source = source.replace(old, new)
    return source


def run_once(script, flags, seed, data_dir):
    """One run of `script`: (training accuracy, test accuracy, seconds of main(), neurons never
    switched on), from its output."""
    with tempfile.TemporaryDirectory() as folder:  # where it saves its weights
        result = subprocess.run([sys.executable, "-c", DRIVER, script, "--data-dir", data_dir, "--seed", str(seed),
                                 "--no-plot", "--save-model", os.path.join(folder, "m.pt"), *flags],
                                capture_output=True, text=True, env=dict(os.environ, MPLBACKEND="Agg"))
    if result.returncode != 0:
        sys.exit(f"{script} {' '.join(flags)} failed:\n{result.stderr}")
    _, _, train, test = EPOCH_LINE.findall(result.stdout)[-1]
    seconds = float(re.search(r"main\(\) took ([\d.]+) s", result.stdout).group(1))
    dead = re.search(r"never switched on: (\d+ of \d+)", result.stdout).group(1)
    return float(train), float(test), seconds, dead


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=os.environ.get("MNIST_DATA", "data"))
    parser.add_argument("--seeds", type=int, default=5, help="seeds 0 to N-1 (default: %(default)s)")
    parser.add_argument("--only", action="append", metavar="NAME",
                        help="run only the experiments whose name starts with NAME (repeatable)")
    args = parser.parse_args()
    if not os.path.isdir(os.path.join(args.data_dir, "MNIST", "raw")):
        sys.exit(f"no MNIST/raw/ in {args.data_dir}: pass --data-dir or set MNIST_DATA")
    chosen = [e for e in EXPERIMENTS if not args.only or any(e[0].startswith(n) for n in args.only)]
    if not chosen:
        sys.exit(f"no experiment starts with {' or '.join(args.only)}")

    scratch = tempfile.mkdtemp(prefix="mnist_mlp_experiments_")
    rows, default_seconds = [], None
    for number, (name, flags, edits) in enumerate(chosen):
        script = SCRIPT
        if edits:  # an edited copy, in a folder of its own (it imports nothing from beside it)
            script = os.path.join(scratch, f"experiment_{number}.py")
            with open(script, "w") as file:
                file.write(edited_source(edits))
        runs = [run_once(script, flags, seed, args.data_dir) for seed in range(args.seeds)]
        for seed, (train, test, seconds, dead) in enumerate(runs):
            print(f"{name}, seed {seed}: training {train:.2f}%, test {test:.2f}%, {seconds:.1f} s, "
                  f"never switched on: {dead}", flush=True)
        seconds = statistics.median(run[2] for run in runs)
        default_seconds = default_seconds or seconds  # the first experiment is the defaults
        rows.append((name, flags, runs, seconds))

    print(f"\nseeds 0-{args.seeds - 1}; test accuracy: mean (lowest-highest); time: main(), as a ratio to the "
          f"defaults' {default_seconds:.1f} s\n")
    print("| experiment | flags | training accuracy | test accuracy | neurons never switched on | time |")
    print("| --- | --- | --- | --- | --- | --- |")
    for name, flags, runs, seconds in rows:
        tests = [run[1] for run in runs]
        deads = sorted(int(run[3].split()[0]) for run in runs)
        dead = f"{deads[0]}-{deads[-1]}" if deads[0] != deads[-1] else f"{deads[0]}"
        print(f"| {name} | {' '.join(flags) or '-'} | {statistics.mean(run[0] for run in runs):.2f}% "
              f"| {statistics.mean(tests):.2f}% ({min(tests):.2f}-{max(tests):.2f}) "
              f"| {'-' if name.startswith('no ReLU') else dead + ' of ' + runs[0][3].split(' of ')[1]} "
              f"| {seconds / default_seconds:.1f}x |")

if __name__ == "__main__":
    main()
