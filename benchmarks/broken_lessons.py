"""Would tests/test_lesson.py catch a broken lesson? Break mnist_mlp.py on purpose, one way at a time.

Each broken copy is the lesson with one edit (below), written with a copy of tests/ into a scratch
folder, where `pytest tests/test_lesson.py` runs against it. Prints, for each, the tests that
failed; a broken copy that no test catches is marked MISSED, and the script exits 1.

    python benchmarks/broken_lessons.py
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# name: [(text in mnist_mlp.py, what it becomes), ...]; every occurrence is replaced
BROKEN = {
    "optimizer.zero_grad() removed": [("optimizer.zero_grad()", "pass")],
    "loss.backward() removed": [("loss.backward()", "pass")],
    "optimizer.step() removed": [("optimizer.step()", "pass")],
    "argmax replaced by argmin": [("argmax", "argmin")],
    "shuffle=True replaced by shuffle=False": [("shuffle=True", "shuffle=False")],
    "the test accuracy measured on the training pictures": [
        ('history["test"].append(test(model, device, test_loader))',
         'history["test"].append(test(model, device, train_loader))')],
}


def failed_tests(edits):
    """The names of the tests of tests/test_lesson.py that fail on the lesson with `edits` made."""
    with open(os.path.join(ROOT, "mnist_mlp.py")) as file:
        source = file.read()
    for old, new in edits:
        if old not in source:
            sys.exit(f"mnist_mlp.py no longer holds {old!r}: update BROKEN")
        source = source.replace(old, new)
    with tempfile.TemporaryDirectory() as folder:
        with open(os.path.join(folder, "mnist_mlp.py"), "w") as file:
            file.write(source)
        shutil.copytree(os.path.join(ROOT, "tests"), os.path.join(folder, "tests"),
                        ignore=shutil.ignore_patterns("__pycache__"))
        result = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-rf",
                                 "tests/test_lesson.py"], cwd=folder, capture_output=True, text=True)
    return re.findall(r"^FAILED tests/test_lesson.py::(\w+)", result.stdout, re.MULTILINE)


def main():
    missed = 0
    for name, edits in BROKEN.items():
        failed = failed_tests(edits)
        missed += not failed
        print(f"{name}: {', '.join(failed) if failed else 'MISSED: every test passed'}", flush=True)
    sys.exit(1 if missed else 0)


if __name__ == "__main__":
    main()
