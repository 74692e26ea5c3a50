"""A bounded LRU whose missing values are made once: concurrent askers share one making."""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable, Sequence
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class OnceCache(Generic[K, V]):
    """Keeps the `capacity` most recently used values; a value being made is made once."""

    def __init__(self, capacity: int) -> None:
        self._values: OrderedDict[K, V] = OrderedDict()
        self._capacity = capacity
        self._pending: dict[K, asyncio.Future[V]] = {}

    def get(self, key: K) -> V | None:
        """The cached value (now the most recently used), or None."""
        value = self._values.get(key)
        if value is not None:
            self._values.move_to_end(key)
        return value

    def put(self, key: K, value: V) -> V:
        self._values[key] = value
        self._values.move_to_end(key)
        while len(self._values) > self._capacity:
            self._values.popitem(last=False)
        return value

    async def get_or_make(self, key: K, make: Callable[[], Awaitable[V]]) -> V:
        """The cached value, else the one being made for `key`, else `await make()` (cached)."""
        value = self.get(key)
        if value is not None:
            return value
        pending = self._pending.get(key)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[V] = asyncio.get_running_loop().create_future()
        self._pending[key] = future
        try:
            value = await make()
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: the waiters, if any, get it
            raise
        finally:
            del self._pending[key]
        future.set_result(value)
        return self.put(key, value)

    async def get_or_make_many(
        self, keys: Sequence[K], make: Callable[[list[K]], Awaitable[Sequence[V]]]
    ) -> list[V]:
        """The values of `keys`, in order: cached ones, ones others are making, and the rest
        made by ONE `await make(missing)` (which returns their values in the same order)."""
        values: dict[K, V] = {}
        waits: dict[K, asyncio.Future[V]] = {}
        missing: list[K] = []
        for key in keys:
            if key in values or key in waits:
                continue
            value = self.get(key)
            if value is not None:
                values[key] = value
            elif (pending := self._pending.get(key)) is not None:
                waits[key] = pending
            else:
                future: asyncio.Future[V] = asyncio.get_running_loop().create_future()
                self._pending[key] = waits[key] = future
                missing.append(key)
        if missing:
            try:
                made = await make(missing)
                if len(made) != len(missing):
                    raise RuntimeError(f"made {len(made)} values for {len(missing)} keys")
            except BaseException as exc:
                for key in missing:
                    del self._pending[key]
                    waits[key].set_exception(exc)
                    waits[key].exception()  # retrieved: the waiters, if any, get it
                raise
            for key, value in zip(missing, made, strict=True):
                del self._pending[key]
                waits.pop(key).set_result(value)
                values[key] = self.put(key, value)
        for key, pending in waits.items():
            values[key] = await asyncio.shield(pending)
        return [values[key] for key in keys]
