"""Command line: `mnist-desktop [SUBCOMMAND]`."""

import sys


def main(argv=None) -> int:
    print("mnist-desktop: under construction", file=sys.stderr)
    return 1
