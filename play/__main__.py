"""The command line: python -m play read|draw|inside, with the weights that mnist_mlp.py saved."""

import argparse
import os
import sys

import play
from play.pad import NoWindowError
from play.weights import WeightsError, load_network


def parse_args(argv=None):
    parser = argparse.ArgumentParser(prog="python -m play", description="Play with the network that "
                                     "mnist_mlp.py trained (run `python mnist_mlp.py` first).")
    commands = parser.add_subparsers(dest="command", required=True)
    read = commands.add_parser("read", help="read the digits in your pictures or photos of paper",
                               description="Print what the network reads in each picture, and draw the first.")
    read.add_argument("pictures", nargs="+", metavar="PICTURE", help="PNG, JPEG, ... of one digit or a number")
    read.add_argument("--plot", default="reading.png", help="where to save the picture (default: %(default)s)")
    read.add_argument("--no-plot", action="store_true", help="save no picture")
    commands.add_parser("draw", help="draw digits with the mouse, and watch the network read them",
                        description="Draw with the left button; right-click or c clears; q quits.")
    inside = commands.add_parser("inside", help="what the first layer learned, and the surest mistakes",
                                 description="Score the network on MNIST's test set and draw what it learned.")
    inside.add_argument("--data-dir", default=os.environ.get("MNIST_DATA", "data"),
                        help="where MNIST is (default: $MNIST_DATA, else ./data)")
    inside.add_argument("--plot", default="inside.png", help="where to save the picture (default: %(default)s)")
    for command in (read, commands.choices["draw"], inside):
        command.add_argument("--model", default="mnist_mlp.pt", help="the saved weights (default: %(default)s)")
    return parser.parse_args(argv)


def main(argv=None):
    """Run one command; exit 1 with one line where the weights or a picture cannot be used."""
    args = parse_args(argv)
    try:
        network = load_network(args.model)
        if args.command == "read":
            unread = play.read_each(network, args.pictures, plot=False if args.no_plot else args.plot)
            sys.exit(1 if unread else 0)
        elif args.command == "draw":
            play.draw(network)
        else:
            play.inside(network, args.data_dir, args.plot)
    except (WeightsError, NoWindowError) as error:
        sys.exit(f"python -m play {args.command}: {error}")


if __name__ == "__main__":
    main()
