"""The ``sstsal`` command line: one subcommand per module of this package.

Every module in ``sstsal/cli/`` that defines ``register(subparsers)`` adds its subcommand;
the parser it adds sets ``func`` (a callable taking the parsed arguments and returning an
exit code). Errors derived from :class:`sstsal.errors.SstsalError` are printed as one
``error: ...`` line with exit code 2, so scripts and Snakemake see a clean failure; so are
file-system errors (a path that does not exist or cannot be written).
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from collections.abc import Sequence

from sstsal import __version__
from sstsal.errors import SstsalError
from sstsal.logs import configure_logging


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sstsal", description="SST-Sal saliency prediction for 360-degree equirectangular videos."
    )
    parser.add_argument("--version", action="version", version=f"sstsal {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{__name__}.{info.name}")
        if hasattr(module, "register"):
            module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv:  # `sstsal` alone: the list of commands, not a usage error
        parser.print_help()
        return 0
    args = parser.parse_args(argv)
    configure_logging()
    try:
        return int(args.func(args) or 0)
    except SstsalError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        # a file named on the command line that cannot be read or written: one line, not a traceback
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"error: {where}{exc.strerror or exc}: check the path (and that it can be read and written)", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
