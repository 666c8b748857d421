"""The ``bgbench`` command. Each sub-command lives in its own module with a ``register`` function."""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys

from benchmark.errors import BgbenchError

#: Modules that add sub-commands; each defines ``register(subparsers)``.
COMMAND_MODULES = (
    "benchmark.cli.info",
    "benchmark.cli.run",
    "benchmark.cli.check",
    "benchmark.cli.data",
    "benchmark.cli.leaderboard",
    "benchmark.cli.weights",
    "benchmark.cli.evaluate",
    "benchmark.cli.launch",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bgbench", description="Benchmark harness for Boltzmann generators.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    # Idle OpenMP threads must not spin: on a small shared CPU they starve OpenMM and each other
    # (measured 7x slower ARBG sampling). Set before torch is imported by any sub-command.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        return int(args.func(args) or 0)
    except BgbenchError as err:
        print(f"bgbench: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("bgbench: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
