"""The notebook recipes of README.md, checked in a real browser: headless Chromium drives JupyterLab,
runs the cells a learner would, and draws on the pad with real pointer events (selenium's
ActionChains, so the browser makes the mouse events, with the buttons held).

    python -m venv --system-site-packages venv && venv/bin/pip install jupyterlab ipympl selenium
    apt-get install chromium chromium-driver
    venv/bin/python benchmarks/notebook_browser.py --data-dir DATA --out shots/

The notebook, in a folder with a copy of mnist_mlp.py, play/ and docs/seven.png: `%env MNIST_DATA=DATA`;
`%run mnist_mlp.py --epochs 1` (a progress bar while it trains? one picture below the cell?);
`%matplotlib widget`; `import play; play.draw(model)` (exactly one figure, no toolbar, as wide as
the cell at most; then a 7 drawn with the mouse: ink, the inset following the stroke while the
button is held, "drawing: 7" below the pad; a right-click, and after another 7 `c`, each leaving
the pad black); `play.read(model, "seven.png")` and `play.inside(model, DATA)` (a picture each,
and still one pad above). It prints one line per check and exits 1 if one failed; where JupyterLab,
ipympl, selenium or Chromium is missing it says which and exits 0 (skipped). Screenshots go to --out.
"""

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SEVEN = [(45, 35), (150, 35), (85, 170)]  # in pad pixels (0-200, y downwards), as in tests/test_pad.py
FIGURE = (0.02, 0.03, 0.56, 0.89)  # the pad's box in the figure, as DrawingPad.lay_out() places it
INSET = (0.66, 0.16, 0.77, 0.35)  # inside "what the network sees", as fractions of the canvas from its top left
PAD = (0.05, 0.1, 0.55, 0.95)  # well inside the pad
CHROMIUM_FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                  "--disable-background-networking", "--disable-component-update", "--no-first-run",
                  "--window-size=1280,1100")


def missing():
    """What this check needs and is not here, as a sentence; None if all is here."""
    import importlib.util
    needs = [name for name in ("jupyterlab", "ipympl", "selenium") if importlib.util.find_spec(name) is None]
    needs += [tool for tool in ("chromium", "chromedriver") if shutil.which(tool) is None]
    return f"skipped: not installed here: {', '.join(needs)}" if needs else None


def write_notebook(folder, data_dir):
    cells = [f"%env MNIST_DATA={data_dir}", "%run mnist_mlp.py --epochs 1", "%matplotlib widget",
             "import play\nplay.draw(model)", 'play.read(model, "seven.png")', f'play.inside(model, "{data_dir}")']
    notebook = {"nbformat": 4, "nbformat_minor": 5, "metadata": {"kernelspec": {
        "name": "python3", "display_name": "Python 3", "language": "python"}},
        "cells": [{"cell_type": "code", "metadata": {}, "source": cell, "outputs": [], "execution_count": None,
                   "id": f"cell{index}"} for index, cell in enumerate(cells)]}
    with open(os.path.join(folder, "check.ipynb"), "w") as file:
        json.dump(notebook, file)
    shutil.copy(os.path.join(ROOT, "mnist_mlp.py"), folder)
    shutil.copy(os.path.join(ROOT, "docs", "seven.png"), folder)
    shutil.copytree(os.path.join(ROOT, "play"), os.path.join(folder, "play"),
                    ignore=shutil.ignore_patterns("__pycache__"))
    return len(cells)


def start_jupyterlab(folder):
    """JupyterLab serving FOLDER on a free port, its app exposed to the page's scripts: (process, url)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # A configuration of its own, in FOLDER: without the "get notified about Jupyter news?" box over the cells.
    config = os.path.join(folder, ".jupyter")
    os.makedirs(os.path.join(config, "labconfig"))
    with open(os.path.join(config, "labconfig", "page_config.json"), "w") as file:
        json.dump({"disabledExtensions": {"@jupyterlab/apputils-extension:announcements": True}}, file)
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={port}", "--ServerApp.token=check",
         f"--ServerApp.root_dir={folder}", "--LabApp.expose_app_in_browser=True", "--allow-root"],
        env={**os.environ, "JUPYTER_CONFIG_DIR": config},
        stdout=subprocess.DEVNULL, stderr=open(os.path.join(folder, "jupyterlab.log"), "w"))
    for _ in range(120):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return server, f"http://127.0.0.1:{port}/lab/tree/check.ipynb?token=check"
        except OSError:
            time.sleep(0.5)
    server.kill()
    raise SystemExit("notebook_browser: JupyterLab did not start in 60 s; see jupyterlab.log")


def open_browser(url):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium")
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    browser = webdriver.Chrome(options=options, service=Service(shutil.which("chromedriver")))
    browser.get(url)
    for _ in range(240):  # the notebook open, its kernel idle
        if browser.execute_script(KERNEL_STATUS) == "idle":
            return browser
        time.sleep(0.5)
    raise SystemExit("notebook_browser: the notebook's kernel did not start in 120 s")


KERNEL_STATUS = """const panel = window.jupyterapp && window.jupyterapp.shell.currentWidget;
const kernel = panel && panel.sessionContext && panel.sessionContext.session && panel.sessionContext.session.kernel;
return kernel ? kernel.status : null;"""


def run_cell(browser, index, while_running=None, limit=300):
    """Run cell INDEX and wait until it is done; call while_running() every half second meanwhile."""
    browser.execute_script("""const panel = window.jupyterapp.shell.currentWidget;
        panel.content.activeCellIndex = arguments[0];
        window.jupyterapp.commands.execute('notebook:run-cell');""", index)
    time.sleep(1)
    start = time.time()
    while time.time() - start < limit:
        if while_running:
            while_running()
        done = browser.execute_script("""const cell = window.jupyterapp.shell.currentWidget.content.widgets[arguments[0]];
            return cell.model.executionCount !== null && cell.promptNode.textContent.indexOf('*') < 0;""", index)
        if done and browser.execute_script(KERNEL_STATUS) == "idle":
            time.sleep(1)  # the outputs' widgets render
            return
        time.sleep(0.5)
    raise SystemExit(f"notebook_browser: cell {index} did not finish in {limit} s")


def cell(browser, index):
    from selenium.webdriver.common.by import By
    return browser.find_elements(By.CSS_SELECTOR, ".jp-Notebook .jp-Cell")[index]


def output_of(browser, index):
    """Cell INDEX's output area, as a selenium element."""
    from selenium.webdriver.common.by import By
    return cell(browser, index).find_element(By.CSS_SELECTOR, ".jp-Cell-outputWrapper")


def figures_in(browser, index):
    """(live ipympl figures, still pictures) in cell INDEX's output."""
    from selenium.webdriver.common.by import By
    output = output_of(browser, index)
    return (len(output.find_elements(By.CSS_SELECTOR, ".jupyter-matplotlib-figure")),
            len(output.find_elements(By.CSS_SELECTOR, ".jp-RenderedImage img")))


def watch_progress(browser, index, seen, out):
    """While cell INDEX runs: note each sighting of a progress bar in its output (photographing the first few)."""
    from selenium.webdriver.common.by import By
    output = output_of(browser, index)
    widget = output.find_elements(By.CSS_SELECTOR, ".widget-hprogress, .widget-progress, progress")
    text = output.text
    if widget or "%|" in text:
        seen.append("a widget" if widget else "text")
        if len(seen) <= 6:  # a little way in
            browser.save_screenshot(os.path.join(out, "1-progress-bar.png"))


def pad_geometry(canvas):
    """(pad pixel -> offset from the canvas's centre in CSS pixels, the canvas's width and height)."""
    width, height = canvas.size["width"], canvas.size["height"]
    left, bottom, box_width, box_height = FIGURE
    side = min(box_width * width, box_height * height)  # the pad is square, centred in its box
    x0 = left * width + (box_width * width - side) / 2
    y0 = (1 - bottom - box_height) * height + (box_height * height - side) / 2
    return (lambda x, y: (x0 + x / 200 * side - width / 2, y0 + y / 200 * side - height / 2)), width, height


def brightest(canvas, box):
    """The brightest grey (0-255) in BOX (left, top, right, bottom: fractions of the canvas) on screen."""
    import io
    from PIL import Image
    picture = Image.open(io.BytesIO(canvas.screenshot_as_png)).convert("L")
    width, height = picture.size
    left, top, right, bottom = box
    return picture.crop((int(left * width), int(top * height), int(right * width),
                         int(bottom * height))).getextrema()[1]


def move_through(actions, offset, at, start, end, steps=10):
    """Add STEPS moves from pad pixel START to END to ACTIONS; returns where the pointer is, in CSS offsets."""
    for step in range(1, steps + 1):
        target = offset(start[0] + (end[0] - start[0]) * step / steps, start[1] + (end[1] - start[1]) * step / steps)
        actions.move_by_offset(round(target[0] - at[0]), round(target[1] - at[1]))
        at = (at[0] + round(target[0] - at[0]), at[1] + round(target[1] - at[1]))
    return at


def draw_seven(browser, canvas, out):
    """Draw the 7 with the mouse, one stroke; True if the inset showed the digit mid-stroke."""
    from selenium.webdriver import ActionChains
    offset = pad_geometry(canvas)[0]
    actions = ActionChains(browser, duration=20)
    actions.move_to_element_with_offset(canvas, *map(round, offset(*SEVEN[0]))).click_and_hold()
    at = move_through(actions, offset, offset(*SEVEN[0]), SEVEN[0], SEVEN[1])  # the top bar
    actions.perform()
    time.sleep(1)
    live = brightest(canvas, INSET) > 200  # the button still held: "what the network sees" has the ink
    browser.save_screenshot(os.path.join(out, "3-mid-stroke.png"))
    actions = ActionChains(browser, duration=20)
    move_through(actions, offset, at, SEVEN[1], SEVEN[2])  # the downstroke
    actions.release().perform()
    return live


def check_pad(browser, index, out, checks):
    from selenium.webdriver import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    output = output_of(browser, index)
    checks[f"exactly one live figure, the pad, in the draw cell ({figures_in(browser, index)})"] = (
        figures_in(browser, index) == (1, 0))
    toolbars = [element for element in output.find_elements(By.CSS_SELECTOR, ".jupyter-matplotlib-toolbar, "
                ".jupyter-matplotlib-header, .jupyter-matplotlib-footer") if element.is_displayed()]
    checks["no toolbar, header or footer on the pad"] = not toolbars
    area = output.find_element(By.CSS_SELECTOR, ".jp-OutputArea")
    checks["no horizontal scroll bar (the figure fits the cell)"] = browser.execute_script(
        "return arguments[0].scrollWidth <= arguments[0].clientWidth", area)
    canvas = output.find_element(By.CSS_SELECTOR, ".jupyter-matplotlib-canvas-div")
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", canvas)
    time.sleep(1)
    checks["the pad is black before drawing"] = brightest(canvas, PAD) < 40
    browser.save_screenshot(os.path.join(out, "2-pad.png"))
    checks["the reading follows the stroke while the button is held"] = draw_seven(browser, canvas, out)
    time.sleep(2)
    browser.save_screenshot(os.path.join(out, "4-seven.png"))
    cell(browser, index).screenshot(os.path.join(out, "notebook_pad.png"))
    checks["the 7 shows ink on the pad"] = brightest(canvas, PAD) > 200
    lines = [line for line in output.text.splitlines() if line.startswith("drawing: ")]
    print(f"  below the pad: {lines}")
    checks["'drawing: 7 (...)' below the pad"] = len(lines) == 1 and lines[0].startswith("drawing: 7 (")
    offset = pad_geometry(canvas)[0]
    ActionChains(browser).move_to_element_with_offset(canvas, *map(round, offset(100, 100))).context_click().perform()
    time.sleep(2)
    browser.save_screenshot(os.path.join(out, "5-right-click.png"))
    checks["right-click clears the pad and the inset"] = brightest(canvas, PAD) < 40 and brightest(canvas, INSET) < 40
    ActionChains(browser).send_keys(Keys.ESCAPE).perform()  # a context menu, if one opened
    draw_seven(browser, canvas, out)
    time.sleep(1)
    ActionChains(browser).send_keys("c").perform()
    time.sleep(2)
    browser.save_screenshot(os.path.join(out, "6-c.png"))
    checks["c clears the pad and the inset"] = brightest(canvas, PAD) < 40 and brightest(canvas, INSET) < 40


def check_picture_cell(browser, index, name, expect, out, checks):
    """A cell that shows one picture: one figure (live or still), EXPECT in its text, no traceback."""
    run_cell(browser, index)
    output = output_of(browser, index)
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", output)
    time.sleep(1)
    cell(browser, index).screenshot(os.path.join(out, f"{index + 1}-{name}.png"))
    text = output.text
    print(f"  {name}: {' | '.join(text.splitlines()[:3])}")
    checks[f"{name}: one picture, '{expect}' in its text, no traceback ({figures_in(browser, index)})"] = (
        sum(figures_in(browser, index)) == 1 and expect in text and "Error" not in text)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", required=True, help="a folder with MNIST/raw/ (for %%env MNIST_DATA)")
    parser.add_argument("--out", default="notebook_browser_shots", help="folder for the screenshots")
    args = parser.parse_args()
    reason = missing()
    if reason:
        print(f"notebook_browser: {reason}")
        return 0
    os.makedirs(args.out, exist_ok=True)
    checks, progress = {}, []
    with tempfile.TemporaryDirectory() as folder:
        write_notebook(folder, os.path.abspath(args.data_dir))
        server, url = start_jupyterlab(folder)
        browser = None
        try:
            browser = open_browser(url)
            print(f"  {browser.capabilities['browserName']} {browser.capabilities['browserVersion']}")
            run_cell(browser, 0)
            run_cell(browser, 1, while_running=lambda: watch_progress(browser, 1, progress, args.out))
            checks[f"a progress bar while %run trains ({progress[0] if progress else 'none'})"] = bool(progress)
            checks[f"one picture below the %run cell, no traceback ({figures_in(browser, 1)})"] = (
                sum(figures_in(browser, 1)) == 1 and "Traceback" not in output_of(browser, 1).text)
            run_cell(browser, 2)
            run_cell(browser, 3)
            check_pad(browser, 3, args.out, checks)
            check_picture_cell(browser, 4, "read", "seven.png: 7", args.out, checks)
            check_picture_cell(browser, 5, "inside", "Test accuracy", args.out, checks)
            checks[f"still one figure in the draw cell after them ({figures_in(browser, 3)})"] = (
                figures_in(browser, 3) == (1, 0))
        finally:
            if browser is not None:
                browser.quit()
            server.terminate()
            server.wait(timeout=30)
    for name, passed in checks.items():
        print(f"{'ok  ' if passed else 'FAIL'} {name}")
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
