"""Runs the auth service alone: ``python -m services.auth``."""

from services.auth.app import AuthApp
from services.runtime.app import serve_standalone
from services.runtime.loop import run

if __name__ == "__main__":
    run(serve_standalone(AuthApp, "auth"))
