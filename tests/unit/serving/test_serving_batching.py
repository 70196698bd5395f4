"""Micro-batching: concurrent requests share model calls; a lone request is not delayed."""

from __future__ import annotations

import asyncio
import re
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from lathe.serving import ServeSettings, create_app
from lathe.serving.batching import MicroBatcher


def _slow_double(calls):
    def call(items):
        calls.append(len(items))
        time.sleep(0.01)  # a model call long enough for requests to pile up
        return [i * 2 for i in items]

    return call


def test_concurrent_submits_are_merged_and_answered_in_order():
    calls: list[int] = []

    async def main():
        batcher = MicroBatcher(
            _slow_double(calls), ThreadPoolExecutor(1), max_batch=16, max_in_flight=1
        )
        results = await asyncio.gather(*(batcher.submit(i, 1) for i in range(40)))
        await batcher.close()
        return results

    assert asyncio.run(main()) == [i * 2 for i in range(40)]
    assert sum(calls) == 40 and max(calls) > 1 and max(calls) <= 16


def test_lone_request_is_not_kept_waiting():
    calls: list[int] = []

    async def main():
        batcher = MicroBatcher(
            lambda items: calls.append(len(items)) or items, ThreadPoolExecutor(1), max_wait_ms=500
        )
        started = time.perf_counter()
        await batcher.submit(1, 1)
        elapsed = time.perf_counter() - started
        await batcher.close()
        return elapsed

    assert asyncio.run(main()) < 0.2  # far less than max_wait: nothing else was queued


def test_errors_reach_every_request_of_the_batch_and_close_is_safe():
    def broken(items):
        raise ValueError("model exploded")

    async def main():
        batcher = MicroBatcher(broken, ThreadPoolExecutor(1))
        outcomes = await asyncio.gather(
            *(batcher.submit(i, 1) for i in range(3)), return_exceptions=True
        )
        await batcher.close()
        late = MicroBatcher(lambda items: items, ThreadPoolExecutor(1))
        await late.close()
        return outcomes, await late.submit("after close", 1)

    outcomes, late = asyncio.run(main())
    assert all(isinstance(o, ValueError) for o in outcomes)
    assert late == "after close"  # answered unbatched, not lost


def test_a_per_item_error_fails_only_its_request_even_after_close():
    def picky(items):
        return [ValueError(f"bad {i}") if i < 0 else i for i in items]

    async def main():
        batcher = MicroBatcher(picky, ThreadPoolExecutor(1))
        together = await asyncio.gather(
            *(batcher.submit(i, 1) for i in (1, -1, 2)), return_exceptions=True
        )
        await batcher.close()
        late = await asyncio.gather(batcher.submit(-5, 1), return_exceptions=True)
        return together, late[0]

    together, late = asyncio.run(main())
    assert together[0] == 1 and together[2] == 2 and str(together[1]) == "bad -1"
    assert isinstance(late, ValueError) and str(late) == "bad -5"


def _batch_stats(metrics_text: str) -> tuple[float, float]:
    total = float(re.search(r"lathe_batch_requests_sum\{[^}]*\} (\S+)", metrics_text).group(1))
    count = float(re.search(r"lathe_batch_requests_count\{[^}]*\} (\S+)", metrics_text).group(1))
    return total, count


async def _hammer(app, rows, n_requests=96, concurrency=32):
    transport = httpx.ASGITransport(app=app)
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            gate = asyncio.Semaphore(concurrency)

            async def one(i):
                async with gate:
                    r = await client.post(
                        "/v1/models/adult/predict", json={"rows": [rows[i % len(rows)]]}
                    )
                    return r.status_code, r.json()

            results = await asyncio.gather(*(one(i) for i in range(n_requests)))
            metrics_text = (await client.get("/metrics")).text
    return results, metrics_text


@pytest.mark.parametrize("batching", [True, False])
def test_server_merges_concurrent_requests_only_when_batching(
    tmp_path, adult_model_dir, holdout_rows, batching
):
    app = create_app(
        ServeSettings(
            models=[str(adult_model_dir)],
            batching=batching,
            max_wait_ms=2,
            prediction_log=None,
            reload_interval_s=0,
        )
    )
    results, metrics_text = asyncio.run(_hammer(app, holdout_rows))
    assert all(status == 200 for status, _ in results)
    assert len({body["request_id"] for _, body in results}) == 96
    total, count = _batch_stats(metrics_text)
    assert total == 96
    if batching:
        assert total / count > 1, "concurrent requests should share model calls"
    else:
        assert count == 96


def test_batched_answers_match_unbatched_ones(adult_model_dir, holdout_rows):
    from lathe.serving.predictor import load_predictor

    predictor = load_predictor("adult", "v", adult_model_dir)
    expected = [predictor.predict_rows([row])[0] for row in holdout_rows[:96]]
    app = create_app(
        ServeSettings(models=[str(adult_model_dir)], prediction_log=None, reload_interval_s=0)
    )
    results, _ = asyncio.run(_hammer(app, holdout_rows[:96]))
    got = [body["predictions"][0] for _, body in results]
    assert got == expected
