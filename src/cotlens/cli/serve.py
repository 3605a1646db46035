"""``cotlens serve --model SPEC --port N``: a cotlens model as an OpenAI-compatible HTTP server
(``cotlens.serve``)."""

from __future__ import annotations

import argparse

from cotlens.cli.common import Command


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", required=True, help="model spec (smollm2, organism:NAME, hf:PATH, gguf:PATH)")
    p.add_argument("--port", type=int, required=True, help="TCP port (0: any free one)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    p.add_argument("--dtype", default="auto", help="auto, bfloat16, float32 or float16 (default: auto, as for run)")
    p.add_argument("--latency", type=float, default=0.0, help="seconds added to every request (default: 0)")


def handle(args: argparse.Namespace) -> None:
    from cotlens.serve import serve

    serve(args.model, args.port, args.host, args.dtype, args.latency)


COMMAND = Command("serve", "serve a cotlens model as an OpenAI-compatible HTTP server", add_arguments, handle)
