"""Micro-batching for async surfaces: questions that arrive together are answered together.

An event loop (the Discord bot's) must never run the model itself. `Batcher` hands the work to
one worker thread; every question that queued up while the worker was busy goes to it as one
batch, so a burst of 50 questions costs a few batched encodes instead of 50 single ones. There is
no timer: a lone question starts at once and waits for nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Generic, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")

# Answers one batch, in order; an exception in the list fails only that item's caller.
RunBatch = Callable[[list[Item]], Sequence["Result | Exception"]]


class Batcher(Generic[Item, Result]):
    def __init__(self, run_batch: RunBatch, max_batch: int = 64, name: str = "askbot-worker"):
        self._run_batch = run_batch
        self._max_batch = max_batch
        self._pending: list[tuple[Item, asyncio.Future]] = []
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)
        self._draining: asyncio.Task | None = None
        self.batch_sizes: list[int] = []  # every batch run so far, for benchmarks and tests

    async def submit(self, item: Item) -> Result:
        """Queue one item and wait for its result (or its exception)."""
        future = asyncio.get_running_loop().create_future()
        self._pending.append((item, future))
        if self._draining is None or self._draining.done():
            self._draining = asyncio.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        while self._pending:
            batch, self._pending = self._pending[: self._max_batch], self._pending[self._max_batch :]
            self.batch_sizes.append(len(batch))
            try:
                results = await loop.run_in_executor(self._worker, self._run_batch, [item for item, _ in batch])
            except Exception as error:  # the whole batch failed: every caller hears why
                results = [error] * len(batch)
            for (_, future), result in zip(batch, results, strict=True):
                if future.done():  # the caller gave up (cancelled)
                    continue
                if isinstance(result, Exception):
                    future.set_exception(result)
                else:
                    future.set_result(result)

    async def close(self) -> None:
        """Finish the batch in progress, then stop the worker thread."""
        if self._draining is not None:
            await asyncio.gather(self._draining, return_exceptions=True)
        await asyncio.to_thread(self._worker.shutdown, wait=True)
