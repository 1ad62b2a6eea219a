"""A deterministic A2A agent on the official Python SDK, a2a-sdk 1.x (protocol 1.0 with
0.3 compatibility), for rogue-runner's client interop tests.

    python agent_v1.py --port 0 --mode keyword|task|stream [--api-key K] [--public-card]

Prints `PORT=N` as its first stdout line once it listens on 127.0.0.1:N. Serves the card at
/.well-known/agent-card.json and /.well-known/agent.json, JSON-RPC at / (1.0 method names
with `A2A-Version: 1.0`, and 0.3 names through the SDK's compat adapter). See README.md.
"""

from __future__ import annotations

import asyncio
import os
import sys
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import _common  # noqa: E402
from a2a.helpers import new_task_from_user_message, new_text_message  # noqa: E402
from a2a.server.agent_execution import AgentExecutor, RequestContext  # noqa: E402
from a2a.server.events import EventQueue  # noqa: E402
from a2a.server.request_handlers import DefaultRequestHandler  # noqa: E402
from a2a.server.routes import create_agent_card_routes, create_jsonrpc_routes  # noqa: E402
from a2a.server.tasks import InMemoryTaskStore, TaskUpdater  # noqa: E402
from a2a.types import (  # noqa: E402
    AgentCapabilities,
    AgentCard,
    AgentInterface,
    AgentSkill,
    APIKeySecurityScheme,
    Part,
    SecurityRequirement,
    SecurityScheme,
    StringList,
    TaskState,
)
from starlette.applications import Starlette  # noqa: E402

try:
    from importlib.metadata import version

    SDK_VERSION = version("a2a-sdk")
except Exception:  # pragma: no cover - metadata missing
    SDK_VERSION = "1.x"


class EchoExecutor(AgentExecutor):
    def __init__(self, mode: str, work_ms: int = 0) -> None:
        self.mode = mode
        self.work_s = work_ms / 1000

    async def execute(self, context: RequestContext, event_queue: EventQueue) -> None:
        text = context.get_user_input()
        task = context.current_task
        continuing = task is not None and task.status.state == TaskState.TASK_STATE_INPUT_REQUIRED
        asks_input = _common.INPUT_REQUIRED_MARKER in text and not continuing
        answer = _common.reply_text(text, context.context_id)

        if self.mode == "keyword" and not asks_input and not continuing:
            await event_queue.enqueue_event(
                new_text_message(answer, context_id=context.context_id)
            )
            return

        if task is None:
            task = new_task_from_user_message(context.message)
            await event_queue.enqueue_event(task)
        updater = TaskUpdater(event_queue, task.id, task.context_id)
        if asks_input:
            await updater.requires_input(updater.new_agent_message([Part(text=_common.QUESTION)]))
            return
        await updater.start_work()
        pieces = [answer] if self.mode == "keyword" else _common.chunks(answer)
        artifact_id = f"artifact-{task.id}"
        for i, piece in enumerate(pieces):
            if self.work_s:
                await asyncio.sleep(self.work_s)
            await updater.add_artifact(
                [Part(text=piece)],
                artifact_id=artifact_id,
                name="response",
                append=i > 0,
                last_chunk=i == len(pieces) - 1,
            )
        await updater.complete()

    async def cancel(self, context: RequestContext, event_queue: EventQueue) -> None:
        if context.task_id and context.context_id:
            await TaskUpdater(event_queue, context.task_id, context.context_id).cancel()


def agent_card(url: str, args) -> AgentCard:
    card = AgentCard(
        name="rogue-runner interop agent",
        description=f"Deterministic A2A test agent on a2a-sdk {SDK_VERSION} (mode={args.mode}).",
        supported_interfaces=[
            AgentInterface(url=url, protocol_binding="JSONRPC", protocol_version="1.0"),
            AgentInterface(url=url, protocol_binding="JSONRPC", protocol_version="0.3"),
        ],
        version="1.0.0",
        capabilities=AgentCapabilities(streaming=args.mode == "stream", push_notifications=False),
        default_input_modes=["text/plain"],
        default_output_modes=["text/plain"],
        skills=[
            AgentSkill(
                id="echo",
                name="Deterministic echo",
                description="Answers 'echo: <text>', or a refusal for forbidden topics.",
                tags=["test"],
                examples=["hello"],
            )
        ],
    )
    if args.api_key:
        card.security_schemes["apiKey"].CopyFrom(
            SecurityScheme(
                api_key_security_scheme=APIKeySecurityScheme(
                    location="header", name=_common.API_KEY_HEADER
                )
            )
        )
        card.security_requirements.append(SecurityRequirement(schemes={"apiKey": StringList()}))
    return card


def main() -> None:
    args = _common.parse_args(__doc__.splitlines()[0])
    sock = _common.bind(args.host, args.port)
    url = _common.base_url(sock) + "/"
    card = agent_card(url, args)
    handler = DefaultRequestHandler(
        agent_executor=EchoExecutor(args.mode, args.work_ms),
        task_store=InMemoryTaskStore(),
        agent_card=card,
    )
    routes = [
        *create_agent_card_routes(card),
        *create_agent_card_routes(card, card_url="/.well-known/agent.json"),
        *create_jsonrpc_routes(handler, rpc_url="/", enable_v0_3_compat=True),
    ]
    app = _common.protect(Starlette(routes=routes), args)
    _common.run(app, sock)


if __name__ == "__main__":
    uuid.uuid4()  # fail early if the platform has no randomness
    main()
