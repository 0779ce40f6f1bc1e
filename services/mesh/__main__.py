"""The one entry point of every Tenantmesh process.

python -m services.mesh run             the whole mesh behind Envoy in one process (make run)
python -m services.mesh serve NAME      one service of the manifest, as production runs each
"""

from __future__ import annotations

import argparse
import sys

from services.mesh.runner import run_mesh, serve
from services.runtime.loop import run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m services.mesh", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("run", help="start every service and Envoy in this process")
    one = commands.add_parser("serve", help="start one service")
    one.add_argument("service", help="its name in the manifest (services/manifest.py)")
    args = parser.parse_args(argv)
    if args.command == "serve":
        return run(serve(args.service))
    return run(run_mesh())


if __name__ == "__main__":
    sys.exit(main())
