"""Command palette: "go to subject …", "go to role …" and the screens, fuzzy-matched."""

from __future__ import annotations

import asyncio
from functools import partial
from typing import TYPE_CHECKING, cast

from textual.command import DiscoveryHit, Hit, Hits, Provider

from rbacmap.model import RoleKey, Subject
from rbacmap.store import StoreError
from rbacmap.tui.modals import SCREEN_NAMES
from rbacmap.tui.session import Session
from rbacmap.tui.text import printable

if TYPE_CHECKING:
    from rbacmap.tui.app import RbacmapApp


def _targets(session: Session, cluster: str | None) -> list[tuple[str, Subject | RoleKey]]:
    """Everything the palette can jump to (the snapshot's lists, built once by whoever asks first)."""
    try:
        data = session.data(cluster)
    except StoreError:
        return []
    subjects, roles = data.subjects, data.roles
    out: list[tuple[str, Subject | RoleKey]] = [
        (f"go to subject {row.subject.kind} {row.display_name}", row.subject) for row in subjects
    ]
    out += [(f"go to role {row.key}", row.key) for row in roles]
    return [(printable(text), target) for text, target in out]


class GoToProvider(Provider):
    """Jump to a subject, a role or a screen by name."""

    async def startup(self) -> None:
        app = cast("RbacmapApp", self.app)
        self.targets = await asyncio.to_thread(_targets, app.session, app.cluster)

    async def discover(self) -> Hits:
        app = cast("RbacmapApp", self.app)
        for name in SCREEN_NAMES:
            yield DiscoveryHit(f"screen {name}", partial(app.jump, name), help="switch to this screen")

    async def search(self, query: str) -> Hits:
        app = cast("RbacmapApp", self.app)
        matcher = self.matcher(query)
        for name in SCREEN_NAMES:
            text = f"screen {name}"
            score = matcher.match(text)
            if score > 0:
                yield Hit(score, matcher.highlight(text), partial(app.jump, name), text=text)
        for text, target in self.targets:
            score = matcher.match(text)
            if score > 0:
                yield Hit(score, matcher.highlight(text), partial(app.open_target, target), text=text)
