"""One emulator subprocess and one webhook receiver per session; every test starts from a reset emulator."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.moodle_emulator.harness import Emulator, Receiver, emulator_config, running_emulator, webhook_receiver


@pytest.fixture(scope="session")
def receiver() -> Iterator[Receiver]:
    with webhook_receiver() as r:
        yield r


@pytest.fixture(scope="session")
def moodle(receiver: Receiver, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    with running_emulator(emulator_config(receiver.url), tmp_path_factory.mktemp("moodle-emulator")) as emu:
        yield emu


@pytest.fixture(autouse=True)
def _fresh(request: pytest.FixtureRequest) -> None:
    # Tests against the real ingress run their own emulator; only the shared one is reset here.
    if "moodle" in request.fixturenames:
        emu: Emulator = request.getfixturevalue("moodle")
        emu.reset()
        request.getfixturevalue("receiver").clear()
