"""Runs the registry service alone: ``python -m services.registry``."""

import asyncio

from services.registry.app import RegistryApp
from services.runtime.app import serve_standalone

if __name__ == "__main__":
    asyncio.run(serve_standalone(RegistryApp, "registry"))
