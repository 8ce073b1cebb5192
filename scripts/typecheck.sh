#!/bin/sh
# mypy over the package as it installs: rbacmap/ with importers/ and tui/ remapped into it.
# (mypy cannot follow setuptools' package-dir remapping in the source tree, so we assemble
# the installed layout from symlinks in a temporary folder.)
set -eu
repo=$(cd "$(dirname "$0")/.." && pwd)
mypy=${MYPY:-$repo/.venv/bin/mypy}
tree=$(mktemp -d)
trap 'rm -rf "$tree"' EXIT
mkdir -p "$tree/rbacmap"
for entry in "$repo"/rbacmap/*; do ln -s "$entry" "$tree/rbacmap/"; done
ln -s "$repo/importers" "$tree/rbacmap/importers"
ln -s "$repo/tui" "$tree/rbacmap/tui"
cd "$tree"
"$mypy" --config-file "$repo/pyproject.toml" --cache-dir "$repo/.mypy_cache" -p rbacmap "$@"
