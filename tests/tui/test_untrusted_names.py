"""Names come from clusters: Rich markup and control characters in them must show literally."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.text import Text
from textual.widgets import DataTable

from rbacmap.tui.roles import RoleDetailScreen
from rbacmap.tui.subjects import SubjectDetailScreen
from rbacmap.tui.text import line, plain

HOSTILE = """\
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: "[red]x", namespace: "[b]ns"}
rules:
- apiGroups: [""]
  resources: ["[link=http://evil]pods"]
  verbs: ["get"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: "[blink]rb", namespace: "[b]ns"}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: "[red]x"}
subjects:
- {apiGroup: rbac.authorization.k8s.io, kind: User, name: "mallory\\e[31m[/]"}
"""


def test_text_helpers_never_parse_markup() -> None:
    assert plain("[red]x").plain == "[red]x" and not plain("[red]x").spans
    assert plain("a\x1b[31mb\nc").plain == "a\\x1b[31mb\\x0ac"
    assert line("[b]", ("[i]y", "bold")).plain == "[b][i]y"


async def test_role_named_red_x_renders_literally(tmp_path: Path, ui: Any, db_from: Any) -> None:
    manifest = tmp_path / "hostile.yaml"
    manifest.write_text(HOSTILE)
    app = ui.app(db_from(tmp_path / "hostile.db", [str(manifest)]))
    async with app.run_test(size=(120, 30)) as pilot:
        await ui.settle(app, pilot)
        await ui.jump(app, pilot, "roles")
        cells = app.screen.query_one("#roles", DataTable).get_row_at(0)
        assert [cell.plain for cell in cells[:3]] == ["Role", "[b]ns", "[red]x"]
        assert all(isinstance(cell, Text) and not cell.spans and not cell.style for cell in cells[:3])
        # What reaches the terminal is the literal name, not red text.
        strips = [app.screen.query_one("#roles", DataTable).render_line(y).text for y in range(3)]
        assert any("[red]x" in strip for strip in strips)

        await ui.press(app, pilot, "enter")
        assert isinstance(app.screen, RoleDetailScreen)
        assert ui.static_text(app, "#role-title") == "Role [b]ns/[red]x"
        assert ui.table_rows(app, "#rules")[0][2] == "[link=http://evil]pods"
        assert ui.table_rows(app, "#role-bindings") == [["RoleBinding [blink]rb", "[b]ns", "User",
                                                         "mallory\\x1b[31m[/]"]]
        await ui.press(app, pilot, "enter")
        assert isinstance(app.screen, SubjectDetailScreen)
        assert ui.static_text(app, "#subject-title") == "User mallory\\x1b[31m[/]"
        assert "get [link=http://evil]pods  ← RoleBinding [b]ns/[blink]rb → Role [b]ns/[red]x rule #0" in \
            ui.tree_lines(app, "#permissions")[2]
