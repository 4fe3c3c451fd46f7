"""Options of `cim serve`: the reward, micro-batching, limits and security; validated on creation."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cim.reward.scorer import DEFAULT_ENCODE_BATCH, MODES

TOKEN_ENV = "CIM_SERVE_TOKEN"


@dataclass(frozen=True)
class ServeSettings:
    """Everything `cim serve` can be told; the defaults bind to loopback with conservative limits."""

    gallery: Path
    host: str = "127.0.0.1"
    port: int = 3545
    # reward
    k: int = 3
    beta: float = 1.0
    mode: str = "clean"
    index: str = "exact"
    device: str | None = None
    threads: int | None = None  # torch threads of the scorer (default: torch's, one per core)
    encode_batch: int = DEFAULT_ENCODE_BATCH  # captions per text-encoder pass inside one scorer call (sorted by length)
    max_k: int = 16
    empty_reward: float | None = None  # None: an empty caption is a 422; else this reward, unscored
    # micro-batching
    max_batch: int = 256  # captions per scorer call
    max_wait_ms: float = 5.0  # how long the oldest waiting request may wait for a batch to fill
    max_queue: int = 8192  # captions waiting before new requests get 503
    # limits
    max_items: int = 1024  # captions per request (413 above)
    max_caption_chars: int = 20_000  # 422 above
    max_image_bytes: int = 8 << 20  # decoded inline image (413 above)
    max_image_pixels: int = 40_000_000  # width × height of an inline image (422 above)
    max_body_bytes: int = 64 << 20  # request body (413 above)
    # security
    token: str | None = None  # bearer token every request must carry
    image_root: Path | None = None  # the only folder image_path items may name
    graceful_timeout_s: float = 30.0
    log_level: str = "info"

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"unknown mode {self.mode!r}; valid: {', '.join(MODES)}")
        positive = ("port", "k", "max_k", "encode_batch", "max_batch", "max_queue", "max_items", "max_caption_chars",
                    "max_image_bytes", "max_image_pixels", "max_body_bytes")
        for name in positive:
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.threads is not None and self.threads < 1:
            raise ValueError(f"threads must be at least 1, got {self.threads}")
        if self.k > self.max_k:
            raise ValueError(f"k={self.k} is above max_k={self.max_k}")
        if self.max_wait_ms < 0:
            raise ValueError(f"max_wait_ms must be >= 0, got {self.max_wait_ms}")
        if self.token is not None and not self.token.strip():
            raise ValueError("the bearer token is empty; give a non-empty token or none")
        if self.image_root is not None and not Path(self.image_root).is_dir():
            raise ValueError(f"--image-root {self.image_root} is not a folder")

    @property
    def loopback(self) -> bool:
        """Whether the server is reachable from this machine only."""
        if self.host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False
