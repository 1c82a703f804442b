"""How long one update of the drawing pad takes as the mouse moves (the network's new reading and
the repaint), this project's play/pad.py against the one-file pad of commit a18eef4, in one process.

    MPLBACKEND=Agg python benchmarks/drawing_pad.py      # headless: Agg draws, and a blit copies nothing
    python benchmarks/drawing_pad.py                     # in real windows, where there is a display (Xvfb too)
    python benchmarks/drawing_pad.py --against OLD/mnist_mlp.py   # another version's DrawingPad

Both pads get the same mouse events that a window would send them (a long zig-zag stroke, as
drawn by a fast hand) and each move is timed, the canvas's pending work included. Rounds
alternate, each pad first in every other round; medians of all moves. The network is untrained:
its weights do not change the time.
"""

import argparse
import contextlib
import importlib.util
import io
import os
import statistics
import subprocess
import sys
import tempfile
import time

import matplotlib.pyplot as plt
import torch
from matplotlib.backend_bases import KeyEvent, MouseButton, MouseEvent

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
import mnist_mlp  # noqa: E402
from play.pad import DrawingPad  # noqa: E402

OLD = "a18eef4"  # the last commit with the pad inside mnist_mlp.py


def send(figure, name, x, y, button=None):
    """A mouse event at (x, y) in pad pixels (0-200, y downwards); the pad is the figure's first axes."""
    screen_x, screen_y = figure.axes[0].transData.transform((x, y))
    figure.canvas.callbacks.process(name, MouseEvent(name, figure.canvas, screen_x, screen_y, button=button))


def time_moves(figure, moves):
    """Seconds per mouse move over one zig-zag stroke, the window's pending work included; then c."""
    send(figure, "button_press_event", 20, 20, button=MouseButton.LEFT)
    times = []
    for i in range(moves):
        x, y = (20 + 160 * (i % 2 == 1), 20 + 160 * i / moves) if i % 10 else (100, 100)
        start = time.perf_counter()
        send(figure, "motion_notify_event", x, y)
        figure.canvas.flush_events()  # a window paints what is pending
        times.append(time.perf_counter() - start)
    send(figure, "button_release_event", 100, 100, button=MouseButton.LEFT)
    figure.canvas.callbacks.process("key_press_event", KeyEvent("key_press_event", figure.canvas, "c"))
    return times


def old_module(path):
    """The mnist_mlp.py at PATH, or at commit a18eef4 of this repository, imported as a module."""
    if path is None:
        source = subprocess.run(["git", "-C", ROOT, "show", f"{OLD}:mnist_mlp.py"], capture_output=True,
                                text=True, check=True).stdout
        path = os.path.join(tempfile.mkdtemp(), "mnist_mlp_a18eef4.py")
        with open(path, "w") as file:
            file.write(source)
    spec = importlib.util.spec_from_file_location("old_mnist_mlp", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module, path


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--moves", type=int, default=100, help="mouse moves per round (default: 100)")
    parser.add_argument("--rounds", type=int, default=6, help="rounds of each pad (default: 6)")
    parser.add_argument("--against", metavar="PATH", help=f"another mnist_mlp.py (default: commit {OLD}'s)")
    args = parser.parse_args()
    torch.manual_seed(0)
    old, old_path = old_module(args.against)
    pads = {"play/pad.py": DrawingPad(mnist_mlp.Net()),  # kept referenced while timed
            f"old DrawingPad ({args.against or OLD})": old.DrawingPad(old.Net().eval(), torch.device("cpu"))}
    window = plt.get_backend().lower() != "agg"
    if window:
        plt.show(block=False)
        plt.pause(2)  # the windows open and draw themselves once
    for pad in pads.values():
        pad.figure.canvas.draw()
    times = {name: [] for name in pads}
    for round_number in range(args.rounds):
        order = list(pads.items())
        for name, pad in order if round_number % 2 == 0 else order[::-1]:  # each first in turn
            with contextlib.redirect_stdout(io.StringIO()):  # the pads print a line per stroke
                times[name] += time_moves(pad.figure, args.moves)
            pad.figure.canvas.draw()
    figure = next(iter(pads.values())).figure
    print(f"backend {plt.get_backend()}, window {figure.bbox.width:.0f}x{figure.bbox.height:.0f} pixels, "
          f"torch {torch.__version__} with {torch.get_num_threads()} threads, load {os.getloadavg()[0]:.1f}; "
          f"old pad from {old_path}")
    for name, taken in times.items():
        print(f"one update, {name}: median {1000 * statistics.median(taken):.1f} ms over {len(taken)} moves")
    plt.close("all")


if __name__ == "__main__":
    main()
