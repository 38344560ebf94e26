"""Serving the page: the bounded queue, the request-size guard (`BodyLimit`) and `launch`.

space.ui builds the page (gr.Blocks); this module decides how many requests it takes and how big they may be.
"""

import json

import gradio as gr

from space import handlers

QUEUE_MAX_SIZE = 32  # requests waiting or running; more get "Queue is full! Please try again."
CONCURRENCY_LIMIT = 2  # requests of one kind (one event) running at once on this 2-core machine
MAX_THREADS = 128  # worker threads: enough for the LM engines' slots and waiting lines (space.ui.STREAMING)
# Largest HTTP request body: 1 MB of text fits even as escaped JSON (so the handler can refuse it by name, e.g.
# "text is too long: 1,048,576 characters"); bigger bodies get 413 before Gradio reads them into memory.
MAX_REQUEST_BYTES = 8 * 1024 * 1024
MAX_UPLOAD = "1mb"  # the app takes no files; uploads are capped anyway

CSS = """
.seqlab-speed {min-height: 1.6em}
.seqlab-strip {font-family: ui-monospace, monospace; font-size: 0.85em; line-height: 1.5; white-space: pre-wrap;
  word-break: break-all; margin: 0.2em 0 0.8em 0}
.seqlab-strip span {border-radius: 2px}
"""


class BodyLimit:
    """ASGI middleware: refuse HTTP request bodies over `max_bytes` with 413 and a JSON message: by the
    Content-Length header at once (the body is never read), or, for a chunked body without one, as soon as the
    bytes read pass the limit (such a body is read here, at most `max_bytes` of it, and then handed on)."""

    def __init__(self, app, max_bytes: int = MAX_REQUEST_BYTES):
        self.app, self.max_bytes = app, max_bytes

    async def _refuse(self, send, size: str) -> None:
        body = json.dumps(
            {
                "error": f"Request body too large: {size} bytes, the limit is {self.max_bytes:,} bytes "
                f"(text inputs take at most {handlers.MAX_TEXT_CHARS:,} characters)"
            }
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        length = dict(scope.get("headers") or []).get(b"content-length")
        if length is not None:  # the server reads no more than Content-Length bytes
            if length.isdigit() and int(length) > self.max_bytes:
                return await self._refuse(send, f"{int(length):,}")
            return await self.app(scope, receive, send)
        if scope.get("method") in ("GET", "HEAD", "OPTIONS"):
            return await self.app(scope, receive, send)
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > self.max_bytes:
                return await self._refuse(send, f"over {self.max_bytes:,}")
            if not message.get("more_body", False):
                break
        body, replayed = b"".join(chunks), False

        async def replay():
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


def launch(demo: gr.Blocks, server_name: str | None = None, server_port: int | None = None):
    """Start the server with the bounded queue. Host and port default to GRADIO_SERVER_NAME / _PORT."""
    from starlette.middleware import Middleware

    demo.queue(max_size=QUEUE_MAX_SIZE, default_concurrency_limit=CONCURRENCY_LIMIT)
    return demo.launch(
        server_name=server_name,
        server_port=server_port,
        ssr_mode=False,
        prevent_thread_lock=True,
        theme=gr.themes.Soft(),
        css=CSS,
        footer_links=["api", "gradio"],
        quiet=True,
        max_threads=MAX_THREADS,
        max_file_size=MAX_UPLOAD,
        app_kwargs={"middleware": [Middleware(BodyLimit, max_bytes=MAX_REQUEST_BYTES)]},
    )
