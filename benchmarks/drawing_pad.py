"""How long one update of the drawing pad (--draw) takes, as the mouse moves: the network's new
reading, and the repaint of the window.

    python benchmarks/drawing_pad.py                  # in a real window, when there is a display
    MPLBACKEND=Agg python benchmarks/drawing_pad.py   # headless: the same figure, drawn by Agg
    MPLBACKEND=Agg python benchmarks/drawing_pad.py --against OLD/mnist_mlp.py   # this pad against another's

It sends the pad the same mouse events a window would (a long zig-zag stroke) and times each move,
then repeats with blitting switched off (every update a full redraw), alternating the two.
The network is untrained: its weights do not change the time. Medians of all moves. With
--against, this file's pad and that file's (another version, e.g. a `git worktree` of an older
commit) are timed instead, in one process, alternating (each first in every other round), both
blitting.
"""

import argparse
import contextlib
import importlib.util
import io
import os
import statistics
import sys
import time

import matplotlib.pyplot as plt
import torch
from matplotlib.backend_bases import KeyEvent, MouseButton, MouseEvent

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import mnist_mlp  # noqa: E402


def send(figure, name, x, y, button=None):
    screen_x, screen_y = figure.axes[0].transData.transform((x, y))
    figure.canvas.callbacks.process(name, MouseEvent(name, figure.canvas, screen_x, screen_y, button=button))


def time_moves(figure, moves):
    """Seconds per mouse move over one zig-zag stroke, the window's pending work included."""
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


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--moves", type=int, default=100, help="mouse moves per round (default: 100)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of each kind (default: 3)")
    parser.add_argument("--against", metavar="PATH", help="another mnist_mlp.py, its pad timed against this one")
    args = parser.parse_args()
    torch.manual_seed(0)
    if args.against:
        return compare(args.against, args.moves, args.rounds)
    model = mnist_mlp.Net().eval()
    pad = mnist_mlp.DrawingPad(model, torch.device("cpu"))  # kept referenced: its handlers are held weakly
    figure = pad.figure
    window = plt.get_backend().lower() != "agg"
    if window:
        plt.show(block=False)
        plt.pause(1)  # the window opens and draws itself once
    else:
        figure.canvas.draw()
    canvas_class = type(figure.canvas)
    can_blit = canvas_class.supports_blit
    results = {"blitting (what --draw does)": [], "full redraw every move": []}
    for _ in range(args.rounds):
        for kind in results:
            canvas_class.supports_blit = can_blit and kind.startswith("blitting")  # off: the pad redraws all
            with contextlib.redirect_stdout(io.StringIO()):  # the pad prints a line per stroke
                results[kind] += time_moves(figure, args.moves)
            figure.canvas.draw()
    ink = torch.zeros(mnist_mlp.PAD_PIXELS, mnist_mlp.PAD_PIXELS)
    ink[30:170, 90:110] = 1
    reading = []
    for _ in range(200):
        start = time.perf_counter()
        with torch.no_grad():
            model(mnist_mlp.centre_digit(ink)).exp()
        reading.append(time.perf_counter() - start)
    print(f"backend {plt.get_backend()}, window {figure.bbox.width:.0f}x{figure.bbox.height:.0f} pixels, "
          f"torch {torch.get_num_threads()} threads")
    print(f"the network's reading alone (centre_digit + forward): {1000 * statistics.median(reading):.1f} ms")
    for kind, times in results.items():
        print(f"one update, {kind}: median {1000 * statistics.median(times):.1f} ms over {len(times)} moves")
    plt.close(figure)


def compare(path, moves, rounds):
    """This file's pad against PATH's, alternating rounds of MOVES moves in one process: medians."""
    spec = importlib.util.spec_from_file_location("other_mnist_mlp", path)
    other = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(other)
    pads = {"this": mnist_mlp.DrawingPad(mnist_mlp.Net().eval(), torch.device("cpu")),
            path: other.DrawingPad(other.Net().eval(), torch.device("cpu"))}  # kept referenced
    times = {name: [] for name in pads}
    for pad in pads.values():
        pad.figure.canvas.draw()
    for round_number in range(rounds):
        order = list(pads.items())
        for name, pad in order if round_number % 2 == 0 else order[::-1]:  # each first in turn
            with contextlib.redirect_stdout(io.StringIO()):
                times[name] += time_moves(pad.figure, moves)
            pad.figure.canvas.draw()
    for name, taken in times.items():
        print(f"one update, {name}: median {1000 * statistics.median(taken):.1f} ms over {len(taken)} moves")


if __name__ == "__main__":
    main()
