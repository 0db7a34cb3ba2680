"""What a web-service function runs with: the site, the token's user and its capabilities, the time."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field

from stack.moodle_emulator.config import SiteConfig, TokenConfig
from stack.moodle_emulator.errors import CAPABILITY_NAMES, no_permission
from stack.moodle_emulator.store import COURSE_ASSIGNABLE_ROLES, SiteStore, User

# filter_var(FILTER_VALIDATE_EMAIL) in spirit (PHPMailer's default check), and Moodle also refuses < and >.
_EMAIL = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
                    r"@[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*")


def validate_email(address: str) -> bool:
    return bool(_EMAIL.fullmatch(address))


@dataclass
class Call:
    config: SiteConfig
    store: SiteStore
    token: TokenConfig
    user: User
    now: int = field(default_factory=lambda: int(time.time()))

    @property
    def debug(self) -> bool:
        return self.config.debug

    def has(self, capability: str) -> bool:
        return capability not in self.token.missing_capabilities

    def can_assign(self, roleid: int) -> bool:
        """get_assignable_roles() of a course for the token's user."""
        allowed = self.token.assignable_roles
        return roleid in (COURSE_ASSIGNABLE_ROLES if allowed is None else set(allowed) & COURSE_ASSIGNABLE_ROLES)

    def require(self, capability: str) -> None:
        """require_capability(): the token's user holds every capability but the configured missing ones."""
        if not self.has(capability):
            raise no_permission(CAPABILITY_NAMES.get(capability, capability))
