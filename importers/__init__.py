"""Importers: fetch the world's RBAC and identity data, normalize it, load one snapshot."""

if __name__ != "rbacmap.importers":
    raise ImportError("install the package: pip install .")
