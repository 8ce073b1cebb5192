"""Check that the solver gives byte-identical answers before and after a change.

    python bench/check_solver_answers.py --save bench/out/solver-answers      # before a change
    python bench/check_solver_answers.py --compare bench/out/solver-answers   # after it

The first run imports each dataset once into its own database under the given folder (the
demo fixtures, each fixture of fixtures/solver, a generated 200-namespace cluster), so later
changes to the importers cannot make a false difference; every run then asks the real
`rbacmap` console script `paths -o json`, `paths --explain`, `paths` (table), a filtered
`paths` and `risks -o json`, and saves (or compares) the exact output bytes. Exit status 1
when any answer differs, with the first differing line.
"""

from __future__ import annotations

import argparse
import hashlib
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RBACMAP = ROOT / ".venv" / "bin" / "rbacmap"
sys.path.insert(0, str(Path(__file__).resolve().parent))
from generate_cluster import cached_cluster  # noqa: E402

GENERATED_NAMESPACES = 200

QUESTIONS: list[tuple[str, list[str]]] = [
    ("paths.json", ["paths", "-o", "json"]),
    ("paths-explain.txt", ["paths", "--explain"]),
    ("paths-table.txt", ["paths"]),
    ("paths-filtered.json", ["paths", "--target", "secrets", "-n", "payments", "-o", "json"]),
    ("risks.json", ["risks", "-o", "json"]),
]


def datasets() -> dict[str, list[str]]:
    """Dataset name -> files to import."""
    found = {"demo": [str(ROOT / "fixtures" / "demo")]}
    for fixture in sorted((ROOT / "fixtures" / "solver").glob("*.yaml")):
        found[f"solver-{fixture.stem}"] = [str(fixture)]
    found[f"generated-{GENERATED_NAMESPACES}"] = [str(p) for p in cached_cluster(GENERATED_NAMESPACES)]
    return found


def run(args: list[str], db: Path) -> bytes:
    done = subprocess.run([str(RBACMAP), *args, "--db", str(db)], capture_output=True, cwd="/tmp", check=False)
    return done.stdout + b"\n--- stderr ---\n" + done.stderr + f"\n--- exit {done.returncode} ---\n".encode()


def database(folder: Path, name: str, files: list[str]) -> Path:
    """The dataset's database, imported on first use and reused after."""
    db = folder / f"{name}.db"
    if not db.exists():
        run(["import", "files", *files, "--cluster", name], db)
    return db


def first_difference(old: bytes, new: bytes) -> str:
    for number, (a, b) in enumerate(zip(old.splitlines(), new.splitlines(), strict=False), start=1):
        if a != b:
            return f"line {number}:\n  before: {a[:300]!r}\n  after:  {b[:300]!r}"
    return f"lengths differ: {len(old)} vs {len(new)} bytes"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--save", type=Path, help="folder to write databases and reference answers to")
    mode.add_argument("--compare", type=Path, help="folder written by --save")
    args = parser.parse_args(argv)
    # Absolute: the CLI runs with cwd=/tmp, and a relative folder put the databases under /tmp instead,
    # re-imported on every run (each a new snapshot, whose number then showed up as a difference).
    folder: Path = (args.save or args.compare).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    differences = 0
    for name, files in datasets().items():
        if args.compare and not (folder / f"{name}.{QUESTIONS[0][0]}").exists():
            print(f"{name}: no reference answers (a dataset added after --save): not compared")
            continue
        db = database(folder, name, files)
        for answer, question in QUESTIONS:
            output = run(question, db)
            reference = folder / f"{name}.{answer}"
            if args.save:
                reference.write_bytes(output)
                continue
            expected = reference.read_bytes()
            if output == expected:
                continue
            differences += 1
            print(f"DIFFERS {name} {' '.join(question)}: {first_difference(expected, output)}")
        digest = hashlib.sha256(b"".join((folder / f"{name}.{a}").read_bytes() for a, _ in QUESTIONS)).hexdigest()
        print(f"{name}: {'saved' if args.save else 'compared'} ({digest[:12]})")
    if args.compare:
        print("all answers identical" if not differences else f"{differences} answer(s) differ")
    return 1 if differences else 0


if __name__ == "__main__":
    sys.exit(main())
