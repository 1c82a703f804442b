"""The drawing pad, headless: matplotlib's own mouse and key events sent through the pad's canvas,
as a window would send them, and what the network reads from the strokes."""

import gc
import re

import matplotlib.pyplot as plt
import pytest
from matplotlib.backend_bases import KeyEvent, MouseButton, MouseEvent

from play.pad import DrawingPad, NoWindowError, open_pad
from play.weights import load_network

SEVEN = [(45, 35), (150, 35), (85, 170)]  # in pad pixels (0-200, y downwards): one stroke
ONE = [(100, 30), (100, 170)]
LINE = re.compile(r"drawing: (\d) \(\d{1,3}\.\d%\)")


@pytest.fixture
def pad(subset_weights):
    pad = DrawingPad(load_network(subset_weights))
    pad.figure.canvas.draw()  # as a window does when it opens: the background saved for blitting
    yield pad
    plt.close("all")


def mouse(figure, name, x, y, button=None):
    """A mouse event at (x, y) in pad pixels (the pad is the figure's first axes); (-50, y) is off it."""
    screen_x, screen_y = figure.axes[0].transData.transform((x, y))
    figure.canvas.callbacks.process(name, MouseEvent(name, figure.canvas, screen_x, screen_y, button=button))


def key(figure, name, x=100, y=100):
    screen_x, screen_y = figure.axes[0].transData.transform((x, y))
    figure.canvas.callbacks.process("key_press_event", KeyEvent("key_press_event", figure.canvas, name,
                                                                screen_x, screen_y))


def stroke(figure, points, steps=4):
    """Press the left button at the first point, move through the others in small steps, let go."""
    mouse(figure, "button_press_event", *points[0], button=MouseButton.LEFT)
    for (x0, y0), (x1, y1) in zip(points, points[1:]):
        for step in range(1, steps + 1):
            mouse(figure, "motion_notify_event", x0 + (x1 - x0) * step / steps, y0 + (y1 - y0) * step / steps)
    mouse(figure, "button_release_event", *points[-1], button=MouseButton.LEFT)


def shown(pad):
    """What the figure shows: the ink on the pad, the 28x28 beside it, the bars, the answer."""
    return (pad.pad_image.get_array()[..., 0].max() / 255, pad.seen_image.get_array(),
            [bar.get_height() for bar in pad.bars], pad.answer.get_text())


def test_a_seven_and_a_one_are_read_as_drawn_and_printed_after_each_stroke(pad, capsys):
    for digit, points in ((7, SEVEN), (1, ONE)):
        stroke(pad.figure, points)
        ink, seen, bars, answer = shown(pad)
        line = capsys.readouterr().out
        reading = LINE.fullmatch(line.strip())
        assert reading and reading[1] == str(digit) and line.count("\n") == 1, line  # one line a stroke
        assert answer == line.strip().removeprefix("drawing: ")  # the figure says what the line says
        assert bars.index(max(bars)) == digit and sum(bars) == pytest.approx(1, abs=1e-4)
        assert ink == 1 and seen.shape == (28, 28) and seen.max() == pytest.approx(1, abs=0.01)
        key(pad.figure, "c")


def test_the_network_reads_the_drawing_while_the_button_is_held(pad, capsys):
    mouse(pad.figure, "button_press_event", *SEVEN[0], button=MouseButton.LEFT)
    mouse(pad.figure, "motion_notify_event", *SEVEN[1])
    first_bars = shown(pad)[2]
    mouse(pad.figure, "motion_notify_event", *SEVEN[2])
    assert max(first_bars) > 0 and shown(pad)[2] != first_bars
    assert capsys.readouterr().out == ""  # the line comes when the stroke ends


@pytest.mark.parametrize("clear", ["right-click", "c"])
def test_clearing_blanks_the_pad_and_its_reading(pad, capsys, clear):
    stroke(pad.figure, SEVEN)
    capsys.readouterr()
    if clear == "c":
        key(pad.figure, "c")
    else:
        mouse(pad.figure, "button_press_event", 100, 100, button=MouseButton.RIGHT)
    ink, seen, bars, answer = shown(pad)
    assert ink == 0 and seen.max() == 0 and max(bars) == 0 and answer == ""
    assert capsys.readouterr().out == ""
    stroke(pad.figure, ONE)  # and it draws again
    assert LINE.fullmatch(capsys.readouterr().out.strip())[1] == "1"


def test_a_stroke_ends_where_it_leaves_the_pad(pad, capsys):
    mouse(pad.figure, "button_press_event", 100, 30, button=MouseButton.LEFT)
    mouse(pad.figure, "motion_notify_event", 100, 170)
    mouse(pad.figure, "motion_notify_event", -50, 100)  # off the pad: its release may never come
    assert LINE.fullmatch(capsys.readouterr().out.strip())
    before = pad.pad_image.get_array().copy()
    mouse(pad.figure, "motion_notify_event", 30, 100)  # back on the pad, no button pressed
    mouse(pad.figure, "motion_notify_event", 170, 100)
    assert (pad.pad_image.get_array() == before).all() and capsys.readouterr().out == ""


def test_q_closes_the_pad_and_no_other_key_changes_it(pad):
    stroke(pad.figure, ONE)
    bar_axes = pad.bars[0].axes
    over_bars = pad.pad.transData.inverted().transform(bar_axes.transAxes.transform((0.5, 0.5)))
    for name in ("l", "k", "g"):  # matplotlib's own keys, for the axes under the mouse: log scales, grid
        key(pad.figure, name, *over_bars)
    assert bar_axes.get_yscale() == bar_axes.get_xscale() == "linear"
    assert not any(line.get_visible() for line in bar_axes.get_xgridlines() + bar_axes.get_ygridlines())
    assert shown(pad)[0] == 1 and plt.fignum_exists(pad.figure.number)
    key(pad.figure, "q")
    assert not plt.fignum_exists(pad.figure.number)


@pytest.mark.parametrize("backend, says", [("agg", "python -m play read PICTURE"),
                                           ("module://matplotlib_inline.backend_inline", "%matplotlib widget")])
def test_open_pad_says_what_to_do_where_no_window_can_open(subset_weights, capsys, monkeypatch, backend, says):
    if backend != "agg":  # a notebook's inline pictures, where IPython is not installed
        monkeypatch.setattr(plt, "get_backend", lambda: backend)
    with pytest.raises(NoWindowError, match=re.escape(says)):
        open_pad(load_network(subset_weights))
    assert plt.get_fignums() == [] and capsys.readouterr().out == ""  # nothing shown or printed first


def test_the_pad_lives_as_long_as_its_figure(subset_weights, capsys):
    figure = DrawingPad(load_network(subset_weights)).figure  # the pad itself not kept, as in a notebook
    gc.collect()
    figure.canvas.draw()
    stroke(figure, ONE)
    assert LINE.fullmatch(capsys.readouterr().out.strip())[1] == "1"
    plt.close(figure)
