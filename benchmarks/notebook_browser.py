"""The notebook recipes of README.md, checked in a real browser: headless Chromium drives JupyterLab,
runs the cells a learner would, and draws on the pad with real pointer events (selenium's
ActionChains, so the browser makes the mouse events, with the buttons held).

    python -m venv --system-site-packages venv && venv/bin/pip install jupyterlab ipympl selenium
    apt-get install chromium chromium-driver
    python mnist_mlp.py --data-dir DATA --no-plot --save-model m.pt      # a network trained on MNIST
    venv/bin/python benchmarks/notebook_browser.py --data-dir DATA --model m.pt --out shots/

The cells: `%env MNIST_DATA=DATA`, `%run mnist_mlp.py --epochs 1` (is there a progress bar while
it trains? one picture below the cell?), `%matplotlib widget`, `%run mnist_mlp.py --load-model m.pt
--draw` (one figure, no toolbar, as wide as the cell at most), `%run mnist_mlp.py --load-model m.pt`
(its picture, one figure, and the pad left open); then, on the pad, a 7 drawn with the mouse (ink,
the inset following the stroke while the button is held, "drawing: 7" below the pad), a right-click
and, after another 7, `c` (the pad black again each time). Screenshots go to --out. It prints
one line per check and exits 1 if one failed; where JupyterLab, ipympl, selenium or Chromium is
missing it says which and exits 0 (skipped), so that it never fails for want of a browser.
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
SEVEN = [(0.05, 0), (0.95, 0), (0.4, 1)]  # the tests' 7 (tests/test_drawing_pad.py), in a box 0.65 x 1
FIGURE = (0.02, 0.03, 0.56, 0.89)  # the pad's box in the figure, as DrawingPad.lay_out() places it


def missing():
    """What this check needs and is not here, as a sentence; None if all is here."""
    needs = [name for name in ("jupyterlab", "ipympl", "selenium") if not _importable(name)]
    needs += [tool for tool in ("chromium", "chromedriver") if shutil.which(tool) is None]
    return f"skipped: not installed here: {', '.join(needs)}" if needs else None


def _importable(name):
    import importlib.util
    return importlib.util.find_spec(name) is not None


def start_jupyterlab(folder):
    """JupyterLab serving FOLDER on a free port, its app exposed to the page's scripts: (process, url)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={port}", "--ServerApp.token=check",
         f"--ServerApp.root_dir={folder}", "--LabApp.expose_app_in_browser=True", "--allow-root"],
        stdout=subprocess.DEVNULL, stderr=open(os.path.join(folder, "jupyterlab.log"), "w"))
    for _ in range(120):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return server, f"http://127.0.0.1:{port}/lab/tree/check.ipynb?token=check"
        except OSError:
            time.sleep(0.5)
    server.kill()
    raise SystemExit("notebook_browser: JupyterLab did not start in 60 s; see jupyterlab.log")


def write_notebook(folder, data_dir, model):
    cells = [f"%env MNIST_DATA={data_dir}", "%run mnist_mlp.py --epochs 1", "%matplotlib widget",
             f"%run mnist_mlp.py --load-model {model} --draw", f"%run mnist_mlp.py --load-model {model}"]
    notebook = {"nbformat": 4, "nbformat_minor": 5, "metadata": {"kernelspec": {
        "name": "python3", "display_name": "Python 3", "language": "python"}},
        "cells": [{"cell_type": "code", "metadata": {}, "source": cell, "outputs": [], "execution_count": None,
                   "id": f"cell{index}"} for index, cell in enumerate(cells)]}
    with open(os.path.join(folder, "check.ipynb"), "w") as file:
        json.dump(notebook, file)
    shutil.copy(os.path.join(ROOT, "mnist_mlp.py"), folder)


def open_browser(url):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    options = webdriver.ChromeOptions()
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,1100"):
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
            return
        time.sleep(0.5)
    raise SystemExit(f"notebook_browser: cell {index} did not finish in {limit} s")


def output_of(browser, index):
    """Cell INDEX's output area, as a selenium element."""
    from selenium.webdriver.common.by import By
    return browser.find_elements(By.CSS_SELECTOR, ".jp-Notebook .jp-Cell")[index].find_element(
        By.CSS_SELECTOR, ".jp-Cell-outputWrapper")


def watch_progress(browser, index, seen, out):
    """While cell INDEX runs: note each sighting of a progress bar in its output (photographing the first few)."""
    from selenium.webdriver.common.by import By
    output = output_of(browser, index)
    widget = output.find_elements(By.CSS_SELECTOR, ".widget-hprogress, .widget-progress, progress")
    text = output.text
    if widget or ("Epoch 1/1" in text and "%|" in text):
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


def draw_seven(browser, canvas, out):
    """Draw the 7 with the mouse, 140 pad pixels tall; True if the inset showed the digit mid-stroke."""
    from selenium.webdriver import ActionChains
    offset, width, height = pad_geometry(canvas)
    points = [(45 + 0.65 * 140 * x, 30 + 140 * y) for x, y in SEVEN]
    actions = ActionChains(browser, duration=20)
    actions.move_to_element_with_offset(canvas, *map(round, offset(*points[0]))).click_and_hold()
    at = offset(*points[0])
    for step in range(1, 11):  # the top bar, in ten moves
        target = offset(points[0][0] + (points[1][0] - points[0][0]) * step / 10, points[0][1])
        actions.move_by_offset(round(target[0] - at[0]), round(target[1] - at[1]))
        at = (at[0] + round(target[0] - at[0]), at[1] + round(target[1] - at[1]))
    actions.perform()
    time.sleep(1)
    live = brightest(canvas, INSET) > 200  # the button still held: "what the network sees" has the ink
    browser.save_screenshot(os.path.join(out, "3-mid-stroke.png"))
    actions = ActionChains(browser, duration=20)
    for step in range(1, 11):  # the downstroke
        target = offset(points[1][0] + (points[2][0] - points[1][0]) * step / 10,
                        points[1][1] + (points[2][1] - points[1][1]) * step / 10)
        actions.move_by_offset(round(target[0] - at[0]), round(target[1] - at[1]))
        at = (at[0] + round(target[0] - at[0]), at[1] + round(target[1] - at[1]))
    actions.release().perform()
    return live


INSET = (0.66, 0.16, 0.77, 0.35)  # inside "what the network sees", as fractions of the canvas from its top left
PAD = (0.05, 0.1, 0.55, 0.95)  # well inside the pad


def check_pad(browser, out, checks):
    from selenium.webdriver import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    output = output_of(browser, 3)
    figures = [len(output_of(browser, index).find_elements(By.CSS_SELECTOR, ".jupyter-matplotlib-figure"))
               for index in range(5)]
    checks[f"one figure in the --draw cell, one in the next, none elsewhere ({figures})"] = figures == [0, 0, 0, 1, 1]
    toolbars = [element for element in output.find_elements(By.CSS_SELECTOR, ".jupyter-matplotlib-toolbar, "
                ".jupyter-matplotlib-header, .jupyter-matplotlib-footer") if element.is_displayed()]
    checks["no toolbar, header or footer on the pad"] = not toolbars
    area = output.find_element(By.CSS_SELECTOR, ".jp-OutputArea")
    checks["no horizontal scroll bar (the figure fits the cell)"] = browser.execute_script(
        "return arguments[0].scrollWidth <= arguments[0].clientWidth", area)
    canvas = browser.find_element(By.CSS_SELECTOR, ".jupyter-matplotlib-canvas-div")
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", canvas)
    time.sleep(1)
    checks["the pad is black before drawing"] = brightest(canvas, PAD) < 40
    browser.save_screenshot(os.path.join(out, "2-pad.png"))
    checks["the reading follows the stroke while the button is held"] = draw_seven(browser, canvas, out)
    time.sleep(2)
    browser.save_screenshot(os.path.join(out, "4-seven.png"))
    checks["the 7 shows ink on the pad"] = brightest(canvas, PAD) > 200
    lines = [line for line in output.text.splitlines() if line.startswith("drawing: ")]
    print(f"  below the pad: {lines}")
    checks["'drawing: 7 ...' below the pad"] = len(lines) == 1 and lines[0].startswith("drawing: 7 ")
    offset = pad_geometry(canvas)[0]
    ActionChains(browser).move_to_element_with_offset(canvas, *map(round, offset(100, 100))).context_click().perform()
    time.sleep(2)
    browser.save_screenshot(os.path.join(out, "5-right-click.png"))
    checks["right-click clears the pad and the inset"] = brightest(canvas, PAD) < 40 and brightest(canvas, INSET) < 40
    ActionChains(browser).send_keys(Keys.ESCAPE).perform()  # a context menu, if one opened
    draw_seven(browser, canvas, out)
    time.sleep(1)
    print("  focused:", browser.execute_script("return document.activeElement.className"))
    ActionChains(browser).send_keys("c").perform()
    time.sleep(2)
    browser.save_screenshot(os.path.join(out, "6-c.png"))
    checks["c clears the pad and the inset"] = brightest(canvas, PAD) < 40 and brightest(canvas, INSET) < 40


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", required=True, help="a folder with MNIST/raw/ (for %%env MNIST_DATA)")
    parser.add_argument("--model", required=True, help="a model saved with --save-model, trained on MNIST")
    parser.add_argument("--out", default="notebook_browser_shots", help="folder for the screenshots")
    args = parser.parse_args()
    reason = missing()
    if reason:
        print(f"notebook_browser: {reason}")
        return 0
    os.makedirs(args.out, exist_ok=True)
    checks, progress = {}, []
    with tempfile.TemporaryDirectory() as folder:
        write_notebook(folder, os.path.abspath(args.data_dir), os.path.abspath(args.model))
        server, url = start_jupyterlab(folder)
        browser = None
        try:
            browser = open_browser(url)
            run_cell(browser, 0)
            run_cell(browser, 1, while_running=lambda: watch_progress(browser, 1, progress, args.out))
            checks[f"a progress bar while %run trains ({progress[0] if progress else 'none'})"] = bool(progress)
            from selenium.webdriver.common.by import By
            output = output_of(browser, 1)
            checks["one picture below the %run cell, no traceback"] = (
                len(output.find_elements(By.CSS_SELECTOR, "img")) == 1 and "Traceback" not in output.text)
            run_cell(browser, 2)
            run_cell(browser, 3)
            run_cell(browser, 4)  # another %run, whose show_pictures() must leave the pad open
            check_pad(browser, args.out, checks)
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
