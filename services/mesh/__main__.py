"""``python -m services.mesh run``: the whole mesh behind Envoy in one process."""

from __future__ import annotations

import argparse
import sys

from services.mesh.runner import run_mesh
from services.runtime.loop import run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.mesh", description=__doc__)
    parser.add_argument("command", choices=["run"], help="run: start every service and Envoy")
    parser.parse_args(argv)
    return run(run_mesh())


if __name__ == "__main__":
    sys.exit(main())
