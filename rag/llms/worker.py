"""The model process: llama-cpp-python's OpenAI-compatible server for one GGUF model, on loopback.

``python -m rag.llms.worker --model PATH`` loads the model with the CPU guard (:mod:`rag.llms.gguf`),
binds 127.0.0.1 on a free port, prints ``READY <port>`` and serves until killed. It exits by itself
when the process that started it goes away. :mod:`rag.llms.supervisor` starts and restarts it; anyone
can use it as a plain llama.cpp server (the tests do).
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
import threading
import time


def _exit_with_parent(parent: int) -> None:
    """A worker whose parent died (even by SIGKILL) must not keep a model in memory."""
    while True:
        time.sleep(1.0)
        if os.getppid() != parent:
            os._exit(0)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="path to the .gguf file")
    parser.add_argument("--alias", default=None, help="the model name clients send (default: the path)")
    parser.add_argument("--n_ctx", type=int, default=4096)
    parser.add_argument("--n_threads", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--port", type=int, default=0, help="0 = a free port, printed on the READY line")
    parser.add_argument("--no-parent-watch", action="store_true", help="keep running when the parent exits")
    args = parser.parse_args(argv)

    if not args.no_parent_watch:
        threading.Thread(target=_exit_with_parent, args=(os.getppid(),), daemon=True).start()

    from rag.llms.gguf import apply_load_guard

    apply_load_guard()
    import uvicorn
    from llama_cpp.server.app import create_app
    from llama_cpp.server.settings import ModelSettings, ServerSettings

    from rag.cores import allowed_cpus, usable_cores

    threads = args.n_threads or usable_cores()
    model = ModelSettings(
        model=args.model,
        model_alias=args.alias or args.model,
        n_ctx=args.n_ctx,
        n_threads=threads,
        n_threads_batch=allowed_cpus(),  # the prompt pass: every logical core we may run on
        seed=args.seed,
        logits_all=False,  # the server's default (True) computes logits for every prompt token: ~1.6 s more per answer
        verbose=False,
    )
    # interrupt_requests=False: by default a second request cancels the stream in progress; here
    # requests queue (two chat sessions must both get their answer).
    server = ServerSettings(host="127.0.0.1", port=args.port, interrupt_requests=False)
    app = create_app(server_settings=server, model_settings=[model])  # loads the model

    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", args.port))
    listener.listen(64)
    print(f"READY {listener.getsockname()[1]}", flush=True)
    # llama_cpp.server prints to stdout; after READY nobody reads that pipe, so send it to stderr.
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    config = uvicorn.Config(app, log_level="warning", access_log=False)
    uvicorn.Server(config).run(sockets=[listener])


if __name__ == "__main__":
    main()
