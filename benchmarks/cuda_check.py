"""Check mnist_mlp.py's CUDA path on a machine with an NVIDIA GPU, and time it against the CPU.

1. Trains two epochs in this process with torch.cuda.set_sync_debug_mode("warn"), which warns at
   every operation that makes the CPU wait for the GPU, and counts them by source line. The
   lesson reads each batch's loss with loss.item() and counts right answers with .item(), as
   PyTorch's own examples do: one wait per training batch and one per batch or slice measured
   after each epoch are expected, and this shows what they cost (compare the bare steps, 2.).
2. Times an epoch's worth of bare training steps on one fixed batch (no data loading, no
   schedule): the floor that Python and kernel launches set for this network on this machine.
3. Runs the whole default program, as separate processes, on CUDA and on the CPU, alternating,
   and prints the medians of wall time and per-epoch time, the accuracy, and their ratio.

    python benchmarks/cuda_check.py --data-dir ../shared/mnist --rounds 3
"""

import argparse
import collections
import math
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import warnings

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)


def count_syncs(data_dir):
    import torch

    import mnist_mlp

    sync_lines = collections.Counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        torch.cuda.set_sync_debug_mode("warn")
        try:
            mnist_mlp.run(["--data-dir", data_dir, "--device", "cuda", "--epochs", "2", "--no-plot"])
        finally:
            torch.cuda.set_sync_debug_mode("default")
    for warning in caught:
        if "synchroniz" in str(warning.message):
            sync_lines[f"{os.path.basename(warning.filename)}:{warning.lineno}"] += 1
    print("\nOperations that made the CPU wait for the GPU, by source line (2 epochs):")
    for line, count in sync_lines.most_common():
        print(f"  {line}: {count}")
    return sync_lines


def time_bare_steps(steps, batch_size):
    import torch

    import mnist_mlp

    model = mnist_mlp.Net().cuda()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, fused=True)
    images = torch.randn(batch_size, 1, 28, 28, device="cuda")
    labels = torch.randint(0, 10, (batch_size,), device="cuda")
    times = []
    for _ in range(3):
        torch.cuda.synchronize()
        start = time.perf_counter()
        for _ in range(steps):
            optimizer.zero_grad()
            torch.nn.functional.nll_loss(model(images), labels).backward()
            optimizer.step()
        torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    print(f"\n{steps} bare training steps on one batch of {batch_size}: "
          f"{', '.join(f'{t:.2f}' for t in times)} s (the first includes warm-up)")


def timed_run(command):
    start = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, env=dict(os.environ, MPLBACKEND="Agg"))
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        sys.exit(f"{' '.join(command)} failed:\n{result.stderr}")
    epoch_line = r"^Epoch \d+/\d+: loss [\d.]+, training accuracy [\d.]+%, test accuracy [\d.]+% \(([\d.]+) s\)$"
    epochs = [float(s) for s in re.findall(epoch_line, result.stdout, re.MULTILINE)]
    accuracy = re.search(r"Test accuracy: ([\d.]+)%", result.stdout).group(1)
    device = re.search(r"Using device: (\S+)", result.stdout).group(1)
    return seconds, epochs, accuracy, device


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=os.environ.get("MNIST_DATA", "data"))
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    import torch

    import mnist_mlp

    if not torch.cuda.is_available():
        sys.exit("no CUDA GPU here")
    print(f"torch {torch.__version__}, GPU {torch.cuda.get_device_name()}")
    count_syncs(args.data_dir)
    batch_size = mnist_mlp.parse_args([]).batch_size  # the default, as a plain run uses it
    time_bare_steps(steps=math.ceil(60_000 / batch_size), batch_size=batch_size)  # one epoch's worth

    plot = os.path.join(tempfile.mkdtemp(), "prediction.png")
    script = os.path.join(ROOT, "mnist_mlp.py")
    results = {"cuda": [], "cpu": []}
    for round_number in range(args.rounds):
        for device in (["cuda", "cpu"] if round_number % 2 == 0 else ["cpu", "cuda"]):
            seconds, epochs, accuracy, used = timed_run(
                [sys.executable, script, "--data-dir", args.data_dir, "--device", device, "--plot", plot])
            assert used.startswith(device), used
            results[device].append((seconds, statistics.median(epochs), accuracy))
            print(f"round {round_number + 1}, {device}: {seconds:.2f} s whole run, epochs {epochs} s, "
                  f"test accuracy {accuracy}%", flush=True)
    print("\n| device | whole run (median) | one epoch (median) | test accuracy |")
    print("| --- | --- | --- | --- |")
    for device, runs in results.items():
        print(f"| {device} | {statistics.median(r[0] for r in runs):.2f} s | "
              f"{statistics.median(r[1] for r in runs):.2f} s | {', '.join(sorted({r[2] for r in runs}))}% |")
    ratios = [cpu[0] / cuda[0] for cuda, cpu in zip(results["cuda"], results["cpu"], strict=True)]
    print(f"whole run, cpu / cuda per round: {', '.join(f'{r:.2f}' for r in ratios)}")


if __name__ == "__main__":
    main()
