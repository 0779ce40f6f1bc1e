"""Runs the registry service alone: ``python -m services.registry``."""

from services.registry.app import RegistryApp
from services.runtime.app import serve_standalone
from services.runtime.loop import run

if __name__ == "__main__":
    run(serve_standalone(RegistryApp, "registry"))
