"""The drawing pad (`python -m play draw`, `play.draw()`): draw a digit with the mouse and watch the
network read it as you draw, in a desktop window or, after `%matplotlib widget`, in a notebook cell."""

import matplotlib.pyplot as plt
import torch
from matplotlib.backend_bases import MouseButton
from matplotlib.backends import BackendFilter, backend_registry

from mnist_mlp import MNIST_MEAN, MNIST_STD
from play.pictures import centre_digit

SIDE = 200  # the pad is a 200x200 picture, made 28x28 for the network like any other picture
PEN_RADIUS = 7  # in pad pixels: thick, and still thin enough that a small digit stays readable
HOW_TO_DRAW = "Draw a digit: hold the left mouse button. Right-click or c: clear. q: quit"


class NoWindowError(Exception):
    """No window can open here to draw in; the message says what to do instead, in one line."""


def open_pad(network):
    """Open the drawing pad for `network` (a trained Net). In a desktop window, return once it is
    closed (or q is pressed); in a notebook, show it below the cell and return at once."""
    in_notebook = shown_in_notebook()  # first: NoWindowError before anything is shown or printed
    pad = DrawingPad(network, figsize=(7.5, 4.5) if in_notebook else (10, 6))  # 750 pixels fit a cell
    if in_notebook:
        pad.show_in_notebook()
    else:
        print(f"{HOW_TO_DRAW}; or close the window.", flush=True)
        plt.show()
    return pad


def shown_in_notebook():
    """True for a notebook's live figures (ipympl), False for a desktop window; NoWindowError where
    matplotlib's backend (the part that draws the figures) cannot take the mouse."""
    backend = plt.get_backend().lower()
    if "ipympl" in backend or backend == "widget":
        return True
    if backend in backend_registry.list_builtin(BackendFilter.INTERACTIVE):
        return False
    if "inline" in backend:
        raise NoWindowError("the drawing pad needs a live figure, and a notebook's inline pictures cannot take "
                            "the mouse: run `%matplotlib widget` first (pip install ipympl)")
    raise NoWindowError(f"the drawing pad needs a window, and none can open here: matplotlib's backend is "
                        f"{plt.get_backend()}, which draws into files only (no display, or MPLBACKEND chose it); "
                        "draw your digit in a paint program and read it with `python -m play read PICTURE`")


class DrawingPad:
    """The pad on the left; on the right, the digit as the network sees it and its ten probabilities, read
    again at each move while the left button is held. Its methods handle the figure's events."""

    def __init__(self, network, figsize=(10, 6)):
        self.network = network.eval()
        self.ink = torch.zeros(SIDE, SIDE)  # what has been drawn: 0 to 1, bright on black
        # The ink as the pad shows it, grey in RGBA bytes: the image artist draws these without
        # colour-mapping them, in about half the time it takes for floats.
        self.pixels = torch.tensor([0, 0, 0, 255], dtype=torch.uint8).repeat(SIDE, SIDE, 1)  # black, opaque
        self.pen_at = None  # where the stroke being drawn has got to; None between strokes
        self.background = None  # the canvas without the changing artists, for blitting
        self.write = lambda line: print(line, flush=True)  # where the line read after each stroke goes
        # rc "None": no toolbar, whose pan and zoom would take the mouse. ioff: a notebook shows a figure
        # made in interactive mode by itself at the end of the cell, a second pad under show_in_notebook()'s.
        with plt.rc_context({"toolbar": "None"}), plt.ioff():
            self.figure = plt.figure(figsize=figsize)
        self.lay_out()
        canvas = self.figure.canvas
        canvas.manager.set_window_title(HOW_TO_DRAW)
        # matplotlib's own keys (l: log scale, g: grid, s: save, ...) would change the picture.
        canvas.mpl_disconnect(canvas.manager.key_press_handler_id)
        for name, handler in (("button_press_event", self.on_press), ("motion_notify_event", self.on_move),
                              ("button_release_event", self.on_release), ("figure_leave_event", self.lift_pen),
                              ("key_press_event", self.on_key)):
            canvas.mpl_connect(name, handler)
        # The canvas holds methods weakly and functions strongly: this lambda keeps the pad alive
        # for as long as its figure, also where open_pad() returns at once (a notebook).
        canvas.mpl_connect("draw_event", lambda event: self.on_draw(event))

    def lay_out(self):
        figure = self.figure
        figure.text(0.02, 0.95, HOW_TO_DRAW, fontsize=11)
        self.pad = figure.add_axes((0.02, 0.03, 0.56, 0.89))  # left, bottom, width, height: fractions
        # extent: mouse positions come in pad pixels, y downwards like rows. bilinear: smooth edges
        # when the 200x200 is resampled to the screen's pixels ("nearest" is faster, and jagged).
        self.pad_image = self.pad.imshow(self.pixels.numpy(), interpolation="bilinear", extent=(0, SIDE, SIDE, 0))
        self.pad.set(xticks=[], yticks=[])
        seen = figure.add_axes((0.64, 0.62, 0.15, 0.25))
        self.seen_image = seen.imshow(torch.zeros(28, 28).numpy(), cmap="gray", vmin=0, vmax=1)
        seen.set_title("what the network sees", fontsize=9)
        seen.axis("off")
        self.answer = seen.text(1.2, 0.5, "", fontsize=16, va="center", transform=seen.transAxes)
        bar_axes = figure.add_axes((0.64, 0.1, 0.33, 0.42))
        self.bars = bar_axes.bar(range(10), [0] * 10, color="tab:gray")
        bar_axes.set(xticks=range(10), ylim=(0, 1), xlabel="digit", ylabel="probability")
        # Animated artists are left out of full redraws: each move repaints only them, over a
        # saved copy of the rest of the canvas (blitting), where the backend can blit.
        self.changing = [self.pad_image, self.seen_image, self.answer, *self.bars]
        for artist in self.changing:
            artist.set_animated(True)

    def show_in_notebook(self):
        """Show the pad below the cell, without ipympl's toolbar, header and footer; the lines read under it."""
        from IPython.display import display  # there in any notebook, as ipywidgets is with ipympl
        from ipywidgets import Output
        canvas = self.figure.canvas
        canvas.toolbar_visible = canvas.header_visible = canvas.footer_visible = canvas.resizable = False
        # ipympl runs the handlers outside the cell, where print() would go to JupyterLab's log
        # console: an output widget under the pad takes the lines instead.
        log = Output()
        self.write = lambda line: log.append_stdout(line + "\n")
        display(canvas, log)

    def read_drawing(self, blank=False):
        """Let the network read the drawing, and show the reading (none, for a blank pad)."""
        seen, probabilities, best = torch.zeros(28, 28), torch.zeros(10), None
        if not blank:
            digit = centre_digit(self.ink)
            with torch.no_grad():
                probabilities = self.network(digit).exp()[0]
            seen, best = digit[0, 0] * MNIST_STD + MNIST_MEAN, int(probabilities.argmax())  # seen: 0-1, to show
        for number, (bar, probability) in enumerate(zip(self.bars, probabilities.tolist())):
            bar.set_height(probability)
            bar.set_color("tab:blue" if number == best else "tab:gray")
        self.answer.set_text("" if best is None else f"{best} ({probabilities[best]:.1%})")
        self.pad_image.set_data(self.pixels.numpy())
        self.seen_image.set_data(seen.numpy())
        self.repaint()

    def repaint(self):
        canvas = self.figure.canvas
        if self.background is None or not canvas.supports_blit:  # ipympl's canvas cannot blit
            canvas.draw_idle()
            return
        canvas.restore_region(self.background)
        for artist in self.changing:
            self.figure.draw_artist(artist)
        canvas.blit(self.figure.bbox)

    def on_draw(self, event):
        """After a full redraw (the window opened, or was resized): save it, and add the animated artists."""
        if self.figure.canvas.supports_blit:
            self.background = self.figure.canvas.copy_from_bbox(self.figure.bbox)
        for artist in self.changing:
            self.figure.draw_artist(artist)

    def stroke_to(self, x, y):
        """Ink a line PEN_RADIUS thick from where the pen was to (x, y), with soft edges."""
        start_x, start_y = self.pen_at or (x, y)
        # Only pixels within the pen's reach of the line can change: its box, widened by the pen.
        reach = PEN_RADIUS + 1
        top, left = max(int(min(start_y, y)) - reach, 0), max(int(min(start_x, x)) - reach, 0)
        bottom, right = min(int(max(start_y, y)) + reach + 1, SIDE), min(int(max(start_x, x)) + reach + 1, SIDE)
        rows = torch.arange(top, bottom)[:, None] + 0.5  # pixel centres, as a column and a row
        columns = torch.arange(left, right)[None, :] + 0.5
        along_x, along_y = x - start_x, y - start_y
        # How far along the line (0 at its start, 1 at its end) the nearest point to each pixel is;
        # a click without a move is a line of length 0, hence the 1e-9.
        t = ((columns - start_x) * along_x + (rows - start_y) * along_y) / max(along_x**2 + along_y**2, 1e-9)
        t = t.clamp(0, 1)
        distance = torch.hypot(columns - start_x - t * along_x, rows - start_y - t * along_y)
        box = self.ink[top:bottom, left:right]  # a view: writing to it writes to the ink
        # Full ink within the radius, fading over one more pixel; maximum, so crossing a stroke keeps it.
        torch.maximum(box, (PEN_RADIUS + 0.5 - distance).clamp(0, 1), out=box)
        self.pixels[top:bottom, left:right, :3] = (box * 255).byte()[..., None]
        self.pen_at = (x, y)

    def on_press(self, event):
        if event.button == MouseButton.LEFT and event.inaxes is self.pad:
            self.pen_at = None  # a new stroke, not joined to the last
            self.stroke_to(event.xdata, event.ydata)
            self.read_drawing()
        elif event.button == MouseButton.RIGHT:
            self.clear()

    def on_move(self, event):
        if self.pen_at is None:
            return
        # Off the pad, the stroke ends: a release out there (out of the window, or the browser)
        # may never come, and the pen must not stay down.
        if event.inaxes is not self.pad:
            self.lift_pen()
            return
        self.stroke_to(event.xdata, event.ydata)
        self.read_drawing()

    def on_release(self, event):
        if event.button == MouseButton.LEFT:
            self.lift_pen()

    def lift_pen(self, event=None):
        """End the stroke, and write the reading: to the terminal, or under the pad in a notebook."""
        if self.pen_at is None:
            return
        self.pen_at = None
        self.write(f"drawing: {self.answer.get_text()}")  # as read at the last move: nothing changed since

    def clear(self):
        self.ink.zero_()
        self.pixels[..., :3] = 0
        self.pen_at = None
        self.read_drawing(blank=True)

    def on_key(self, event):
        if event.key == "c":
            self.clear()
        elif event.key == "q":
            plt.close(self.figure)  # in a window, plt.show() then returns
