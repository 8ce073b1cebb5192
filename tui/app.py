"""The rbacmap TUI application: one mode per screen, k9s keys, a go-to palette."""

from __future__ import annotations

import asyncio
from typing import ClassVar

from textual.app import App
from textual.binding import Binding, BindingType
from textual.screen import Screen

from rbacmap.model import RoleKey, Subject
from rbacmap.tui.dashboard import DashboardScreen
from rbacmap.tui.modals import HelpScreen, JumpScreen
from rbacmap.tui.offboard import OffboardScreen
from rbacmap.tui.palette import GoToProvider
from rbacmap.tui.path_source import PathSource, SolverProcess
from rbacmap.tui.paths import PathsScreen
from rbacmap.tui.roles import RoleDetailScreen, RolesScreen
from rbacmap.tui.session import Session
from rbacmap.tui.subjects import SubjectDetailScreen, SubjectsScreen
from rbacmap.tui.trim import TrimScreen
from rbacmap.tui.who_can import WhoCanScreen

# Built in the background once the snapshot's lists are ready, so `:` to them only switches.
PREBUILT_MODES = ("subjects", "roles", "who-can")
# Detail screens kept (installed) after their first use and refilled for the next subject/role.
SUBJECT_DETAIL = "subject-detail"
ROLE_DETAIL = "role-detail"


class RbacmapApp(App[None]):
    """Browse one rbacmap DB read-only; only files the user exports are written."""

    CSS_PATH = "rbacmap.tcss"
    TITLE = "rbacmap"
    MODES = {
        "dashboard": DashboardScreen,
        "subjects": SubjectsScreen,
        "roles": RolesScreen,
        "who-can": WhoCanScreen,
        "paths": PathsScreen,
        "trim": TrimScreen,
        "offboard": OffboardScreen,
    }
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "quit", "Quit", id="app.quit"),
        Binding("question_mark", "help", "Help", key_display="?", id="app.help"),
        Binding("colon", "jump", "Jump", key_display=":", id="app.jump"),
    ]
    COMMANDS = App.COMMANDS | {GoToProvider}

    def __init__(self, db_path: str, cluster: str | None = None, paths: PathSource | None = None) -> None:
        """`paths` answers escalation questions (default: the solver in a helper process)."""
        super().__init__()
        self.db_path = db_path
        self.cluster = cluster
        self.session = Session(db_path)
        self.path_source = paths if paths is not None else SolverProcess()
        self.screens_prepared = False  # True once PREBUILT_MODES are built (benchmarks wait for it)

    def on_mount(self) -> None:
        self.switch_mode("dashboard")

    def on_unmount(self) -> None:
        self.path_source.close()
        self.session.close()

    def cluster_or_first(self) -> str | None:
        """The chosen cluster, or (called in a worker) the first one when the DB holds several."""
        if self.cluster:
            return self.cluster
        with self.session.store() as store:
            names = [row["name"] for row in store.clusters()]
        return names[0] if names else None

    def prepare_screens(self) -> None:
        """Build the main screens now (called once the lists are ready), so a jump only switches."""
        self.run_worker(self._build_screens(), group="prebuild", exclusive=True)

    async def _build_screens(self) -> None:
        for mode in PREBUILT_MODES:
            # textual builds a mode's screen on the first switch_mode; _init_mode is that step
            # alone (private API, pinned textual 8): the screen is mounted, not shown.
            if mode not in self._screen_stacks:
                await self._init_mode(mode)
                # Mounted with the current stylesheet: without this, the first switch there
                # would re-parse and re-apply all CSS (textual only marks the shown stack fresh).
                self._screen_stacks[mode][0]._css_update_count = self._css_update_count
            await asyncio.sleep(0)  # a key pressed meanwhile is handled between two builds
        for name, empty in ((SUBJECT_DETAIL, SubjectDetailScreen), (ROLE_DETAIL, RoleDetailScreen)):
            if not self.is_screen_installed(name):
                # An empty detail screen, mounted but not shown (push_screen's own first step,
                # private too): the first enter on a subject or role then only refills it.
                self.install_screen(empty(), name)
                await self._get_screen(name)[1]
            await asyncio.sleep(0)
        self.screens_prepared = True

    def jump(self, name: str) -> None:
        if name in self.MODES:
            self.switch_mode(name)

    def open_target(self, target: Subject | RoleKey) -> None:
        if isinstance(target, Subject):
            self.switch_mode("subjects")
            self.open_subject(target)
        else:
            self.switch_mode("roles")
            self.open_role(target)

    def open_subject(self, subject: Subject) -> None:
        """Push a subject's detail: the kept detail screen, refilled, unless it is already shown."""
        kept = self._kept_screen(SUBJECT_DETAIL)
        if isinstance(kept, SubjectDetailScreen):
            kept.show_subject(subject)
            self.push_screen(kept)
        else:
            self._push_and_keep(SubjectDetailScreen(subject), SUBJECT_DETAIL)

    def open_role(self, key: RoleKey) -> None:
        """Push a role's detail, the same way."""
        kept = self._kept_screen(ROLE_DETAIL)
        if isinstance(kept, RoleDetailScreen):
            kept.show_role(key)
            self.push_screen(kept)
        else:
            self._push_and_keep(RoleDetailScreen(key), ROLE_DETAIL)

    def _kept_screen(self, name: str) -> Screen[None] | None:
        """The installed detail screen, if no stack holds it now (subject → role → subject needs two)."""
        if not self.is_screen_installed(name):
            return None
        screen = self.get_screen(name)
        for mode in self.MODES:
            try:
                if screen in self.get_screen_stack(mode):
                    return None
            except KeyError:  # a mode not shown yet
                continue
        return screen

    def _push_and_keep(self, screen: Screen[None], name: str) -> None:
        # Installed screens survive being popped: the next detail reuses its widgets instead of
        # composing, styling and laying out a new screen.
        if not self.is_screen_installed(name):
            self.install_screen(screen, name)
        self.push_screen(screen)

    def action_help(self) -> None:
        self.push_screen(HelpScreen())

    def action_jump(self) -> None:
        def chosen(name: str | None) -> None:
            if name:
                self.jump(name)

        self.push_screen(JumpScreen(), chosen)


def run(db_path: str, cluster: str | None = None) -> None:
    RbacmapApp(db_path, cluster).run()

