"""An HTTP server for a saved predictor: FastAPI (ASGI) + uvicorn, with micro-batching.

Endpoints:

* ``POST /predict`` with ``{"texts": ["...", ...], "proba": false}`` ->
  ``{"predictions": [...]}`` (plus ``"classes"`` and ``"probabilities"`` when ``proba`` is true);
* ``GET /health`` -> ``{"status": "ok", ...}``;
* ``GET /metadata`` -> task, classes, model, versions, metrics at save time and the server limits;
* ``GET /docs`` (OpenAPI page) and ``GET /openapi.json``.

The predictor is loaded once, before the server accepts connections, and warmed up with one
prediction. One inference thread runs the model. With micro-batching on (the default), concurrent
requests are queued and the thread takes them together, up to ``max_batch_size`` texts: a batch
starts with everything already waiting (the requests that arrived during the previous forward
pass) and, when requests have recently been arriving together, waits up to ``max_wait_ms`` for
more. A lone client never waits; under load one forward pass serves many requests, so throughput
grows with the number of clients.

Limits: more than ``max_texts`` texts or a body over ``max_body_bytes`` -> 413; malformed JSON,
wrong types or unknown fields -> 422 with a message saying what was wrong; an empty list -> 200
with empty results; more than ``max_queue`` texts waiting -> 503. A failing batch is retried
request by request so one bad request cannot fail the others; no request can stop the server.

Needs the ``serve`` extra: ``pip install 'easytx-nlp[serve]'``.
"""

# no `from __future__ import annotations`: FastAPI reads the endpoint annotations at run time
import asyncio
import contextlib
import dataclasses
import json
import logging
import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from .errors import ConfigError, MissingDependencyError, QueueFullError
from .windows import check_windows

logger = logging.getLogger(__name__)

__all__ = ["ServeConfig", "MicroBatcher", "create_app", "serve", "require_server_dependencies"]

_HINT = "The HTTP server needs FastAPI and uvicorn: pip install 'easytx-nlp[serve]'"


def require_server_dependencies() -> None:
    """Raise :class:`MissingDependencyError` naming the pip command when FastAPI/uvicorn are absent."""
    missing = []
    for name in ("fastapi", "uvicorn", "pydantic"):
        try:
            __import__(name)
        except ImportError:
            missing.append(name)
    if missing:
        raise MissingDependencyError(f"{_HINT} (missing: {', '.join(missing)}).")


@dataclasses.dataclass
class ServeConfig:
    """Server limits and batching options (all checked in :meth:`check`).

    Attributes
    ----------
    batching : bool
        Micro-batch concurrent requests (``False``: one forward pass per request).
    max_batch_size : int
        Most texts in one micro-batch (a larger single request runs as its own batch). On CPUs,
        forward passes over more than about 16 texts stop paying off (benchmarks/serve_bench.py);
        raise it on a GPU.
    max_wait_ms : float
        How long a batch may wait for more requests once started (only while requests have
        recently been arriving together; a lone client never waits).
    max_texts : int
        Most texts in one request (more -> 413).
    max_body_bytes : int
        Largest request body (more -> 413).
    max_queue : int
        Most texts waiting for the model (more -> 503, retry later).
    """

    batching: bool = True
    max_batch_size: int = 16
    max_wait_ms: float = 5.0
    max_texts: int = 256
    max_body_bytes: int = 1_000_000
    max_queue: int = 4096

    def check(self) -> "ServeConfig":
        for name in ("max_batch_size", "max_texts", "max_body_bytes", "max_queue"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"`{name}` must be a positive int. Received: {name}={value!r}")
        wait = self.max_wait_ms
        if isinstance(wait, bool) or not isinstance(wait, (int, float)) or not 0 <= wait <= 1000:
            raise ConfigError(f"`max_wait_ms` must be a number in [0, 1000]. Received: max_wait_ms={wait!r}")
        return self


class MicroBatcher:
    """Collects concurrent requests into batches for one inference thread.

    Parameters
    ----------
    fn : callable
        ``fn(list_of_texts) -> sequence`` with one entry per text (runs in the inference thread).
    executor : ThreadPoolExecutor
        The single inference thread.
    max_batch_size, max_wait_ms, max_queue :
        See :class:`ServeConfig`.
    batching : bool
        ``False`` runs each request on its own (for comparison).
    """

    def __init__(
        self,
        fn: Callable[[list], Any],
        executor: ThreadPoolExecutor,
        *,
        max_batch_size: int = 16,
        max_wait_ms: float = 5.0,
        max_queue: int = 4096,
        batching: bool = True,
    ):
        self.fn = fn
        self.executor = executor
        self.max_batch_size = max_batch_size
        self.max_wait_ms = max_wait_ms
        self.max_queue = max_queue
        self.batching = batching
        self.waiting = 0  # texts submitted and not yet answered
        self.batches = 0
        self.requests = 0
        self._queue: asyncio.Queue | None = None
        self._worker: asyncio.Task | None = None
        self._held: tuple | None = None
        self._last_batch_requests = 0

    async def start(self) -> None:
        self._queue = asyncio.Queue()
        if self.batching:
            self._worker = asyncio.get_running_loop().create_task(self._run(), name="easytx-batcher")

    async def stop(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
            self._worker = None

    async def submit(self, texts: list) -> Any:
        """Rows of ``fn(texts)`` for these texts, computed alone or with other requests'."""
        if self.waiting + len(texts) > self.max_queue:
            raise QueueFullError(
                f"{self.waiting} texts are already waiting for the model (limit {self.max_queue}); "
                "retry shortly."
            )
        self.waiting += len(texts)
        self.requests += 1
        try:
            if not self.batching:
                self.batches += 1
                return await asyncio.get_running_loop().run_in_executor(self.executor, self.fn, texts)
            future = asyncio.get_running_loop().create_future()
            await self._queue.put((texts, future))
            return await future
        finally:
            self.waiting -= len(texts)

    async def _collect(self) -> list:
        """One batch: the first waiting request plus whatever else is already queued; then, if
        requests have recently been arriving together, up to ``max_wait_ms`` more for stragglers.

        A lone client therefore never waits (its batches hold one request), while under load
        the batches fill: the requests that arrive during one forward pass form the next batch.
        """
        loop = asyncio.get_running_loop()
        if self._held is not None:  # the request that did not fit into the previous batch
            batch, self._held = [self._held], None
        else:
            batch = [await self._queue.get()]
        size = len(batch[0][0])
        deadline = None
        while size < self.max_batch_size:
            try:
                item = self._queue.get_nowait()
            except asyncio.QueueEmpty:
                if self.max_wait_ms <= 0 or (len(batch) == 1 and self._last_batch_requests <= 1):
                    break
                if deadline is None:
                    deadline = loop.time() + self.max_wait_ms / 1000.0
                timeout = deadline - loop.time()
                if timeout <= 0:
                    break
                try:
                    item = await asyncio.wait_for(self._queue.get(), timeout)
                except asyncio.TimeoutError:
                    break
            if size + len(item[0]) > self.max_batch_size:
                self._held = item
                break
            batch.append(item)
            size += len(item[0])
        self._last_batch_requests = len(batch)
        return batch

    async def _run(self) -> None:
        while True:
            batch = await self._collect()
            batch = [(texts, fut) for texts, fut in batch if not fut.done()]  # drop cancelled requests
            if batch:
                try:
                    await self._answer(batch)
                except Exception:  # noqa: BLE001 - never let the batching loop die
                    logger.exception("Unexpected error while answering a batch")
                    for _, fut in batch:
                        if not fut.done():
                            fut.set_exception(RuntimeError("internal error while batching"))

    async def _answer(self, batch: list) -> None:
        loop = asyncio.get_running_loop()
        self.batches += 1
        texts = [t for item, _ in batch for t in item]
        try:
            rows = await loop.run_in_executor(self.executor, self.fn, texts)
        except Exception as exc:  # noqa: BLE001 - isolate the failing request(s); keep serving
            if len(batch) == 1:
                if not batch[0][1].done():
                    batch[0][1].set_exception(exc)
                return
            logger.warning("A batch of %d requests failed; retrying them one by one.", len(batch))
            for item, fut in batch:
                try:
                    result = await loop.run_in_executor(self.executor, self.fn, item)
                except Exception as exc:  # noqa: BLE001
                    if not fut.done():
                        fut.set_exception(exc)
                else:
                    if not fut.done():
                        fut.set_result(result)
            return
        start = 0
        for item, fut in batch:
            if not fut.done():
                fut.set_result(rows[start : start + len(item)])
            start += len(item)


def _jsonable(value: Any) -> Any:
    if hasattr(value, "item") and not isinstance(value, (list, dict, str)):
        return value.item()
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


def _validation_message(errors: Sequence[dict]) -> str:
    parts = []
    for err in errors[:5]:
        where = ".".join(str(p) for p in err.get("loc", ())) or "body"
        received = err.get("input")
        shown = json.dumps(received)[:60] if not isinstance(received, dict) else "an object"
        if err.get("type") == "model_type":
            parts.append(f"the body must be a JSON object (received {shown})")
        elif err.get("type") == "missing":
            parts.append(f"`{where}` is required")
        elif err.get("type") == "extra_forbidden":
            parts.append(f"unknown field `{where}` (allowed: texts, proba)")
        else:
            parts.append(f"`{where}`: {err.get('msg', 'invalid')} (received {shown})")
    more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
    return (
        "Invalid request: "
        + "; ".join(parts)
        + more
        + '. Expected a JSON object like {"texts": ["a text", ...], "proba": false}.'
    )


def _models() -> tuple[Any, Any]:
    from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictStr

    class PredictRequest(BaseModel):
        """Texts to classify."""

        model_config = ConfigDict(extra="forbid")
        texts: list[StrictStr] = Field(description="The texts, in order.", examples=[["a great film"]])
        proba: StrictBool = Field(False, description="Also return class probabilities.")

    class PredictResponse(BaseModel):
        """One prediction per text, in the request's order."""

        predictions: list[Any]
        classes: list[Any] | None = Field(None, description="Class names (with proba=true).")
        probabilities: list[list[float]] | None = Field(
            None, description="One row per text, one column per class (with proba=true)."
        )

    return PredictRequest, PredictResponse


def predictor_metadata(predictor: Any, manifest: dict | None = None) -> dict:
    """What ``GET /metadata`` reports about the model."""
    manifest = manifest or {}
    classes = [_jsonable(c) for c in predictor.get_classes()]
    return {
        "task": predictor.task.name,
        "classes": classes,
        "engine": getattr(predictor, "engine", "tf"),
        "model_name": predictor.preproc.model_name,
        "maxlen": int(predictor.preproc.maxlen_),
        "metrics": manifest.get("metrics", predictor.metrics),
        "versions": manifest.get("versions", {}),
        "saved_at_schema": manifest.get("schema_version"),
    }


def create_app(
    predictor: Any,
    *,
    config: ServeConfig | None = None,
    metadata: dict | None = None,
    warmup: bool = True,
) -> Any:
    """Build the FastAPI application serving ``predictor``.

    Parameters
    ----------
    predictor : Predictor
        Loaded once; all requests share it.
    config : ServeConfig, optional
        Limits and batching options.
    metadata : dict, optional
        Extra facts for ``GET /metadata`` (e.g. the saved ``easytx.json``).
    warmup : bool
        Run one prediction at start-up so the first request does not pay for graph tracing.

    Returns
    -------
    fastapi.FastAPI
    """
    require_server_dependencies()
    import numpy as np
    from fastapi import FastAPI, Request
    from fastapi.responses import JSONResponse
    from pydantic import ValidationError

    from . import __version__

    config = (config or ServeConfig()).check()
    PredictRequest, PredictResponse = _models()
    model_info = predictor_metadata(predictor, metadata)
    started = time.time()
    state: dict[str, Any] = {}

    def run_model(texts: list) -> list:
        # the predictor's one path, in the worker thread (long texts in windows): labels decoded
        # from the same encoded inputs (a tagger's entities need them) and the probabilities
        # they come from; one (label, probabilities) pair per text, sliced per request
        labels, proba = predictor.predict_with_proba(list(texts), verbose=0)
        return list(zip(labels, proba))

    @contextlib.asynccontextmanager
    async def lifespan(app: Any):
        executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="easytx-infer")
        if warmup:
            await asyncio.get_running_loop().run_in_executor(executor, run_model, ["warm up"])
        batcher = MicroBatcher(
            run_model,
            executor,
            max_batch_size=config.max_batch_size,
            max_wait_ms=config.max_wait_ms,
            max_queue=config.max_queue,
            batching=config.batching,
        )
        await batcher.start()
        state["batcher"] = batcher
        logger.info("easytx server ready (%s)", "micro-batching" if config.batching else "no batching")
        try:
            yield
        finally:
            await batcher.stop()
            executor.shutdown(wait=False, cancel_futures=True)

    app = FastAPI(
        title="easytx predictor",
        version=__version__,
        description=(
            f"Task: {model_info['task']}; classes: {model_info['classes']}. "
            "POST texts to /predict; see /metadata for the model and the server limits."
        ),
        lifespan=lifespan,
    )

    def error(status: int, message: str) -> Any:
        return JSONResponse(status_code=status, content={"detail": message})

    async def read_body(request: Request) -> bytes | None:
        length = request.headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > config.max_body_bytes:
            return None
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > config.max_body_bytes:
                return None
            chunks.append(chunk)
        return b"".join(chunks)

    error_responses = {
        413: {"description": "Too many texts or body too large"},
        422: {"description": "Malformed JSON, wrong types or unknown fields"},
        503: {"description": "Too many texts waiting; retry later"},
    }
    request_body = {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": PredictRequest.model_json_schema()}},
        }
    }

    @app.post(
        "/predict",
        response_model=PredictResponse,
        response_model_exclude_none=True,
        responses=error_responses,
        openapi_extra=request_body,
        summary="Predict labels (and probabilities) for a list of texts",
    )
    async def predict(request: Request) -> Any:
        body = await read_body(request)
        if body is None:
            return error(413, f"Request body larger than {config.max_body_bytes} bytes.")
        try:
            payload = json.loads(body)
        except UnicodeDecodeError:
            return error(422, "Request body is not UTF-8 encoded JSON.")
        except RecursionError:
            return error(422, "Request body nests JSON too deeply.")
        except json.JSONDecodeError as exc:
            return error(
                422,
                f"Request body is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}. "
                'Expected {"texts": ["a text", ...], "proba": false}.',
            )
        try:
            req = PredictRequest.model_validate(payload)
        except ValidationError as exc:
            return error(422, _validation_message(exc.errors()))
        if len(req.texts) > config.max_texts:
            return error(
                413,
                f"Too many texts: {len(req.texts)} in one request; the limit is {config.max_texts}. "
                "Split the list into several requests.",
            )
        for i, text in enumerate(req.texts):
            try:
                text.encode("utf-8")
            except UnicodeEncodeError:
                return error(422, f"`texts.{i}` is not valid Unicode (it holds a lone surrogate).")
        classes = model_info["classes"]
        if not req.texts:
            empty = {"classes": classes, "probabilities": []} if req.proba else {}
            return JSONResponse({"predictions": [], **empty})
        try:
            answers = await state["batcher"].submit(req.texts)
        except QueueFullError as exc:
            return error(503, str(exc))
        except Exception as exc:  # noqa: BLE001 - report, keep serving
            logger.exception("Prediction failed")
            return error(500, f"Prediction failed: {type(exc).__name__}: {str(exc)[:200]}")
        out: dict[str, Any] = {"predictions": [_jsonable(label) for label, _ in answers]}
        if req.proba:  # one row per text: per class, or per token for a tagger
            out["classes"] = classes
            out["probabilities"] = [np.asarray(p, dtype=float).round(6).tolist() for _, p in answers]
        return JSONResponse(out)  # already plain JSON: skip response-model re-validation

    @app.get("/health", summary="Liveness: the predictor is loaded and the server answers")
    async def health() -> dict:
        batcher = state.get("batcher")
        return {
            "status": "ok" if batcher is not None else "starting",
            "uptime_s": round(time.time() - started, 3),
            "requests": batcher.requests if batcher else 0,
            "batches": batcher.batches if batcher else 0,
            "waiting_texts": batcher.waiting if batcher else 0,
        }

    @app.get("/metadata", summary="The model, its classes and metrics, and the server limits")
    async def get_metadata() -> dict:
        return {**model_info, "easytx_version": __version__, "server": dataclasses.asdict(config)}

    return app


def serve(
    predictor_dir: str | os.PathLike,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    config: ServeConfig | None = None,
    batch_size: int | None = None,
    log_level: str = "info",
    access_log: bool = False,
    engine: str = "auto",
    intra_op_threads: int | None = None,
    windows: bool = True,
    allow_spinning: bool | None = None,
) -> None:
    """Load the predictor saved at ``predictor_dir`` and serve it until interrupted.

    Parameters
    ----------
    predictor_dir : path
        A folder written by :meth:`Predictor.save`.
    host, port :
        Where to listen (default: loopback only; use ``0.0.0.0`` deliberately).
    config : ServeConfig, optional
        Limits and batching.
    batch_size : int, optional
        Texts per forward pass inside the predictor (default: saved value).
    engine : {"auto", "tf", "onnx", "onnx-int8"}
        What runs the model (see :func:`easytx.load_predictor`): the ONNX engines serve the
        graphs ``save(onnx=...)`` wrote, without loading TensorFlow.
    intra_op_threads : int, optional
        ONNX engines: onnxruntime's intra-op threads.
    windows : bool
        Read texts longer than the model's ``maxlen`` in sliding windows (default), or truncate
        them (see :class:`~easytx.Predictor`'s ``windows``).
    allow_spinning : bool, optional
        ONNX engines: let onnxruntime's idle threads spin-wait (see :func:`easytx.load_predictor`).
    """
    require_server_dependencies()
    import uvicorn

    from . import artifacts
    from .predictor import load_predictor

    config = (config or ServeConfig()).check()
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
        raise ConfigError(f"`port` must be an int in [0, 65535]. Received: port={port!r}")
    manifest = artifacts.read_manifest(predictor_dir)
    predictor = load_predictor(
        predictor_dir,
        batch_size=batch_size,
        engine=engine,
        intra_op_threads=intra_op_threads,
        allow_spinning=allow_spinning,
    )
    predictor.windows = check_windows(windows)
    logger.info("Serving %s with the %r engine.", predictor_dir, predictor.engine)
    app = create_app(predictor, config=config, metadata=manifest)
    uvicorn.run(app, host=host, port=port, log_level=log_level, access_log=access_log, workers=1)
