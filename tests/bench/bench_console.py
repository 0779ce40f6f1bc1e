"""`make bench-console`: the web console's weight and speed.

1. Production build sizes: first-load JS per route (every script a page loads, gzip), from the
   static export (target: <= 200 kB for the sign-in and dashboard routes). `noModule` scripts are
   not counted: no browser that runs the console (ES modules) fetches them. Chunks a page loads
   later (the form engine) are not first load.
2. In headless Chromium against a `make run` mesh: first contentful paint and time to interactive
   (the navigation rendered) of the dashboard of a tenant whose menu has 300 entries, cold (fresh
   profile) and warm (service worker in control), beside a static "hello" page served the same
   way (ratio warm dashboard / warm hello). Medians of several rounds. Numbers, not assertions.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import re
import statistics
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

from tests.support.running_mesh import FUZZ_FRIENDLY_ENV, login, mesh_process
from tests.web.conftest import WEB, browser_env

OUT = WEB / "out"
TARGET_KB = 200
TARGET_ROUTES = ("/login", "/dashboard")
MENU_ENTRIES = 300
ROUNDS = 5
_SCRIPT_TAG = re.compile(r"<script\b[^>]*>")
_SRC = re.compile(r'\bsrc="(/_next/static/[^"]+\.js)"')


def first_load_scripts(html: str) -> list[str]:
    """The scripts a browser with ES modules loads for a page: every `src` script but the `noModule`
    ones (Next's polyfills for browsers without modules, which such a browser never fetches)."""
    found = set()
    for tag in _SCRIPT_TAG.findall(html):
        src = _SRC.search(tag)
        if src and not re.search(r"\bnomodule\b", tag, re.IGNORECASE):
            found.add(src.group(1))
    return sorted(found)


def first_load_kb(route: str) -> float:
    html = (OUT / (route.strip("/") + ".html")).read_text()
    scripts = first_load_scripts(html)
    return sum(len(gzip.compress((OUT / s.lstrip("/")).read_bytes(), 9)) for s in scripts) / 1024


def routes() -> list[str]:
    """Every page of the export, as its route."""
    pages = sorted(p.relative_to(OUT).with_suffix("").as_posix() for p in OUT.rglob("*.html"))
    return ["/" if page == "index" else f"/{page}" for page in pages if page not in ("404", "_not-found")]


def print_sizes() -> None:
    print("first-load JS per route (gzip; noModule polyfills not counted)")
    for route in routes():
        kb = first_load_kb("/index" if route == "/" else route)
        target = (
            f"  target <= {TARGET_KB} kB: {'met' if kb <= TARGET_KB else 'MISSED'}" if route in TARGET_ROUTES else ""
        )
        print(f"  {route:<24} {kb:7.1f} kB{target}")


async def tenant_with_big_menu(mesh: object) -> tuple[str, str]:
    """A tenant admin's tokens (JSON as the console stores them) and the tenant, with 300 custom entries."""
    slug = f"bench-{uuid.uuid4().hex[:6]}"
    email, password = f"owner@{slug}.example", f"pw-{uuid.uuid4().hex}"
    async with mesh.client() as client:  # type: ignore[attr-defined]
        admin = await login(client, "platform", "admin@tenantmesh.local", mesh.admin_password)  # type: ignore[attr-defined]
        auth = {"authorization": f"Bearer {admin}"}
        created = await client.post("/v1/tenants", json={"slug": slug, "displayName": slug}, headers=auth)
        tenant_id = created.json()["tenant"]["tenantId"]
        for _ in range(100):
            state = (await client.get(f"/v1/tenants/{tenant_id}", headers=auth)).json()["tenant"]["state"]
            if state == "TENANT_STATE_ACTIVE":
                break
            await asyncio.sleep(0.2)
        headers = {**auth, "x-tenant-id": tenant_id}
        user = {"user": {"email": email, "displayName": "Owner"}, "password": password, "roles": ["tenant-admin"]}
        assert (await client.post("/v1/users", json=user, headers=headers)).status_code == 200
        for n in range(MENU_ENTRIES):
            entry = {
                "entryId": f"bench-{n:03d}",
                "label": f"Entry {n:03d}",
                "kind": "ENTRY_KIND_ROUTE",
                "route": f"/dashboard?entry={n}",
            }
            answer = await client.post("/v1/custom-menu-entries", json=entry, headers=headers)
            assert answer.status_code == 200, answer.text
        tokens = (
            await client.post("/v1/auth:login", json={"tenant": slug, "email": email, "password": password})
        ).json()
    t = tokens["tokens"]
    session = {
        "accessToken": t["accessToken"],
        "refreshToken": t["refreshToken"],
        "expiresAt": int(time.time() * 1000) + 10 * 60 * 1000,
    }
    return json.dumps(session), tenant_id


def paint(env: dict[str, str], url: str, session: str, selector: str, count: int) -> dict[str, list[dict[str, float]]]:
    result = subprocess.run(
        ["node", "tests/bench/paint.mjs", url, session, selector, str(count), str(ROUNDS)],
        cwd=WEB,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def median(values: list[dict[str, float]], key: str) -> float:
    return statistics.median(v[key] for v in values if v[key] is not None)


async def main() -> None:
    print_sizes()
    with tempfile.TemporaryDirectory() as root:
        async with mesh_process(Path(root), FUZZ_FRIENDLY_ENV) as mesh:
            session, _ = await tenant_with_big_menu(mesh)
            env = browser_env(mesh)
            dashboard = await asyncio.to_thread(
                paint, env, f"{mesh.https_url}/dashboard", session, "[data-testid=navigation] a", MENU_ENTRIES
            )
            hello = await asyncio.to_thread(paint, env, f"{mesh.https_url}/hello.html", "", "h1", 1)
    print(f"\nheadless Chromium, medians of {ROUNDS} rounds (ms; interactive = {MENU_ENTRIES} menu entries rendered)")
    print(f"  {'page':<24} {'FCP':>8} {'interactive':>12}")
    for name, runs in (
        ("dashboard cold", dashboard["cold"]),
        ("dashboard warm (SW)", dashboard["warm"]),
        ("hello cold", hello["cold"]),
        ("hello warm", hello["warm"]),
    ):
        print(f"  {name:<24} {median(runs, 'fcp'):8.0f} {median(runs, 'interactive'):12.0f}")
    ratio_fcp = median(dashboard["warm"], "fcp") / median(hello["warm"], "fcp")
    ratio_tti = median(dashboard["warm"], "interactive") / median(hello["warm"], "interactive")
    print(f"  warm dashboard / warm hello: FCP x{ratio_fcp:.2f}, interactive x{ratio_tti:.2f}")


if __name__ == "__main__":
    asyncio.run(main())
