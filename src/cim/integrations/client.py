"""Client of `cim serve`: sync and async, batching, timeouts, retries with exponential backoff.

    client = RewardClient("http://127.0.0.1:3545")              # or $CIM_SERVER_URL; token: $CIM_SERVE_TOKEN
    client.score(["a red circle"], ["scene-00017"])             # sources: gallery id, row, image bytes/PIL/path
    await client.ascore(captions, sources)                      # the same from async code
    client.cim("a red circle", index=17, k=3)                   # the release's /cim

Transport errors, timeouts and 429/502/503/504 are retried (the reward is idempotent); any other 4xx/5xx
raises RewardServerError with the server's message at once.
"""

from __future__ import annotations

import asyncio
import base64
import io
import os
import random
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx
from PIL import Image

from cim.errors import CIMError, InputError
from cim.wire import TOKEN_ENV, CaptionScore
from cim.wire.schemas import ScoreResponse

DEFAULT_URL = "http://127.0.0.1:3545"
URL_ENV = "CIM_SERVER_URL"
RETRY_STATUSES = frozenset({429, 502, 503, 504})

# A gallery id, a gallery row, an image file's bytes, a PIL image, or a path under the server's --image-root.
ClientSource = str | int | bytes | Image.Image | Path


class RewardServerError(CIMError):
    """The server refused a request, or could not be reached within the retries; `status` is the HTTP status."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


def encode_item(caption: str, source: ClientSource) -> dict[str, Any]:
    """One /v1/score item."""
    if isinstance(source, bool):
        raise InputError(f"a source cannot be a bool ({source!r})")
    if isinstance(source, str):
        return {"caption": caption, "source_id": source}
    if isinstance(source, int):
        return {"caption": caption, "index": source}
    if isinstance(source, Image.Image):
        buffer = io.BytesIO()
        source.save(buffer, format="PNG")
        source = buffer.getvalue()
    if isinstance(source, bytes):
        return {"caption": caption, "image_b64": base64.b64encode(source).decode("ascii")}
    if isinstance(source, Path):
        return {"caption": caption, "image_path": str(source)}
    raise InputError(
        f"a source must be a gallery id (str), a gallery row (int), image bytes, a PIL image or a Path; "
        f"got {type(source).__name__}"
    )


class _Attempts:
    """The tries of one call: yields the pause before each; `final()` says whether an outcome ends the call."""

    def __init__(self, url: str, retries: int, backoff: float, max_backoff: float) -> None:
        self.url, self.retries, self.backoff, self.max_backoff = url, retries, backoff, max_backoff
        self.last: httpx.Response | Exception | None = None

    def __iter__(self) -> Iterator[float]:
        for attempt in range(self.retries + 1):
            yield 0.0 if attempt == 0 else min(self.max_backoff, self.backoff * 2 ** (attempt - 1)) * random.uniform(1.0, 1.25)

    def final(self, outcome: httpx.Response | Exception) -> bool:
        self.last = outcome
        return isinstance(outcome, httpx.Response) and outcome.status_code not in RETRY_STATUSES

    def error(self) -> RewardServerError:
        last = self.last
        if isinstance(last, httpx.Response):
            return RewardServerError(f"{self.url}: {_detail(last)} (after {self.retries} retries)", last.status_code)
        return RewardServerError(f"{self.url}: {type(last).__name__}: {last} (after {self.retries} retries)")


def _detail(response: httpx.Response) -> str:
    try:
        detail = response.json().get("detail", response.text)
    except (ValueError, AttributeError):
        detail = response.text
    return f"HTTP {response.status_code}: {detail}"


def _payload(response: httpx.Response) -> Any:
    if response.status_code >= 400:
        raise RewardServerError(f"{response.request.url}: {_detail(response)}", response.status_code)
    return response.json()


class RewardClient:
    """Talks to one `cim serve` (or a load balancer in front of several); safe to share between threads."""

    def __init__(
        self,
        url: str | None = None,
        token: str | None = None,
        timeout: float = 60.0,
        retries: int = 3,
        backoff: float = 0.25,
        max_backoff: float = 8.0,
        batch_size: int = 1024,
    ) -> None:
        self.url = (url or os.environ.get(URL_ENV) or DEFAULT_URL).rstrip("/")
        token = token if token is not None else os.environ.get(TOKEN_ENV)
        self.headers = {"authorization": f"Bearer {token}"} if token else {}
        self.timeout = timeout
        self.retries, self.backoff, self.max_backoff = retries, backoff, max_backoff
        self.batch_size = batch_size  # captions per request; keep it at most the server's max_items
        self._client: httpx.Client | None = None
        self._aclient: httpx.AsyncClient | None = None
        self._aclient_loop: asyncio.AbstractEventLoop | None = None

    def _attempts(self, path: str) -> _Attempts:
        return _Attempts(self.url + path, self.retries, self.backoff, self.max_backoff)

    def _bodies(self, captions: Sequence[str], sources: Sequence[ClientSource], k: int | None) -> list[dict[str, Any]]:
        if len(captions) != len(sources):
            raise InputError(f"{len(captions)} captions but {len(sources)} sources")
        items = [encode_item(caption, source) for caption, source in zip(captions, sources)]
        extra = {} if k is None else {"k": k}
        return [{"items": items[i : i + self.batch_size], **extra} for i in range(0, len(items), self.batch_size)]

    # synchronous
    def _sync(self) -> httpx.Client:
        if self._client is None:
            self._client = httpx.Client(base_url=self.url, headers=self.headers, timeout=self.timeout)
        return self._client

    def _request(self, method: str, path: str, body: Any = None) -> Any:
        attempts = self._attempts(path)
        for pause in attempts:
            time.sleep(pause)
            try:
                outcome: httpx.Response | Exception = self._sync().request(method, path, json=body)
            except httpx.TransportError as error:  # connection refused or reset, timeouts
                outcome = error
            if attempts.final(outcome):
                return _payload(outcome)
        raise attempts.error()

    def score(self, captions: Sequence[str], sources: Sequence[ClientSource], k: int | None = None) -> list[CaptionScore]:
        """Score captions against their sources, `batch_size` per request, in order."""
        bodies = self._bodies(captions, sources, k)
        return [result for body in bodies for result in ScoreResponse.model_validate(self._request("POST", "/v1/score", body)).results]

    def cim(self, response: str, index: int, k: int = 3) -> float:
        """The release's /cim: the reward of `response` for the image at gallery row `index`."""
        return float(self._request("POST", "/cim", {"response": response, "index": index, "k": k}))

    def health(self) -> dict[str, Any]:
        return self._request("GET", "/healthz")

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def __enter__(self) -> RewardClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # asynchronous
    def _async(self) -> httpx.AsyncClient:
        loop = asyncio.get_running_loop()
        if self._aclient is None or self._aclient_loop is not loop:  # an AsyncClient belongs to one event loop
            self._aclient = httpx.AsyncClient(base_url=self.url, headers=self.headers, timeout=self.timeout,
                                              limits=httpx.Limits(max_connections=256, max_keepalive_connections=256))
            self._aclient_loop = loop
        return self._aclient

    async def _arequest(self, method: str, path: str, body: Any = None) -> Any:
        attempts = self._attempts(path)
        for pause in attempts:
            await asyncio.sleep(pause)
            try:
                outcome: httpx.Response | Exception = await self._async().request(method, path, json=body)
            except httpx.TransportError as error:
                outcome = error
            if attempts.final(outcome):
                return _payload(outcome)
        raise attempts.error()

    async def ascore(self, captions: Sequence[str], sources: Sequence[ClientSource], k: int | None = None) -> list[CaptionScore]:
        """`score` from async code; the requests of one call run concurrently."""
        bodies = self._bodies(captions, sources, k)
        answers = await asyncio.gather(*(self._arequest("POST", "/v1/score", body) for body in bodies))
        return [result for answer in answers for result in ScoreResponse.model_validate(answer).results]

    async def acim(self, response: str, index: int, k: int = 3) -> float:
        return float(await self._arequest("POST", "/cim", {"response": response, "index": index, "k": k}))

    async def aclose(self) -> None:
        if self._aclient is not None:
            await self._aclient.aclose()
            self._aclient = None

    async def __aenter__(self) -> RewardClient:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.aclose()
