"""Tests of what changes in a notebook, and of the pad's life whatever the backend: the pad stays
alive when plt.show() returns at once (a notebook, plt.ion()) and lets go when its figure closes;
the pen lifts when a release was missed; show_pictures() leaves the pad open; the progress bar is
on in a terminal and a notebook, off in a pipe. Events are matplotlib's own, sent to the figure as
a window would send them (as in test_drawing_pad.py)."""

import gc
import io
import sys
import types
import weakref

import matplotlib.pyplot as plt
import pytest
import torch
import tqdm
from matplotlib.backend_bases import CloseEvent, MouseButton, MouseEvent

import mnist_mlp

CPU = torch.device("cpu")


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def mouse(figure, name, x, y, button=None, buttons=None):
    """Send a mouse event at (x, y) in pad pixels (0-200, y downwards); buttons: those held, on a move."""
    screen_x, screen_y = figure.axes[0].transData.transform((x, y))
    event = MouseEvent(name, figure.canvas, screen_x, screen_y, button=button, buttons=buttons)
    figure.canvas.callbacks.process(name, event)


def ink(figure):
    return figure.axes[0].images[0].get_array()


def pad_handlers(figure):
    """The DrawingPad methods connected to the figure's events (held weakly: the pad's, while it lives)."""
    return [callback() for callbacks in figure.canvas.callbacks.callbacks.values() for callback in callbacks.values()
            if isinstance(getattr(callback(), "__self__", None), mnist_mlp.DrawingPad)]


def open_without_blocking(model_path, monkeypatch):
    """draw_digits() where plt.show() returns at once, as under plt.ion(): the pad's figure."""
    monkeypatch.setattr(plt, "show", lambda *args, **kwargs: None)
    mnist_mlp.draw_digits(mnist_mlp.load_model(model_path, CPU), CPU)
    figure = plt.figure(plt.get_fignums()[-1])
    figure.canvas.draw()
    return figure


def the_pad(figure):
    return pad_handlers(figure)[0].__self__


def test_the_pad_stays_alive_without_a_blocking_show_and_lets_go_on_close(trained_model, monkeypatch, capsys):
    figure = open_without_blocking(trained_model, monkeypatch)
    pad = weakref.ref(the_pad(figure))
    gc.collect()  # nothing of the test's holds the pad: only what draw_digits() left
    assert pad() is not None and len(pad_handlers(figure)) == 5
    mouse(figure, "button_press_event", 100, 30, button=MouseButton.LEFT)
    mouse(figure, "motion_notify_event", 100, 170, buttons={MouseButton.LEFT})
    mouse(figure, "button_release_event", 100, 170, button=MouseButton.LEFT)
    assert ink(figure)[100, 100] == 1 and "drawing: " in capsys.readouterr().out
    figure.canvas.callbacks.process("close_event", CloseEvent("close_event", figure.canvas))  # the window closes
    gc.collect()
    assert pad() is None and pad_handlers(figure) == []  # let go, and no handler left
    assert not figure.canvas.callbacks.callbacks.get("close_event")  # nor the function that held it


def test_q_lets_the_pad_go_and_closes_its_figure(trained_model, monkeypatch):
    figure = open_without_blocking(trained_model, monkeypatch)
    pad = weakref.ref(the_pad(figure))
    pad().on_key(types.SimpleNamespace(key="q"))
    gc.collect()
    assert not plt.fignum_exists(figure.number) and pad() is None and pad_handlers(figure) == []


def test_a_move_with_no_button_held_lifts_the_pen(trained_model, monkeypatch, capsys):
    figure = open_without_blocking(trained_model, monkeypatch)
    mouse(figure, "button_press_event", 100, 30, button=MouseButton.LEFT)
    mouse(figure, "motion_notify_event", 100, 100, buttons={MouseButton.LEFT})
    # The button was let go outside the window: no release came, and the next move holds nothing.
    mouse(figure, "motion_notify_event", 30, 170, buttons=set())
    mouse(figure, "motion_notify_event", 170, 170, buttons=set())
    drawn = ink(figure)
    assert drawn[60, 100] == 1 and drawn[170, 30] == 0 and drawn[170, 170] == 0
    assert capsys.readouterr().out.count("drawing: ") == 1  # the stroke ended, and was read once
    assert not the_pad(figure).pen_down


def test_show_pictures_leaves_the_pad_open_and_closes_the_rest(trained_model, monkeypatch):
    figure = open_without_blocking(trained_model, monkeypatch)
    picture = plt.figure()
    mnist_mlp.show_pictures()
    assert plt.fignum_exists(figure.number) and not plt.fignum_exists(picture.number)
    assert len(pad_handlers(figure)) == 5


@pytest.fixture
def widget_notebook(monkeypatch):
    """ipympl's backend, as after %matplotlib widget; what it would show in the cell's output, in order."""
    pytest.importorskip("ipympl", reason="ipympl is not installed (pip install ipympl)")
    import IPython.display
    import ipympl.backend_nbagg
    shown = []
    monkeypatch.setattr(IPython.display, "display", lambda *objects: shown.extend(objects))
    monkeypatch.setattr(ipympl.backend_nbagg, "display", lambda *objects: shown.extend(objects))
    plt.switch_backend("module://ipympl.backend_nbagg")
    yield shown
    plt.close("all")
    plt.switch_backend("agg")


def test_in_a_widget_notebook_the_pad_fits_a_cell_and_writes_its_readings_below_it(trained_model, capsys,
                                                                                   widget_notebook):
    mnist_mlp.draw_digits(mnist_mlp.load_model(trained_model, CPU), CPU)
    canvas, log = widget_notebook
    figure = canvas.figure
    assert not (canvas.toolbar_visible or canvas.header_visible or canvas.footer_visible or canvas.resizable)
    assert figure.bbox.width <= 750 and plt.get_fignums() == [figure.number]
    mouse(figure, "button_press_event", 100, 30, button=MouseButton.LEFT)
    mouse(figure, "motion_notify_event", 100, 170, buttons={MouseButton.LEFT})
    mouse(figure, "button_release_event", 100, 170, button=MouseButton.LEFT)
    assert [output["text"][:9] for output in log.outputs] == ["drawing: "]  # one stroke, one line
    printed = capsys.readouterr().out
    assert "drawing" not in printed  # below the pad, not in JupyterLab's log
    assert "left mouse button" not in printed  # the instructions once, on the figure


def test_in_a_widget_notebook_show_pictures_shows_each_picture_once_and_not_the_pad(trained_model,
                                                                                    widget_notebook):
    mnist_mlp.draw_digits(mnist_mlp.load_model(trained_model, CPU), CPU)
    pad = plt.gcf()
    picture = plt.figure()
    mnist_mlp.show_pictures()
    mnist_mlp.show_pictures()  # as a second %run does: the picture already shown is not shown again
    assert [type(shown).__name__ for shown in widget_notebook] == ["Canvas", "Output", "Canvas"]
    assert widget_notebook[2] is picture.canvas
    assert plt.get_fignums() == [pad.number, picture.number]  # left open: a closed widget stops drawing


class FakeKernel:
    """What IPython's get_ipython() returns in a notebook: a shell with a kernel."""
    kernel = object()


@pytest.mark.parametrize("where", ["a pipe", "a terminal", "a notebook without ipywidgets", "a notebook"])
def test_the_progress_bar_is_on_in_a_terminal_and_a_notebook_and_off_in_a_pipe(monkeypatch, where):
    output = io.StringIO()
    output.isatty = lambda: where == "a terminal"
    monkeypatch.setattr(sys, "stdout", output)
    if where.startswith("a notebook"):
        monkeypatch.setattr(pytest.importorskip("IPython", reason="IPython is not installed"), "get_ipython",
                            FakeKernel)
    if where == "a notebook":
        pytest.importorskip("ipywidgets", reason="ipywidgets is not installed")
        from tqdm import notebook
        monkeypatch.setattr(notebook, "display", lambda *objects: None)  # no notebook to show it in
    elif where == "a notebook without ipywidgets":
        monkeypatch.setattr(mnist_mlp.importlib.util, "find_spec", lambda name: None)
    bar = mnist_mlp.progress_bar(range(5), 1, 3)
    shown = not bar.disable  # (tqdm disables a bar once it is finished)
    assert list(bar) == list(range(5))
    if where == "a notebook":
        assert isinstance(bar, notebook.tqdm_notebook)
    else:
        assert type(bar) is tqdm.tqdm and shown == (where != "a pipe")
        assert ("Epoch 1/3" in output.getvalue()) == (where != "a pipe")
        assert "Traceback" not in output.getvalue() and "Warning" not in output.getvalue()


def test_ipython_in_a_terminal_is_no_notebook(monkeypatch):
    monkeypatch.setitem(sys.modules, "IPython", types.SimpleNamespace(get_ipython=lambda: types.SimpleNamespace()))
    assert not mnist_mlp.in_notebook()
    monkeypatch.delitem(sys.modules, "IPython")
    assert not mnist_mlp.in_notebook()  # plain Python
