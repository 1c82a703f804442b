"""How well play reads real people's handwritten digits (issue 26), by kind of picture.

../shared/real-digits holds 150 pictures of digits that real people photographed or drew for
their own MNIST demos (labels.csv: each file's digit or number, its source and its kind: photo of
paper, drawn on screen, other). Each is read as `python -m play read` reads it; a picture of
several digits counts as right only when the whole number is. Prints the share read right by
kind, then each picture read wrong: its label, what was read, and why, as far as the numbers
tell (the digits found, or the network's confidence in its wrong answer and in the right one).
These pictures are for measuring only: never train on them, or tune a setting to one of them.

    python mnist_mlp.py --data-dir ../shared/mnist --no-plot --save-model /tmp/mnist_mlp.pt
    python benchmarks/real_digits.py --model /tmp/mnist_mlp.pt [--data ../shared/real-digits]
"""

import argparse
import csv
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
REAL_DIGITS = os.path.join(ROOT, "..", "shared", "real-digits")
KINDS = {"photo-of-paper": "photos of paper", "drawn-on-screen": "drawn on screen", "other": "other"}


def readings(model, folder=REAL_DIGITS):
    """Each picture of `folder`/labels.csv read by `model` (a Net): a list of (its labels.csv row,
    what was read, or "" where no digit was found, and why it is wrong, or None if it is right)."""
    import torch

    from play.pictures import PictureError, read_picture

    with open(os.path.join(folder, "labels.csv"), newline="") as file:
        rows = list(csv.DictReader(file))
    results = []
    for row in rows:
        try:
            picture = read_picture(os.path.join(folder, row["file"]))
        except PictureError as error:
            results.append((row, "", str(error)))
            continue
        with torch.no_grad():
            probabilities = model(picture.digits).softmax(dim=1)
        read = "".join(str(int(digit)) for digit in probabilities.argmax(dim=1))
        results.append((row, read, None if read == row["label"] else why(row["label"], read, probabilities)))
    return results


def why(label, read, probabilities):
    """What the numbers say of a wrong reading: the digits found, or the network's confidence."""
    if len(read) != len(label):
        return f"{len(read)} digits found, {len(label)} written"
    return "; ".join(f"{got} at {probabilities[i, int(got)]:.0%}, {want} at {probabilities[i, int(want)]:.0%}"
                     for i, (want, got) in enumerate(zip(label, read, strict=True)) if want != got)


def table(results):
    """The Markdown table of the share read right: by kind for single digits, all single digits,
    and the pictures of several digits (the whole number right)."""
    single = [result for result in results if len(result[0]["label"]) == 1]
    lines = ["| kind | read right |", "| --- | --- |"]
    for name, chosen in [*((shown, [r for r in single if r[0]["kind"] == kind]) for kind, shown in KINDS.items()),
                         ("all single digits", single),
                         ("numbers (the whole number right)", [r for r in results if len(r[0]["label"]) > 1])]:
        right = sum(reason is None for _, _, reason in chosen)
        lines.append(f"| {name} | {right} / {len(chosen)} ({right / max(len(chosen), 1):.1%}) |")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="weights saved by mnist_mlp.py (--save-model)")
    parser.add_argument("--data", default=REAL_DIGITS, help="the folder of labels.csv and the pictures")
    args = parser.parse_args()

    from play.weights import load_network

    results = readings(load_network(args.model), args.data)
    print(table(results))
    print("\nRead wrong:")
    for row, read, reason in results:
        if reason is not None:
            print(f"- {row['file']} ({row['notes'].split(';')[0]}): {row['label']} read as {read or '-'}: "
                  f"{reason}")


if __name__ == "__main__":
    main()
