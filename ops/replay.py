"""`mzsync replay`: hand over to the projections' own replay, or start a new streams generation.

Both are entry points of `projections/` (`python -m projections ...`), run as their own process:
the operator's CLI orchestrates services and imports none of them.
"""

from __future__ import annotations

import subprocess
import sys

from common.settings import PROJECT_ROOT


def _delegate(args: list[str]) -> int:
    print(f"$ python -m projections {' '.join(args)}", flush=True)
    return subprocess.call([sys.executable, "-m", "projections", *args], cwd=PROJECT_ROOT)


def replay_projections(workers: int | None, keep_old: bool, no_swap: bool) -> int:
    args = ["replay"]
    if workers is not None:
        args += ["--workers", str(workers)]
    if keep_old:
        args.append("--keep-old")
    if no_swap:
        args.append("--no-swap")
    return _delegate(args)


def new_streams_generation(app_id: str | None) -> int:
    return _delegate(["rebuild-canonical", *(["--app-id", app_id] if app_id else [])])
