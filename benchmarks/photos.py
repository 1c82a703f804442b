"""How well --predict reads photos of a digit on paper (issue 18), by kind of page.

The digits 0-9 in three handwriting-style fonts that Debian ships (fonts-humor-sans,
fonts-comic-neue, fonts-klee), at a 150 px font size on a 360x480 page, for each page type of
tests/photo_pages.py (black ink on white; grey pencil on off-white; blue ballpoint; light-blue
ruled lines every 36 px; lit from one side, the background going from about 140 to 250 across;
six dark specks of 3-6 px; all of these at once with a little blur, sensor noise and JPEG at
quality 60), saved as PNG (the last one JPEG-compressed first) and read as `python -m play read`
reads a picture. A page read as no digit, or as several, counts as read wrong. Prints the share
read right per page type.

With --mnist, also MNIST's own first 1000 test digits three ways: from the tensors (as the
lesson tests them), saved as PNG files, and as blurry small scans (dark on white, 32x32, a 1 px
Gaussian blur, enlarged to 160x160 with bicubic interpolation), both read as pictures.

    python mnist_mlp.py --data-dir ../shared/mnist --no-plot --save-model /tmp/mnist_mlp.pt
    python benchmarks/photos.py --model /tmp/mnist_mlp.pt [--mnist ../shared/mnist]
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
    parser.add_argument("--model", required=True, help="weights saved with --save-model (defaults, seed 0)")
    parser.add_argument("--wrong", action="store_true", help="list the pages read wrong")
    parser.add_argument("--mnist", metavar="DATA_DIR", help="also read MNIST's test digits as pictures")
    args = parser.parse_args()

    from photo_pages import FONTS, PAGE_TYPES, photo_page

    from play.weights import load_network

    missing = [name for name, path in FONTS.items() if not os.path.exists(path)]
    if missing:
        sys.exit(f"fonts not installed: {', '.join(missing)} (apt-get install fonts-humor-sans "
                 "fonts-comic-neue fonts-klee)")
    model = load_network(args.model)
    folder = tempfile.mkdtemp()
    print("| the page | read right |")
    print("| --- | --- |")
    wrong = []
    for kind, settings in PAGE_TYPES.items():
        right = 0
        for font, font_path in FONTS.items():
            for digit in range(10):
                path = os.path.join(folder, f"{digit}.png")
                photo_page(font_path, str(digit), seed=digit, **settings).save(path)
                reading = read_as(model, path)
                right += reading == str(digit)
                if reading != str(digit):
                    wrong.append(f"{kind}, {font} {digit}: {reading}")
        print(f"| {kind} | {right / 30:.0%} |")
    if args.wrong:
        print("\nwrong: " + "; ".join(wrong))
    if args.mnist:
        mnist_as_pictures(model, args.mnist, folder)


def read_as(model, path):
    """What `model` reads in the picture at `path`: its digits, such as "7", or why none."""
    import torch

    from play.pictures import PictureError, read_picture

    try:
        digits = read_picture(path).digits
    except PictureError as error:
        return str(error)
    with torch.no_grad():
        return "".join(str(int(digit)) for digit in model(digits).argmax(dim=1))


def mnist_as_pictures(model, data_dir, folder, count=1000):
    """Print how many of MNIST's first `count` test digits read right from the tensors, as PNG
    files, and as blurry 32x32 scans enlarged to 160x160."""
    import torch
    from PIL import Image, ImageFilter, ImageOps
    from torchvision import datasets

    from mnist_mlp import prepare

    test_set = datasets.MNIST(data_dir, train=False, download=False)
    images, labels = test_set.data[:count], test_set.targets[:count]
    with torch.no_grad():
        tensors = model(prepare(images.float()))
    right = {"from the tensors": int((tensors.argmax(dim=1) == labels).sum()), "as PNG": 0,
             "as a blurry 32x32 scan at 160x160": 0}
    for image, label in zip(images, labels.tolist(), strict=True):
        digit = Image.fromarray(image.numpy())
        scan = ImageOps.invert(ImageOps.expand(digit, 2)).filter(ImageFilter.GaussianBlur(1))
        for way, picture in (("as PNG", digit), ("as a blurry 32x32 scan at 160x160",
                                                 scan.resize((160, 160), Image.BICUBIC))):
            path = os.path.join(folder, "mnist.png")
            picture.save(path)
            right[way] += read_as(model, path) == str(label)
    for way, count_right in right.items():
        print(f"MNIST's first {count} test digits, {way}: {count_right / count:.1%} read right")


if __name__ == "__main__":
    main()
