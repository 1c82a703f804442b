"""Time mnist_mlp.py against the classic tutorial's pipeline, side by side, on the same data.

Each round runs, as separate processes one after the other (the order alternating between rounds):
  - tutorial_style.py: same network, batches of 10, a per-image ToTensor every epoch (the baseline);
  - mnist_mlp.py with its defaults;
  - `import torch, torchvision` alone: the fixed cost that both pay, for scale.
For each it records the wall time of the whole process, its peak memory (the operating system's
maximum resident set size for that process) and the test accuracy it printed. It also records the
peak until the program's own end, read by an atexit handler: Python's shutdown, after it, makes
PyTorch touch about another 120 MiB (`import torch, torchvision` alone peaks near 670 MiB before
its shutdown and near 800 MiB after), so that the whole-process peak is mostly set at exit.
Ratios are taken within a round, so both sides of a ratio saw the same machine load; the table
gives medians.

    python benchmarks/compare_tutorial.py --data-dir ../shared/mnist --rounds 3
"""

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
# Runs a script (or -c code) as `python` would, and prints its peak memory so far at exit.
WRAPPER = ("import atexit, resource, runpy, sys\n"
           "atexit.register(lambda: print(f'PEAK BEFORE SHUTDOWN {resource.getrusage(resource.RUSAGE_SELF)"
           ".ru_maxrss / 1024}', file=sys.stderr))\n"
           "if sys.argv[1] == '-c':\n    exec(sys.argv[2])\n"
           "else:\n    sys.argv = sys.argv[1:]\n    runpy.run_path(sys.argv[0], run_name='__main__')\n")
ROOT = os.path.dirname(HERE)


def run(command, env):
    """Run a whole process; return (wall seconds, peak resident memory in MiB, the peak before
    Python's shutdown in MiB, its stdout)."""
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    # Read the pipes before waiting, so that a chatty child cannot block on a full pipe.
    stdout, stderr = process.stdout.read(), process.stderr.read()
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        sys.exit(f"{' '.join(command)} failed with exit status {process.returncode}:\n{stderr}")
    before_shutdown = float(re.search(r"PEAK BEFORE SHUTDOWN ([\d.]+)", stderr).group(1))
    return seconds, usage.ru_maxrss / 1024, before_shutdown, stdout  # ru_maxrss is in KiB on Linux


def accuracy(stdout):
    match = re.search(r"Test accuracy: ([\d.]+)%", stdout)
    return float(match.group(1)) if match else None


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=os.environ.get("MNIST_DATA", "data"))
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if not os.path.isdir(os.path.join(args.data_dir, "MNIST", "raw")):
        sys.exit(f"no MNIST/raw/ in {args.data_dir}: pass --data-dir or set MNIST_DATA")

    env = dict(os.environ, MPLBACKEND="Agg", CUDA_VISIBLE_DEVICES="")  # no window; the CPU, as the tutorial
    scratch = tempfile.mkdtemp(prefix="mnist_mlp_bench_")
    commands = {
        "tutorial-style (batch 10, ToTensor per image)": [
            sys.executable, "-c", WRAPPER, os.path.join(HERE, "tutorial_style.py"), "--data-dir", args.data_dir,
            "--plot", os.path.join(scratch, "tutorial.png")],
        "mnist_mlp.py (defaults)": [
            sys.executable, "-c", WRAPPER, os.path.join(ROOT, "mnist_mlp.py"), "--data-dir", args.data_dir,
            "--plot", os.path.join(scratch, "mnist_mlp.png"), "--save-model", os.path.join(scratch, "m.pt")],
        "import torch, torchvision only": [sys.executable, "-c", WRAPPER, "-c", "import torch, torchvision"],
    }
    names = list(commands)
    results = {name: [] for name in names}
    for round_number in range(args.rounds):
        order = names if round_number % 2 == 0 else names[::-1]
        for name in order:
            seconds, peak, before_shutdown, stdout = run(commands[name], env)
            results[name].append((seconds, peak, accuracy(stdout), before_shutdown))
            print(f"round {round_number + 1}: {name}: {seconds:.1f} s, {peak:.0f} MiB "
                  f"({before_shutdown:.0f} MiB before shutdown), accuracy {accuracy(stdout)}", flush=True)

    tutorial, ours = results[names[0]], results[names[1]]
    speedups = [t[0] / o[0] for t, o in zip(tutorial, ours, strict=True)]
    memory_ratios = [o[1] / t[1] for t, o in zip(tutorial, ours, strict=True)]
    before_shutdown_ratios = [o[3] / t[3] for t, o in zip(tutorial, ours, strict=True)]
    print(f"\n{args.rounds} rounds, medians, on the CPU\n")
    print("| pipeline | wall time | peak memory | peak before Python's shutdown | test accuracy |")
    print("| --- | --- | --- | --- | --- |")
    for name in names:
        runs = results[name]
        accuracies = [a for _, _, a, _ in runs if a is not None]
        shown = f"{statistics.mean(accuracies):.2f}%" if accuracies else "-"
        print(f"| {name} | {statistics.median(r[0] for r in runs):.1f} s "
              f"| {statistics.median(r[1] for r in runs):.0f} MiB | {statistics.median(r[3] for r in runs):.0f} MiB "
              f"| {shown} |")
    print(f"\nspeed-up of mnist_mlp.py, per round: {', '.join(f'{s:.1f}x' for s in speedups)}; "
          f"median {statistics.median(speedups):.1f}x")
    print(f"peak memory of mnist_mlp.py / tutorial-style, per round: "
          f"{', '.join(f'{r:.3f}' for r in memory_ratios)}; median {statistics.median(memory_ratios):.3f}")
    print(f"the same before Python's shutdown, per round: "
          f"{', '.join(f'{r:.3f}' for r in before_shutdown_ratios)}; median {statistics.median(before_shutdown_ratios):.3f}")

if __name__ == "__main__":
    main()
