"""The HTTP server: a real `easytx serve` subprocess on a free loopback port, spoken to over HTTP;
and the micro-batcher on its own (no TensorFlow)."""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

import easytx
from easytx.errors import MissingDependencyError
from easytx.serve import MicroBatcher, QueueFullError, ServeConfig
from easytx.testing import free_port, stop_process

ROOT = Path(__file__).resolve().parents[1]
MAX_TEXTS = 8
MAX_BODY = 4096


class Client:
    def __init__(self, port: int):
        self.port = port

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            response = conn.getresponse()
            raw = response.read()
        finally:
            conn.close()
        kind = response.getheader("content-type", "")
        return response.status, (json.loads(raw) if "json" in kind else raw.decode("utf-8", "replace"))

    def predict(self, payload, **kwargs):
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        return self.request("POST", "/predict", body, {"Content-Type": "application/json", **kwargs})


@pytest.fixture(scope="module")
def predictor(trained):
    learner, t, _ = trained
    return easytx.get_predictor(learner.model, preproc=t)


@pytest.fixture(scope="module")
def server(predictor, tmp_path_factory):
    """`easytx serve` in a subprocess on 127.0.0.1 with small limits; yields (client, process)."""
    folder = predictor.save(tmp_path_factory.mktemp("serve") / "predictor")
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "easytx", "serve", str(folder), "--host", "127.0.0.1"]
    command += ["--port", str(port), "--max-texts", str(MAX_TEXTS), "--max-body-bytes", str(MAX_BODY)]
    command += ["--max-wait-ms", "50", "-q"]
    log = open(tmp_path_factory.mktemp("serve_log") / "server.log", "w+")  # noqa: SIM115
    proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
    client = Client(port)
    deadline = time.monotonic() + 240
    try:
        while True:
            if proc.poll() is not None:
                log.seek(0)
                pytest.fail(f"server exited with {proc.returncode}:\n{log.read()[-3000:]}")
            try:
                if client.request("GET", "/health")[0] == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("server did not answer /health within 240 s")
            time.sleep(0.3)
        yield client, proc
    finally:
        stop_process(proc)
        log.close()


@pytest.mark.integration
def test_health_metadata_and_openapi(server, predictor):
    client, _ = server
    status, body = client.request("GET", "/health")
    assert status == 200 and body["status"] == "ok"
    status, meta = client.request("GET", "/metadata")
    assert status == 200
    assert meta["task"] == "classification" and meta["classes"] == ["neg", "pos"]
    assert meta["maxlen"] == predictor.preproc.maxlen_
    assert meta["server"]["max_texts"] == MAX_TEXTS and meta["server"]["batching"] is True
    status, spec = client.request("GET", "/openapi.json")
    assert status == 200 and "/predict" in spec["paths"]
    schema = spec["paths"]["/predict"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert schema["required"] == ["texts"]
    status, page = client.request("GET", "/docs")
    assert status == 200 and "swagger" in page.lower()


def test_predict_matches_the_predictor(server, predictor, keyword_data):
    client, _ = server
    texts = keyword_data[1].texts[:MAX_TEXTS]
    status, body = client.predict({"texts": texts})
    assert status == 200
    assert body == {"predictions": predictor.predict(texts)}
    status, body = client.predict({"texts": texts, "proba": True})
    assert status == 200 and body["classes"] == ["neg", "pos"]
    np.testing.assert_allclose(body["probabilities"], predictor.predict_proba(texts), atol=2e-6)


def test_long_texts_are_read_in_windows_as_by_the_predictor(server, predictor):
    from easytx.testing import long_keyword_dataset

    client, _ = server
    texts, _ = long_keyword_dataset(8, filler_words=60, seed=5)
    read, cut = predictor.predict_proba(texts), predictor.predict_proba(texts, windows=False)
    assert np.abs(read - cut).max() > 0.1  # windows change these answers
    status, body = client.predict({"texts": texts, "proba": True})
    assert status == 200 and body["predictions"] == predictor.predict(texts)
    np.testing.assert_allclose(body["probabilities"], read, atol=2e-6)


def test_empty_list_is_an_empty_answer(server):
    client, _ = server
    assert server[0].predict({"texts": []}) == (200, {"predictions": []})
    status, body = client.predict({"texts": [], "proba": True})
    assert status == 200 and body["predictions"] == [] and body["probabilities"] == []


def test_limits_give_413(server):
    client, _ = server
    status, body = client.predict({"texts": ["a film"] * (MAX_TEXTS + 1)})
    assert status == 413 and f"limit is {MAX_TEXTS}" in body["detail"]
    status, body = client.predict({"texts": ["x" * (MAX_BODY + 10)]})
    assert status == 413 and str(MAX_BODY) in body["detail"]
    # a chunked body (no Content-Length) is counted as it arrives
    conn = http.client.HTTPConnection("127.0.0.1", client.port, timeout=60)
    try:
        chunks = (b'{"texts": ["' if i == 0 else b"y" * 1000 for i in range(10))
        conn.request("POST", "/predict", body=chunks, encode_chunked=True)
        response = conn.getresponse()
        assert response.status == 413
        response.read()
    finally:
        conn.close()


@pytest.mark.parametrize(
    "body, fragment",
    [
        (b'{"texts": ["a"', "not valid JSON"),
        (b"", "not valid JSON"),
        (b'{"texts": "one string"}', "`texts`: Input should be a valid list"),
        (b'{"texts": ["ok", 5]}', "`texts.1`: Input should be a valid string"),
        (b'{"texts": ["ok"], "proba": "yes"}', "`proba`: Input should be a valid boolean"),
        (b'{"text": ["ok"]}', "unknown field `text`"),
        (b'{"proba": true}', "`texts` is required"),
        (b'["a", "b"]', "the body must be a JSON object"),
        (b'{"texts": [null]}', "`texts.0`"),
        (b'{"texts": ["\\ud800"]}', "lone surrogate"),
        (b'{"texts": ["caf\xe9"]}', "not UTF-8"),
        (b"[" * 2000 + b"]" * 2000, ""),  # under the size limit, deeper than the JSON parser goes
    ],
    ids=[
        "truncated",
        "empty",
        "string",
        "int-element",
        "proba-type",
        "unknown-field",
        "missing",
        "array",
        "null",
        "surrogate",
        "latin1",
        "deep",
    ],
)
def test_bad_requests_give_422_with_a_message(server, body, fragment):
    client, _ = server
    status, answer = client.predict(body)
    assert status == 422, answer
    assert isinstance(answer["detail"], (str, list))
    assert fragment in str(answer["detail"])


def test_concurrent_requests_are_micro_batched_and_answered_in_order(server, predictor):
    client, _ = server
    _, before = client.request("GET", "/health")
    words = ["superb", "awful", "lovely", "dreadful", "wonderful", "boring", "great", "poor"]
    payloads = [[f"the film was {words[(i + j) % 8]}." for j in range(1 + i % 3)] for i in range(24)]
    barrier = threading.Barrier(len(payloads))
    answers: list = [None] * len(payloads)

    def call(i: int) -> None:
        barrier.wait()
        answers[i] = client.predict({"texts": payloads[i]})

    threads = [threading.Thread(target=call, args=(i,)) for i in range(len(payloads))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    for texts, (status, body) in zip(payloads, answers):
        assert status == 200 and body["predictions"] == predictor.predict(texts)
    _, after = client.request("GET", "/health")
    requests = after["requests"] - before["requests"]
    batches = after["batches"] - before["batches"]
    assert requests == len(payloads)
    assert batches < requests  # several requests shared a forward pass


def test_the_server_survives_everything_above(server):
    client, proc = server
    assert proc.poll() is None
    assert client.request("GET", "/health")[0] == 200
    assert client.predict({"texts": ["still here"]})[0] == 200


# --------------------------------------------------------------------------- the batcher alone
def _run_batcher(requests: list[list[str]], *, fn=None, **options):
    calls: list[list[str]] = []

    def default_fn(texts):
        calls.append(list(texts))
        time.sleep(0.01)
        return np.array([[len(t)] for t in texts])

    async def main():
        executor = ThreadPoolExecutor(max_workers=1)
        batcher = MicroBatcher(fn or default_fn, executor, **options)
        await batcher.start()
        try:
            results = await asyncio.gather(*(batcher.submit(r) for r in requests), return_exceptions=True)
            return results, batcher
        finally:
            await batcher.stop()
            executor.shutdown()

    results, batcher = asyncio.run(main())
    return results, calls, batcher


def test_batcher_groups_requests_and_splits_answers_in_order():
    requests = [[f"{'x' * i}", "ab"] for i in range(10)]
    results, calls, batcher = _run_batcher(requests, max_batch_size=8, max_wait_ms=20)
    for texts, rows in zip(requests, results):
        assert rows.ravel().tolist() == [len(t) for t in texts]
    assert len(calls) < len(requests) and max(len(c) for c in calls) <= 8
    assert batcher.batches == len(calls) and batcher.requests == len(requests)
    assert batcher.waiting == 0


def test_batcher_without_batching_runs_each_request_alone():
    requests = [["a"], ["bb", "c"], ["ddd"]]
    results, calls, _ = _run_batcher(requests, batching=False)
    assert sorted(map(tuple, calls)) == sorted(map(tuple, requests))
    assert [r.ravel().tolist() for r in results] == [[1], [2, 1], [3]]


def test_a_failing_request_does_not_fail_its_batch_mates():
    def fn(texts):
        if "boom" in texts:
            raise ValueError("cannot handle boom")
        return np.array([[len(t)] for t in texts])

    results, _, _ = _run_batcher([["ok"], ["boom"], ["fine", "x"]], fn=fn, max_wait_ms=50)
    assert results[0].ravel().tolist() == [2]
    assert isinstance(results[1], ValueError)
    assert results[2].ravel().tolist() == [4, 1]


def test_queue_limit_refuses_with_queue_full():
    results, _, _ = _run_batcher([["a"] * 3, ["b"] * 3], max_queue=4, max_wait_ms=20)
    assert isinstance(results[1], QueueFullError) and "limit 4" in str(results[1])
    assert isinstance(results[1], easytx.EasytxError)  # one error hierarchy, the server's included
    assert results[0].shape == (3, 1)


def test_config_checks_and_missing_dependency(monkeypatch, predictor):
    with pytest.raises(easytx.ConfigError, match="max_texts"):
        ServeConfig(max_texts=0).check()
    with pytest.raises(easytx.ConfigError, match="max_wait_ms"):
        ServeConfig(max_wait_ms=-1).check()
    from easytx.serve import create_app

    monkeypatch.setitem(sys.modules, "uvicorn", None)
    with pytest.raises(MissingDependencyError, match=r"pip install 'easytx-nlp\[serve\]'"):
        create_app(predictor)


def test_a_lone_client_never_waits_for_company():
    """Sequential requests run at once even with a huge batching window (no waiting alone)."""

    async def main():
        executor = ThreadPoolExecutor(max_workers=1)
        batcher = MicroBatcher(lambda texts: np.zeros((len(texts), 1)), executor, max_wait_ms=60_000)
        await batcher.start()
        try:
            for i in range(3):  # would hit the 20 s guard if the batcher waited its window
                await asyncio.wait_for(batcher.submit([f"text {i}"]), timeout=20)
        finally:
            await batcher.stop()
            executor.shutdown()
        return batcher.batches

    assert asyncio.run(main()) == 3
