"""How well the network reads digits written with pens of different widths (issue 13).

The digits 0-9 in three handwriting-style fonts that Debian ships (fonts-humor-sans,
fonts-comic-neue, fonts-klee), each at a 150 px font size on a 300x300 white page, outlined with
PIL's stroke_width of 0, 3, 8 and 14 pixels (a thicker and thicker pen), are saved as PNG files
and read as `python -m play read` reads a picture. Prints how many of the 30 pictures read right
at each width, and which were wrong.

    python mnist_mlp.py --data-dir ../shared/mnist --no-plot --save-model /tmp/mnist_mlp.pt
    python benchmarks/pen_widths.py --model /tmp/mnist_mlp.pt
"""

import argparse
import os
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "tests"))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="weights saved by mnist_mlp.py (--save-model)")
    args = parser.parse_args()

    from photo_pages import FONTS, PEN_WIDTHS, font_digit
    from photos import read_as

    from play.weights import load_network

    missing = [name for name, path in FONTS.items() if not os.path.exists(path)]
    if missing:
        sys.exit(f"fonts not installed: {', '.join(missing)} (apt-get install fonts-humor-sans "
                 "fonts-comic-neue fonts-klee)")
    model = load_network(args.model)
    folder = tempfile.mkdtemp()
    print("| pen (stroke_width) | " + " | ".join(str(width) for width in PEN_WIDTHS) + " |")
    print("| --- |" + " --- |" * len(PEN_WIDTHS))
    right, wrong = [], []
    for width in PEN_WIDTHS:
        count = 0
        for font, font_path in FONTS.items():
            for digit in range(10):
                path = os.path.join(folder, f"{digit}-{width}.png")
                font_digit(font_path, digit, width).save(path)
                reading = read_as(model, path)
                count += reading == str(digit)
                if reading != str(digit):
                    wrong.append(f"{font} {digit} at width {width} read as {reading}")
        right.append(f"{count}/{3 * 10}")
    print("| read right | " + " | ".join(right) + " |")
    print("\nwrong: " + "; ".join(wrong))


if __name__ == "__main__":
    main()
