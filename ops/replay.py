"""`mzsync replay`: hand over to the projections' own replay, or start a new streams generation.

Both live in `projections/`, which this CLI does not own; it checks at run time that they are
there, so the operator gets an explanation rather than a traceback on a build without them.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys

from common.settings import PROJECT_ROOT

CANONICAL_PROCEDURE = """\
A new streams generation re-reads raw.zoho and raw.moodle from offset 0 with empty state and
appends re-derived events to every canonical topic (streams/config.py: STREAMS_APP_ID):
  1. pick a new id, e.g. mzsync-streams-v2 (the current one is {current});
  2. stop every streams worker;
  3. start them again with STREAMS_APP_ID=<new id> and an empty STREAMS_DATADIR each;
  4. watch `mzsync status` until the new group's lag on raw.* reaches 0, then `mzsync replay`
     rebuilds the projections from the new events."""


def _available(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


def _delegate(args: list[str]) -> int:
    print(f"$ python -m projections {' '.join(args)}", flush=True)
    return subprocess.call([sys.executable, "-m", "projections", *args], cwd=PROJECT_ROOT)


def replay_projections(workers: int | None, keep_old: bool, no_swap: bool) -> int:
    if not (_available("projections.__main__") and _available("projections.replay")):
        print("this build has no projections replay (python -m projections replay); nothing to do", file=sys.stderr)
        return 2
    args = ["replay"]
    if workers is not None:
        args += ["--workers", str(workers)]
    if keep_old:
        args.append("--keep-old")
    if no_swap:
        args.append("--no-swap")
    return _delegate(args)


def new_streams_generation(app_id: str | None, current: str) -> int:
    if _available("projections.rebuild_canonical"):
        return _delegate(["rebuild-canonical", *(["--app-id", app_id] if app_id else [])])
    print(CANONICAL_PROCEDURE.format(current=current))
    return 0
