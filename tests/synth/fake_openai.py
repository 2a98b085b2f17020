"""A scripted OpenAI-compatible server on loopback, for the remote backend's tests.

Each request to /v1/chat/completions takes the next behaviour from `script` (the last one repeats):
"ok" (or any other text: the answer), "500", "503", "401", "404", "malformed", "leaky" (malformed,
echoing the Authorization header), "no_choices",
"slow" (the body trickles out over `slow_s`), "hang" (no reply for `slow_s`). Every request is
recorded (path, headers, parsed body) in `requests`.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class FakeOpenAI:
    def __init__(self, script=("ok",), answer="This is Biscuit, 4 years old.", slow_s=2.0):
        self.script = list(script)
        self.answer = answer
        self.slow_s = slow_s
        self.requests: list[dict] = []
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

    def chat_requests(self) -> list[dict]:
        return [r for r in self.requests if r["path"].endswith("/chat/completions")]

    def _next(self) -> str:
        with self._lock:
            return self.script.pop(0) if len(self.script) > 1 else self.script[0]

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                return None

            def do_GET(self):
                fake.requests.append({"path": self.path, "headers": dict(self.headers), "body": None})
                self._send(200, json.dumps({"data": [{"id": "fake"}]}).encode())

            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length))
                fake.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
                self._behave(fake._next())

            def _behave(self, mode: str):
                if mode in ("500", "503", "401", "404"):
                    self._send(int(mode), b'{"error": {"message": "scripted failure"}}')
                elif mode == "malformed":
                    self._send(200, b'{"choices": [ {"message": ')
                elif mode == "leaky":  # a broken proxy that echoes the request's credentials
                    auth = self.headers.get("Authorization", "").encode()
                    self._send(200, b'{"error": "bad gateway for ' + auth + b'", "choices": [')
                elif mode == "no_choices":
                    self._send(200, b'{"object": "chat.completion"}')
                elif mode == "slow":
                    self._trickle(_completion(fake.answer))
                elif mode == "hang":
                    time.sleep(fake.slow_s)
                    self._send(200, _completion(fake.answer))
                else:
                    self._send(200, _completion(fake.answer if mode == "ok" else mode))

            def _send(self, status: int, body: bytes):
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                try:
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def _trickle(self, body: bytes):
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                pause = fake.slow_s / len(body)
                try:
                    for i in range(len(body)):
                        self.wfile.write(body[i:i + 1])
                        self.wfile.flush()
                        time.sleep(pause)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        return Handler


def _completion(text: str) -> bytes:
    return json.dumps({
        "id": "chatcmpl-fake", "object": "chat.completion", "model": "fake",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                     "finish_reason": "stop"}],
    }).encode()
