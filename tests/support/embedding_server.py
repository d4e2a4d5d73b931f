"""A minimal OpenAI-compatible `/v1/embeddings` server over the packaged MiniLM (int8 ONNX, as the suite pins), for
tests.

It stands in for vLLM / TEI / Ollama, which cannot run here; it speaks the same wire format
(`{"model", "input": [...]}` → `{"data": [{"index", "embedding"}]}`) and checks the bearer key.
Usage: python -m tests.support.embedding_server PORT [API_KEY]
"""

import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from rag.embeddings.onnx import OnnxEmbedder
from tests.support.net import send_json

MODEL = OnnxEmbedder("all-minilm-l6-v2-q")


class Handler(BaseHTTPRequestHandler):
    api_key = ""

    def do_POST(self):
        if self.path != "/v1/embeddings":
            return self._send(404, {"error": {"message": "not found"}})
        if self.api_key and self.headers.get("Authorization") != f"Bearer {self.api_key}":
            return self._send(401, {"error": {"message": "invalid api key"}})
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
        vectors = MODEL.embed_documents(inputs)
        self._send(
            200,
            {
                "object": "list",
                "model": body["model"],
                "data": [{"object": "embedding", "index": i, "embedding": v.tolist()} for i, v in enumerate(vectors)],
            },
        )

    def _send(self, status, payload):
        send_json(self, status, payload)

    def log_message(self, *args):
        pass


if __name__ == "__main__":
    Handler.api_key = sys.argv[2] if len(sys.argv) > 2 else ""
    MODEL.warm_up()
    server = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler)
    print("ready", flush=True)
    server.serve_forever()
