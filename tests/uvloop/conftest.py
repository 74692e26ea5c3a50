"""The tests in this folder run on uvloop, the server's default loop (the rest of the suite runs on
asyncio's own): where the two differ for the code under test (uvloop's transports are not
`asyncio.Transport`s), both are tested."""

from __future__ import annotations

from collections.abc import Mapping

import pytest
import uvloop
from pytest_asyncio.plugin import LoopFactory


def pytest_asyncio_loop_factories(config: pytest.Config, item: pytest.Item) -> Mapping[str, LoopFactory]:
    return {"uvloop": uvloop.new_event_loop}
