"""Runs the auth service alone: ``python -m services.auth``."""

import asyncio

from services.auth.app import AuthApp
from services.runtime.app import serve_standalone

if __name__ == "__main__":
    asyncio.run(serve_standalone(AuthApp, "auth"))
