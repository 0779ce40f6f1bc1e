"""What the auth service's parts share, built once by the app."""

from __future__ import annotations

from dataclasses import dataclass

from services.auth.profiles import UserProfiles
from services.auth.revocation import Revoker
from services.auth.roles import RoleCatalog
from services.auth.verification import EmailVerification
from services.runtime.db import DatabaseRouter
from services.runtime.events import EventBus


@dataclass(frozen=True)
class AuthDeps:
    db: DatabaseRouter
    events: EventBus
    revoker: Revoker
    roles: RoleCatalog
    profiles: UserProfiles
    verification: EmailVerification
