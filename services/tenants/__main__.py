"""Runs the tenants service alone: ``python -m services.tenants``."""

from services.runtime.app import serve_standalone
from services.runtime.loop import run
from services.tenants.app import TenantsApp

if __name__ == "__main__":
    run(serve_standalone(TenantsApp, "tenants"))
