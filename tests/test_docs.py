"""docs/experiments.md tells learners to edit mnist_mlp.py: each edit must still apply to the code."""

import os
import sys

import pytest
from conftest import ROOT

sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
from experiments import EXPERIMENTS, edited_source  # noqa: E402  (the edits the table was measured with)

with open(os.path.join(ROOT, "docs", "experiments.md")) as file:
    DOCS = " ".join(file.read().split())  # lines joined: a quoted edit may wrap


@pytest.mark.parametrize("name, edits", [(name, edits) for name, _, edits in EXPERIMENTS if edits])
def test_each_edit_in_the_docs_applies_once_to_the_lesson(name, edits):
    compile(edited_source(edits), name, "exec")  # raises if a text is not in mnist_mlp.py exactly once
    for _, new in edits:
        for line in new.splitlines():
            assert " ".join(line.split("#")[0].split()) in DOCS, f"docs/experiments.md does not quote {line!r}"
