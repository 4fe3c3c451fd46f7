"""What crosses a process boundary: the score record, the server's request and response bodies, and the
trainers' payloads. Below both the server and the integrations; imports nothing of cim but errors."""

from cim.wire.schemas import CaptionScore

TOKEN_ENV = "CIM_SERVE_TOKEN"
"""The environment variable holding the reward server's bearer token (server and client)."""

__all__ = ["TOKEN_ENV", "CaptionScore"]
