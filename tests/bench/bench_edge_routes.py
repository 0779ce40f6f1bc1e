"""Benchmark: what the method routes (405 with Allow) cost Envoy's route matching.

    python -m tests.bench.bench_edge_routes [--seconds 5] [--rounds 3] [--connections 20]

Two Envoys (one worker each, plain HTTP, direct responses, no upstream) are driven alternately
by ``wrk`` in one run: one with a single route, one with every route pair the whole platform's
REST bindings give (each path shape's methods, then its 405) before that same route. The path
asked for shares the literal prefix of several shapes and matches none, so the second Envoy
compares every prefix and tries those shapes' regexes first. Prints requests per second of
each and their ratio; asserts nothing.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from services.manifest import PLATFORM
from services.mesh.edge import DEFAULT_DESCRIPTOR_PATH, Upstream, load_edge_api
from tests.bench.edge_tools import parse_wrk
from tests.support.ports import free_port

# Under the longest shared literal prefix, so the request meets the regexes of a whole family of
# shapes (the users' and tenants' are the largest) before the last route: a bad case.
PATH = "/v1/tenants/nothing/matches/this"


def envoy_config(port: int, admin_port: int, with_method_routes: bool) -> dict[str, object]:
    routes: list[dict[str, object]] = []
    if with_method_routes:
        # As envoy/envoy.yaml.j2 renders them: literal prefix, then the :path regex and the method.
        everything = Upstream(
            "all", "127.0.0.1", 1, (*(p for s in PLATFORM.built for p in s.api), "tenantmesh.meta.v1")
        )
        for shape in load_edge_api(DEFAULT_DESCRIPTOR_PATH, [everything]).method_routes:
            path = {"name": ":path", "string_match": {"safe_regex": {"regex": shape.path_header_regex}}}
            method = {"name": ":method", "string_match": {"safe_regex": {"regex": shape.verbs_regex}}}
            not_options = {"name": ":method", "string_match": {"exact": "OPTIONS"}, "invert_match": True}
            for headers, status in (([path, method], 204), ([path, not_options], 405)):
                routes.append(
                    {"match": {"prefix": shape.prefix, "headers": headers}, "direct_response": {"status": status}}
                )
    routes.append({"match": {"prefix": "/"}, "direct_response": {"status": 200, "body": {"inline_string": "ok"}}})
    manager = {
        "name": "envoy.filters.network.http_connection_manager",
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3."
            "HttpConnectionManager",
            "stat_prefix": "bench",
            "route_config": {"virtual_hosts": [{"name": "all", "domains": ["*"], "routes": routes}]},
            "http_filters": [
                {
                    "name": "envoy.filters.http.router",
                    "typed_config": {"@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"},
                }
            ],
        },
    }
    return {
        "admin": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": admin_port}}},
        "static_resources": {
            "listeners": [
                {
                    "address": {"socket_address": {"address": "127.0.0.1", "port_value": port}},
                    "filter_chains": [{"filters": [manager]}],
                }
            ]
        },
    }


@contextlib.contextmanager
def envoy(directory: Path, with_method_routes: bool) -> Iterator[int]:
    port = free_port()
    config = directory / f"envoy-{with_method_routes}.json"
    config.write_text(json.dumps(envoy_config(port, free_port(), with_method_routes)))
    proc = subprocess.Popen(
        [
            ".venv/bin/envoy",
            "-c",
            str(config),
            "--concurrency",
            "1",
            "--base-id-path",
            str(directory / "id"),
            "--use-dynamic-base-id",
            "--log-level",
            "error",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(100):
            probe = subprocess.run(["curl", "-sf", f"http://127.0.0.1:{port}{PATH}"], capture_output=True, check=False)
            if probe.returncode == 0:
                break
            time.sleep(0.1)
        yield port
    finally:
        proc.terminate()
        proc.wait(10)


def wrk(port: int, path: str, seconds: int, connections: int) -> float:
    done = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", f"http://127.0.0.1:{port}{path}"],
        capture_output=True,
        text=True,
        check=True,
    )
    return parse_wrk(done.stdout).requests_per_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=20)
    parser.add_argument("--path", default=PATH, help="the path asked for (default: %(default)s)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as temp:
        directory = Path(temp)
        with envoy(directory, False) as plain, envoy(directory, True) as routed:
            best = {"one route": 0.0, "with method routes": 0.0}
            for _ in range(args.rounds):
                best["one route"] = max(best["one route"], wrk(plain, args.path, args.seconds, args.connections))
                best["with method routes"] = max(
                    best["with method routes"], wrk(routed, args.path, args.seconds, args.connections)
                )
    for name, rps in best.items():
        print(f"{name:<20} {rps:>10.0f} req/s (best of {args.rounds})")
    print(f"ratio                {best['with method routes'] / best['one route']:.2f}")


if __name__ == "__main__":
    main()
