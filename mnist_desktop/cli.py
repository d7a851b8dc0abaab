"""Command line: `mnist-desktop [SUBCOMMAND]`.

With no subcommand the window opens. Subcommands that do not show a window (train, evaluate, download)
never import Qt, so they work on a machine without a display.
"""

from __future__ import annotations

import argparse
import sys


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mnist-desktop",
        description="Draw digits, train networks and look inside them. Without a subcommand, opens the window.",
    )
    parser.add_argument("--model", metavar="PATH", help="model to open in the window (default: the shipped CNN)")
    parser.add_argument("--screenshot", metavar="PNG", help="render the window offscreen, save a PNG and exit")
    parser.add_argument("--view", metavar="NAME", default=None, help="view to show first (draw, train, imagine, evaluate)")
    parser.add_argument("--size", metavar="WxH", default=None, help="window size for --screenshot, e.g. 1280x800")
    sub = parser.add_subparsers(dest="command", metavar="SUBCOMMAND")
    for add in SUBCOMMANDS:
        add(sub)
    return parser


def _cmd_gui(args: argparse.Namespace) -> int:
    from mnist_desktop.app.main_window import run_app  # Qt only when a window is wanted

    return run_app(args)


# Each entry adds one subparser and sets `func`; modules add theirs here.
SUBCOMMANDS: list = []


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    func = getattr(args, "func", None) or _cmd_gui
    try:
        return int(func(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
