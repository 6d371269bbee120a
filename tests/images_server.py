"""A scripted OpenAI Images API server on 127.0.0.1, shaped as vLLM-Omni documents it.

    with serve_images(model="Qwen/Qwen-Image") as server:
        server.url        # http://127.0.0.1:PORT/v1
        server.requests   # one dict per request: path, fields, image_sha256, authorization

- ``POST /v1/images/generations``: JSON ``prompt``, ``size`` ("WxH"), ``seed``,
  ``num_inference_steps``, ``guidance_scale`` -> ``{"created", "data": [{"b64_json"}]}``.
- ``POST /v1/images/edits``: multipart ``image`` (the file), ``prompt`` and the same extras as
  form fields.
- ``GET /v1/models``: the model it serves.

Pictures are real: a tiny random-weight diffusers pipeline (tests/tiny_pipelines.py) runs for
each request with a CPU generator seeded from ``seed``, so the same seed gives the same bytes.
``die_after = n`` makes the server die right after taking its n-th image request (a server
killed mid-run). ``fail_with = (status, message)`` answers every image request with vLLM's error body instead.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any

from tests.scripted_http import ScriptedHandler, ScriptedServer, Serving

_PIPE_LOCK = threading.Lock()  # the tiny pipelines are shared by every server in the process


def _pipelines() -> tuple[Any, Any]:
    from models.images import load_edit, load_text2image
    from tests.tiny_pipelines import tiny_instruct_pix2pix_dir, tiny_text2image_dir

    t2i = load_text2image(str(tiny_text2image_dir()), device="cpu", allow_downloads=False)
    edit = load_edit(str(tiny_instruct_pix2pix_dir()), device="cpu", allow_downloads=False)
    return t2i, edit


def parse_multipart(content_type: str, body: bytes) -> tuple[dict[str, str], dict[str, bytes]]:
    """(form fields, files) of a multipart/form-data body."""
    message = BytesParser(policy=HTTP).parsebytes(f"Content-Type: {content_type}\r\n\r\n".encode() + body)
    fields: dict[str, str] = {}
    files: dict[str, bytes] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True) or b""
        if part.get_filename() is not None:
            files[str(name)] = payload
        else:
            fields[str(name)] = payload.decode()
    return fields, files


class ImagesServer(ScriptedServer):
    def __init__(self, model: str) -> None:
        super().__init__(ImagesHandler, model=model)
        self.requests: list[dict[str, Any]] = []
        self.fail_with: tuple[int, str] | None = None
        self.delay_s = 0.0
        self.die_after: int | None = None  # answer this many image requests, then die

    def die(self) -> None:
        """Refuse new connections at once (the listening socket goes), then stop the loop."""
        self.socket.close()
        threading.Thread(target=self.shutdown, daemon=True).start()


class ImagesHandler(ScriptedHandler):
    server: ImagesServer

    def do_POST(self) -> None:  # noqa: N802 - name fixed by http.server
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        path = self.path.rstrip("/")
        ctype = self.headers.get("Content-Type", "")
        if path.endswith("/images/generations"):
            fields: dict[str, Any] = json.loads(body or b"{}")
            image = None
        elif path.endswith("/images/edits") and ctype.startswith("multipart/form-data"):
            fields, files = parse_multipart(ctype, body)
            image = files.get("image") or files.get("image[]")
        else:
            self.send_json(404, {"object": "error", "message": f"no route {self.path}", "code": 404})
            return
        record = {
            "path": path.rsplit("/", 2)[-2] + "/" + path.rsplit("/", 1)[-1],
            "fields": fields,
            "image_sha256": hashlib.sha256(image).hexdigest() if image else None,
            "authorization": self.headers.get("Authorization"),
            "content_type": ctype.split(";")[0],
        }
        with self.server.lock:
            self.server.requests.append(record)
            dying = self.server.die_after is not None and len(self.server.requests) >= self.server.die_after
        if dying:  # this answer still goes out on its own connection; the next request is refused
            self.server.die()
        if self.server.delay_s:
            time.sleep(self.server.delay_s)
        if self.server.fail_with is not None:
            status, message = self.server.fail_with
            self.send_json(status, {"object": "error", "message": message, "type": "BadRequestError", "code": status})
            return
        if "edits" in path and not image:
            self.send_json(400, {"object": "error", "message": "image is required", "code": 400})
            return
        self.send_json(200, {"created": int(time.time()), "data": [{"b64_json": _make_png(fields, image)}]})


def _make_png(fields: dict[str, Any], image: bytes | None) -> str:
    import torch
    from PIL import Image

    width, height = (int(v) for v in str(fields.get("size") or "64x64").split("x"))
    seed = int(fields.get("seed") or 0)
    steps = int(fields.get("num_inference_steps") or 1)
    guidance = float(fields.get("guidance_scale") or 1.0)
    t2i, edit = _pipelines()
    generator = torch.Generator(device="cpu").manual_seed(seed)
    with _PIPE_LOCK:
        if image is None:
            out = t2i.pipe(
                prompt=str(fields["prompt"]),
                num_inference_steps=steps,
                guidance_scale=guidance,
                height=height,
                width=width,
                generator=generator,
            )
        else:
            parent = Image.open(io.BytesIO(image)).convert("RGB").resize((width, height))
            out = edit.pipe(
                prompt=str(fields["prompt"]),
                image=parent,
                num_inference_steps=steps,
                guidance_scale=guidance,
                image_guidance_scale=1.5,
                generator=generator,
            )
    buffer = io.BytesIO()
    out.images[0].save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode()


class RunningImages(Serving):
    def __init__(self, server: ImagesServer) -> None:
        super().__init__(server, "images-server")
        self.server = server

    @property
    def requests(self) -> list[dict[str, Any]]:
        with self.server.lock:
            return list(self.server.requests)

    def kill(self) -> None:
        """Stop answering at once: later connections are refused (a server that died)."""
        self.__exit__(None, None, None)


@contextmanager
def serve_images(model: str = "Qwen/Qwen-Image") -> Iterator[RunningImages]:
    with RunningImages(ImagesServer(model)) as running:
        yield running
