"""One emulator subprocess and one webhook receiver per session (emulator and sink-client tests); every test
starts from a reset emulator."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.zoho_emulator.harness import Emulator, Receiver, emulator_config, running_emulator, webhook_receiver


@pytest.fixture(scope="session")
def receiver() -> Iterator[Receiver]:
    with webhook_receiver() as r:
        yield r


@pytest.fixture(scope="session")
def emulator(receiver: Receiver, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    with running_emulator(emulator_config(receiver.url), tmp_path_factory.mktemp("zoho-emulator")) as emu:
        yield emu


@pytest.fixture(autouse=True)
def _fresh(emulator: Emulator, receiver: Receiver) -> None:
    emulator.reset()
    receiver.clear()


@pytest.fixture
def api(emulator: Emulator) -> Iterator[httpx.Client]:
    """An HTTP client with a valid token for the default org, based at /crm/v8."""
    headers = {"Authorization": f"Zoho-oauthtoken {emulator.token()}"}
    with httpx.Client(base_url=f"{emulator.url}/crm/v8", headers=headers, timeout=10) as client:
        yield client
