"""Policy directories for tests, and a real OPA-compatible HTTP server.

:class:`OpaLike` answers ``POST /v1/data/<path>`` as an OPA server does (``{"result": …}``, or
``{}`` when the document is undefined), evaluating a bundle directory (``maestro_policy_bundle
--out``) with the same Rego interpreter Maestro embeds, so a test of ``MAESTRO_OPA_URL`` goes
over real HTTP through Maestro's own client. One thread owns the interpreter (it is
thread-bound), so the server handles one request at a time."""

from __future__ import annotations

import json
import shutil
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import regorus

EXAMPLES = Path(__file__).resolve().parents[3] / "docs" / "policy-examples"


def policy_dir(root: Path, *examples: str, data: dict[str, Any] | None = None, rego: str | None = None) -> Path:
    """A directory of extra policies: the named examples of docs/policy-examples, a data
    document, and optional Rego text of the test's own."""
    root.mkdir(parents=True, exist_ok=True)
    for name in examples:
        shutil.copy(EXAMPLES / f"{name}.rego", root / f"{name}.rego")
    if data is not None:
        (root / "data.json").write_text(json.dumps(data))
    if rego is not None:
        (root / "extra.rego").write_text(rego)
    return root


class OpaLike:
    def __init__(self, bundle: Path, *, delay: float = 0.0) -> None:
        self.bundle = bundle
        self.delay = delay
        self.requests: list[tuple[str, Any]] = []
        self._server = HTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._engine: regorus.Engine | None = None

    def _serve(self) -> None:
        try:
            self._server.serve_forever()
        finally:
            self._engine = None  # dropped in the thread that made it

    def _load(self) -> regorus.Engine:
        if self._engine is None:  # in the server's thread: the interpreter stays in it
            engine = regorus.Engine()
            for path in sorted(self.bundle.rglob("*.rego")):
                engine.add_policy(str(path), path.read_text())
            engine.add_data_json((self.bundle / "data.json").read_text())
            self._engine = engine
        return self._engine

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        opa = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                opa.requests.append((self.path, body))
                if opa.delay:
                    time.sleep(opa.delay)
                query = "data." + self.path.removeprefix("/v1/data/").replace("/", ".")
                engine = opa._load()
                engine.set_input_json(json.dumps(body["input"]))
                try:
                    answer = {"result": json.loads(engine.eval_rule_as_json(query))}
                except RuntimeError:
                    answer = {}  # OPA: an undefined document is an empty answer
                payload = json.dumps(answer).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                try:
                    self.wfile.write(payload)
                except OSError:
                    pass  # the client gave up waiting

            def log_message(self, *args: Any) -> None:
                pass

        return Handler

    def __enter__(self) -> OpaLike:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()
