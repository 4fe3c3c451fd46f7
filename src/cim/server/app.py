"""The reward server: a FastAPI app over one CIMScorer, with micro-batching, limits, a token and metrics.

    POST /v1/score     a batch of captions with their sources → reward, QIR, GRC, retrieved ids per caption
    POST /cim          the release's contract: {"response", "index", "k"} → a bare float
    POST /v1/openrlhf  OpenRLHF's remote reward-model request {"query", "prompts", "labels"} → {"rewards", ...}
    GET  /healthz, GET /metrics (Prometheus), GET /docs (OpenAPI)
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Callable, Coroutine, Hashable, Sequence
from contextlib import asynccontextmanager
from typing import Any

import torch
from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.requests import ClientDisconnect

from cim import __version__
from cim.errors import CIMError, OptionError
from cim.reward.empty import nonempty_rows, place
from cim.reward.scorer import CIMScorer
from cim.reward.sources import Source
from cim.server.batcher import BatcherClosed, MicroBatcher, QueueFull
from cim.server.inputs import (
    RequestError,
    check_caption,
    check_count,
    check_k,
    item_source,
    label_source,
    row_source,
)
from cim.server.limits import BearerAuthMiddleware, BodyLimitMiddleware
from cim.server.metrics import MetricsMiddleware, ServerMetrics
from cim.server.settings import ServeSettings
from cim.wire import CaptionScore
from cim.wire.payloads import reward_payload, split_queries
from cim.wire.schemas import (
    CimRequest,
    Health,
    OpenRLHFRequest,
    OpenRLHFResponse,
    ScoreRequest,
    ScoreResponse,
)

log = logging.getLogger(__name__)

ENDPOINTS = frozenset({"/v1/score", "/cim", "/v1/openrlhf", "/healthz", "/metrics", "/docs", "/redoc", "/openapi.json"})


class RewardService:
    """One scorer per k, all sharing the gallery, encoders, source cache and index; called in the worker thread."""

    def __init__(self, scorer: CIMScorer) -> None:
        self.base = scorer
        self._scorers = {scorer.options.k: scorer}

    def score(self, k: Hashable, items: Sequence[tuple[str, Source]]) -> list[CaptionScore]:
        if k not in self._scorers:
            self._scorers[k] = self.base.with_k(int(k))
        captions, sources = zip(*items)
        return self._scorers[k].score(list(captions), list(sources))


class JSONBodyRoute(APIRoute):
    """Parses POST bodies as UTF-8 JSON first: a wrong Content-Type gets a 415, bad bytes and bad JSON a 400 that says so."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            if request.method == "POST":
                media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
                if media_type != "application/json" and not media_type.endswith("+json"):
                    return _error(415, f"send the body as JSON with Content-Type: application/json (got {media_type or 'none'!r})")
                try:
                    body = await request.body()
                except ClientDisconnect:  # the caller went away mid-body; counted as 499, nobody to answer
                    return _error(499, "client closed the request")
                try:
                    request._json = json.loads(body.decode("utf-8"))  # Starlette's cache: FastAPI does not parse again
                except UnicodeDecodeError as error:
                    return _error(400, f"request body is not UTF-8 (bad byte at offset {error.start})")
                except json.JSONDecodeError as error:
                    return _error(400, f"malformed JSON: {error.msg} (line {error.lineno}, column {error.colno})")
                except RecursionError:
                    return _error(400, "malformed JSON: nested too deeply")
            return await handler(request)

        return handle


def _error(status: int, detail: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status, headers=headers)


def _validation_message(error: RequestValidationError) -> str:
    problems = []
    for problem in error.errors()[:5]:
        where = ".".join(str(part) for part in problem["loc"] if part != "body") or "body"
        problems.append(f"{where}: {problem['msg']}")
    more = len(error.errors()) - len(problems)
    return "invalid request: " + "; ".join(problems) + (f" (and {more} more)" if more > 0 else "")


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, error: RequestValidationError) -> JSONResponse:
        return _error(422, _validation_message(error))

    @app.exception_handler(RequestError)
    async def refused(_: Request, error: RequestError) -> JSONResponse:
        return _error(error.status, error.message)

    @app.exception_handler(CIMError)
    async def bad_input(_: Request, error: CIMError) -> JSONResponse:
        return _error(422, str(error))

    @app.exception_handler(QueueFull)
    async def busy(_: Request, error: QueueFull) -> JSONResponse:
        return _error(503, str(error), {"retry-after": "1"})

    @app.exception_handler(BatcherClosed)
    async def closing(_: Request, error: BatcherClosed) -> JSONResponse:
        return _error(503, str(error), {"retry-after": "1"})


def create_app(settings: ServeSettings, scorer: CIMScorer | None = None) -> FastAPI:
    """The app over `scorer` (built from the settings when None; its options, but for k, must be the settings')."""
    if scorer is None:
        scorer = CIMScorer(settings.gallery, settings.reward, device=settings.device)
    scorer = scorer.with_k(settings.reward.k)
    if scorer.options != settings.reward:
        raise OptionError(f"the scorer's options ({scorer.options}) differ from the settings' ({settings.reward})")
    scorer.with_k(settings.max_k)  # max_k must fit the gallery: fail now, not on a request
    gallery = scorer.gallery
    service = RewardService(scorer)
    metrics = ServerMetrics()
    batcher = MicroBatcher(service.score, settings.max_batch, settings.max_wait_ms / 1000, settings.max_queue, metrics)
    if not settings.loopback and settings.token is None:
        log.warning("serving on %s without a bearer token: anyone who can reach the port can use it", settings.host)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        batcher.start()
        if settings.threads is not None:  # OpenMP thread counts are per thread: set it where the scorer runs
            await batcher.run_in_worker(torch.set_num_threads, settings.threads)
        await batcher.run_in_worker(service.score, settings.reward.k, [("warm-up", gallery.ids[0])])
        yield
        await batcher.close()

    app = FastAPI(title="CIM reward server", version=__version__, lifespan=lifespan,
                  description="The CIM caption reward (GRC + β·QIR) over one gallery, micro-batched.")
    app.router.route_class = JSONBodyRoute
    _install_error_handlers(app)

    async def score_items(k: int, items: list[tuple[str, Source]]) -> list[CaptionScore]:
        return await batcher.submit(k, items) if items else []

    @app.post("/v1/score", response_model=ScoreResponse, summary="Score a batch of captions")
    async def score(body: ScoreRequest) -> ScoreResponse:
        check_count(len(body.items), settings)
        k = check_k(body.k, settings)

        def sources() -> list[Source]:
            return [item_source(item, f"item {i}", gallery, settings) for i, item in enumerate(body.items)]

        inline = any(item.image_b64 is not None for item in body.items)
        resolved = await asyncio.to_thread(sources) if inline else sources()  # decoding images: off the loop
        results = await score_items(k, [(item.caption, src) for item, src in zip(body.items, resolved)])
        return ScoreResponse(results=results, k=k, mode=settings.reward.mode)

    @app.post("/cim", response_model=float, summary="The release's endpoint: one caption → a bare float")
    async def cim(body: CimRequest) -> float:
        k = check_k(body.k, settings)
        if settings.empty_reward is not None and not body.response.strip():
            return settings.empty_reward
        check_caption(body.response, "response", settings)
        source = row_source(body.index, gallery, "index")
        return (await score_items(k, [(body.response, source)]))[0].reward

    @app.post("/v1/openrlhf", response_model=OpenRLHFResponse, summary="OpenRLHF's remote reward-model request")
    async def openrlhf(body: OpenRLHFRequest) -> dict[str, Any]:
        check_count(len(body.query), settings)
        captions, labels = split_queries(body.query, body.prompts, body.labels)
        rows = nonempty_rows(captions) if settings.empty_reward is not None else range(len(captions))
        items = []
        for i in rows:
            check_caption(captions[i], f"query {i}", settings)
            items.append((captions[i], label_source(labels[i], gallery, f"query {i}")))
        results = place(await score_items(settings.reward.k, items), rows, len(captions))
        return reward_payload(results, settings.empty_reward or 0.0)

    @app.get("/healthz", response_model=Health, summary="Liveness and configuration")
    async def healthz() -> Health:
        return Health(status="ok", gallery_rows=len(gallery), k=settings.reward.k, max_k=settings.max_k, mode=settings.reward.mode,
                      max_batch=settings.max_batch, queue_items=batcher.queued_items)

    @app.get("/metrics", summary="Prometheus metrics")
    async def prometheus() -> Response:
        return Response(metrics.render(), media_type=metrics.content_type)

    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    if settings.token is not None:
        app.add_middleware(BearerAuthMiddleware, token=settings.token)
    app.add_middleware(MetricsMiddleware, metrics=metrics, endpoints=ENDPOINTS)
    return app


def serve(settings: ServeSettings) -> None:
    """Build the scorer and run the app under uvicorn until SIGINT/SIGTERM; in-flight batches finish first."""
    import uvicorn

    config = uvicorn.Config(create_app(settings), host=settings.host, port=settings.port, log_level=settings.log_level,
                            access_log=False, timeout_graceful_shutdown=settings.graceful_timeout_s)
    uvicorn.Server(config).run()
