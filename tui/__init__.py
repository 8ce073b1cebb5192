"""The Textual TUI (`rbacmap tui`): a thin front-end over the rbacmap library."""

if __name__ != "rbacmap.tui":
    raise ImportError("install the package: pip install .")
