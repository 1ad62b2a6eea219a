"""Shared parts of the interop agents: command line, deterministic replies, API-key check,
binding and the PORT=N handshake. Plain Python: imported by agent_v1.py and agent_v02.py,
which run in different virtual environments (a2a-sdk 1.x and 0.2.10)."""

from __future__ import annotations

import argparse
import hmac
import json
import socket
import sys
from typing import Any, Awaitable, Callable

# Replies: "echo: <text>". Texts naming a forbidden topic get a fixed refusal instead, so a
# test can check `not_contains` against a real SDK agent.
ECHO_PREFIX = "echo: "
REFUSAL = "I cannot help with that."
FORBIDDEN = ("password", "ignore previous instructions")
# A user text containing this marker gets a Task in input-required; the next message with
# that taskId completes it.
INPUT_REQUIRED_MARKER = "[input-required]"
QUESTION = "Please provide more details."
# A user text containing this marker gets the conversation's contextId appended to the reply,
# " (contextId: <id>)", so a test can check that the agent saw the contextId it sent.
CONTEXT_MARKER = "[context-id]"
CHUNKS = 3
API_KEY_HEADER = "X-API-Key"


def parse_args(description: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port to bind; 0 picks a free one")
    parser.add_argument(
        "--mode",
        choices=("keyword", "task", "stream"),
        default="keyword",
        help="keyword: a Message reply; task: a Task whose artifact comes in 3 chunks; "
        "stream: like task, and the card advertises streaming",
    )
    parser.add_argument(
        "--work-ms",
        type=int,
        default=0,
        help="task and stream modes: pause this long before each artifact chunk, like a slow "
        "agent (a non-blocking send then answers a task that is still running)",
    )
    parser.add_argument("--api-key", help=f"require this value in the {API_KEY_HEADER} header")
    parser.add_argument(
        "--public-card",
        action="store_true",
        help="with --api-key: serve the agent card without the key",
    )
    return parser.parse_args()


def reply_text(user_text: str, context_id: str | None = None) -> str:
    """The deterministic answer to one user text, in the conversation `context_id`."""
    show_context = CONTEXT_MARKER in user_text
    text = user_text.replace(INPUT_REQUIRED_MARKER, "").replace(CONTEXT_MARKER, "").strip()
    lowered = text.lower()
    if any(word in lowered for word in FORBIDDEN):
        return REFUSAL
    if show_context:
        return f"{ECHO_PREFIX}{text} (contextId: {context_id})"
    return ECHO_PREFIX + text


def chunks(text: str, n: int = CHUNKS) -> list[str]:
    """`text` in `n` pieces of nearly equal length (fewer if it is shorter than `n`)."""
    n = max(1, min(n, len(text)))
    return [text[k * len(text) // n : (k + 1) * len(text) // n] for k in range(n)]


def bind(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(1024)
    return sock


def base_url(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def announce(sock: socket.socket) -> None:
    """Print the bound port as the first stdout line. The socket is already listening, so a
    client may connect as soon as it reads this line."""
    print(f"PORT={sock.getsockname()[1]}", flush=True)


ASGIApp = Callable[[dict, Callable[[], Awaitable[dict]], Callable[[dict], Awaitable[None]]], Awaitable[None]]


class RequireApiKey:
    """Pure ASGI middleware: 401 unless the request carries the expected X-API-Key."""

    def __init__(self, app: ASGIApp, key: str, public_paths: tuple[str, ...] = ()) -> None:
        self.app = app
        self.key = key.encode()
        self.public_paths = public_paths

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"] not in self.public_paths:
            given = dict(scope["headers"]).get(API_KEY_HEADER.lower().encode(), b"")
            if not hmac.compare_digest(given, self.key):
                body = json.dumps(
                    {"error": "unauthorized", "message": f"missing or wrong {API_KEY_HEADER} header"}
                ).encode()
                await send(
                    {
                        "type": "http.response.start",
                        "status": 401,
                        "headers": [
                            (b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode()),
                            (b"www-authenticate", f'ApiKey header="{API_KEY_HEADER}"'.encode()),
                        ],
                    }
                )
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)


CARD_PATHS = ("/.well-known/agent-card.json", "/.well-known/agent.json")


def protect(app: ASGIApp, args: argparse.Namespace) -> ASGIApp:
    if not args.api_key:
        return app
    return RequireApiKey(app, args.api_key, CARD_PATHS if args.public_card else ())


def run(app: ASGIApp, sock: socket.socket) -> None:
    import uvicorn

    config = uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=1, lifespan="off")
    announce(sock)
    try:
        uvicorn.Server(config).run(sockets=[sock])
    except KeyboardInterrupt:
        pass
    sys.stdout.flush()
