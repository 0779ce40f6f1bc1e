"""Runs the tenants service alone: ``python -m services.tenants``."""

import asyncio

from services.runtime.app import serve_standalone
from services.tenants.app import TenantsApp

if __name__ == "__main__":
    asyncio.run(serve_standalone(TenantsApp, "tenants"))
