"""Options of `cim serve`: the reward (one ScorerOptions), micro-batching, limits and security; validated on creation."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from cim.options import Options
from cim.reward.options import ScorerOptions


class ServeSettings(Options):
    """Everything `cim serve` can be told; the defaults bind to loopback with conservative limits."""

    gallery: Path = Field(strict=False)
    host: str = "127.0.0.1"
    port: int = Field(3545, ge=1, le=65535)
    reward: ScorerOptions = ScorerOptions()  # k is the default of requests that do not say
    device: str | None = None
    threads: int | None = Field(None, ge=1)  # torch threads of the scorer (default: torch's, one per core)
    max_k: int = Field(16, ge=1)
    empty_reward: float | None = None  # None: an empty caption is a 422; else this reward, unscored
    # micro-batching
    max_batch: int = Field(256, ge=1)  # captions per scorer call
    max_wait_ms: float = Field(5.0, ge=0)  # how long the oldest waiting request may wait for a batch to fill
    max_queue: int = Field(8192, ge=1)  # captions waiting before new requests get 503
    # limits
    max_items: int = Field(1024, ge=1)  # captions per request (413 above)
    max_caption_chars: int = Field(20_000, ge=1)  # 422 above
    max_image_bytes: int = Field(8 << 20, ge=1)  # decoded inline image (413 above)
    max_image_pixels: int = Field(40_000_000, ge=1)  # width × height of an inline image (422 above)
    max_body_bytes: int = Field(64 << 20, ge=1)  # request body (413 above)
    # security
    token: str | None = None  # bearer token every request must carry
    image_root: Path | None = Field(None, strict=False)  # the only folder image_path items may name
    graceful_timeout_s: float = 30.0
    log_level: Literal["debug", "info", "warning", "error"] = "info"

    @model_validator(mode="after")
    def _consistent(self) -> ServeSettings:
        if self.reward.k > self.max_k:
            raise ValueError(f"k={self.reward.k} is above max_k={self.max_k}")
        if self.token is not None and not self.token.strip():
            raise ValueError("the bearer token is empty; give a non-empty token or none")
        if self.image_root is not None and not Path(self.image_root).is_dir():
            raise ValueError(f"--image-root {self.image_root} is not a folder")
        return self

    @property
    def loopback(self) -> bool:
        """Whether the server is reachable from this machine only."""
        if self.host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False
