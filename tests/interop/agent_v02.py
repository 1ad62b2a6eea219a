"""A deterministic A2A agent on the official Python SDK, a2a-sdk 0.2.10 (the version Rogue
pins; protocol 0.2.5), for rogue-runner's client interop tests.

    python agent_v02.py --port 0 --mode keyword|task|stream [--api-key K] [--public-card]

Prints `PORT=N` as its first stdout line once it listens on 127.0.0.1:N. Like every a2a-sdk
0.2.x server it serves the card only at /.well-known/agent.json (agent-card.json is a 404,
which exercises a client's fallback) and JSON-RPC at / (message/send, message/stream,
tasks/get, tasks/cancel). See README.md.
"""

from __future__ import annotations

import asyncio
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import _common  # noqa: E402
from a2a.server.agent_execution import AgentExecutor, RequestContext  # noqa: E402
from a2a.server.apps import A2AStarletteApplication  # noqa: E402
from a2a.server.events import EventQueue  # noqa: E402
from a2a.server.request_handlers import DefaultRequestHandler  # noqa: E402
from a2a.server.tasks import InMemoryTaskStore, TaskUpdater  # noqa: E402
from a2a.types import (  # noqa: E402
    AgentCapabilities,
    AgentCard,
    AgentSkill,
    APIKeySecurityScheme,
    In,
    Part,
    SecurityScheme,
    TaskState,
    TextPart,
)
from a2a.utils import new_agent_text_message, new_task  # noqa: E402

try:
    from importlib.metadata import version

    SDK_VERSION = version("a2a-sdk")
except Exception:  # pragma: no cover - metadata missing
    SDK_VERSION = "0.2.x"


def text_part(text: str) -> Part:
    return Part(root=TextPart(text=text))


class EchoExecutor(AgentExecutor):
    def __init__(self, mode: str, work_ms: int = 0) -> None:
        self.mode = mode
        self.work_s = work_ms / 1000

    async def execute(self, context: RequestContext, event_queue: EventQueue) -> None:
        text = context.get_user_input()
        task = context.current_task
        continuing = task is not None and task.status.state == TaskState.input_required
        asks_input = _common.INPUT_REQUIRED_MARKER in text and not continuing
        answer = _common.reply_text(text, context.context_id)

        if self.mode == "keyword" and not asks_input and not continuing:
            await event_queue.enqueue_event(
                new_agent_text_message(answer, context_id=context.context_id)
            )
            return

        if task is None:
            task = new_task(context.message)
            await event_queue.enqueue_event(task)
        updater = TaskUpdater(event_queue, task.id, task.contextId)
        if asks_input:
            await updater.update_status(
                TaskState.input_required,
                message=updater.new_agent_message([text_part(_common.QUESTION)]),
                final=True,
            )
            return
        await updater.start_work()
        pieces = [answer] if self.mode == "keyword" else _common.chunks(answer)
        artifact_id = f"artifact-{task.id}"
        for i, piece in enumerate(pieces):
            if self.work_s:
                await asyncio.sleep(self.work_s)
            await updater.add_artifact(
                [text_part(piece)],
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
    security = {}
    if args.api_key:
        security = {
            "securitySchemes": {
                "apiKey": SecurityScheme(
                    root=APIKeySecurityScheme(**{"in": In.header, "name": _common.API_KEY_HEADER})
                )
            },
            "security": [{"apiKey": []}],
        }
    return AgentCard(
        name="rogue-runner interop agent",
        description=f"Deterministic A2A test agent on a2a-sdk {SDK_VERSION} (mode={args.mode}).",
        url=url,
        version="1.0.0",
        capabilities=AgentCapabilities(streaming=args.mode == "stream", pushNotifications=False),
        defaultInputModes=["text/plain"],
        defaultOutputModes=["text/plain"],
        skills=[
            AgentSkill(
                id="echo",
                name="Deterministic echo",
                description="Answers 'echo: <text>', or a refusal for forbidden topics.",
                tags=["test"],
                examples=["hello"],
            )
        ],
        **security,
    )


def main() -> None:
    args = _common.parse_args(__doc__.splitlines()[0])
    sock = _common.bind(args.host, args.port)
    card = agent_card(_common.base_url(sock) + "/", args)
    handler = DefaultRequestHandler(
        agent_executor=EchoExecutor(args.mode, args.work_ms), task_store=InMemoryTaskStore()
    )
    app = A2AStarletteApplication(agent_card=card, http_handler=handler).build()
    _common.run(_common.protect(app, args), sock)


if __name__ == "__main__":
    main()
