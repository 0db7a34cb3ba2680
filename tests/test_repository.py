"""The repository stands alone: nothing it tracks sends a reader to files outside it.

A clone is all a reader has, so a comment or document that cites a sibling folder of the checkout or an
absolute path of one particular machine points at nothing. What such a file said belongs in `docs/`.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Built from parts so this file does not match itself when a copy of it lands elsewhere in the tree.
OUTSIDE = ("../" + "shared", "/" + "work/")


def tracked_files() -> list[Path]:
    listed = subprocess.run(["git", "-C", str(ROOT), "ls-files", "-z"], check=True, capture_output=True).stdout
    return [ROOT / name for name in listed.decode().split("\0") if name]


def outside_pointers(path: Path, root: Path = ROOT) -> list[str]:
    """`path:line: text` for every line of `path` that names a place outside the repository."""
    text = path.read_bytes().decode("utf-8", "replace")
    return [f"{path.relative_to(root)}:{number}: {line.strip()}"
            for number, line in enumerate(text.splitlines(), 1)
            if any(pattern in line for pattern in OUTSIDE)]


def test_the_repository_tracks_files() -> None:
    # Guards the check below: with no files listed it would pass without looking at anything.
    names = {path.relative_to(ROOT).as_posix() for path in tracked_files()}
    assert {"README.md", "docs/domain.md", "docs/zoho-api.md", "streams/parse.py"} <= names


def test_no_tracked_file_points_outside_the_repository() -> None:
    me = Path(__file__).resolve()
    found = [hit for path in tracked_files() if path != me and path.is_file() for hit in outside_pointers(path)]
    assert not found, "files pointing outside the repository (write what they need into docs/):\n" + "\n".join(found)


def test_the_check_reports_each_pointer_with_its_line(tmp_path: Path) -> None:
    # The detector itself, on a file citing the sibling folder and an absolute path.
    probe = tmp_path / "notes.md"
    probe.write_text("fine\nsee " + OUTSIDE[0] + "/design.md\nalso " + OUTSIDE[1] + "x\n")
    assert [hit.split(": ", 1)[0] for hit in outside_pointers(probe, tmp_path)] == ["notes.md:2", "notes.md:3"]
