"""Throughput of the openai: backend against a local server with a fixed latency per request.

Usage: python bench/api_throughput.py [--latency 1.0] [--model organism:faithful]

``cotlens serve`` (a separate process, on loopback) answers every request after ``--latency`` seconds (L),
running the model itself one request at a time. The backend scores max(32, 4 x c) answer prompts (one request
each, ``max_tokens: 1`` with top log-probabilities) at concurrency c = 1 to 64; the ideal is c / L requests per
second, and the table gives the measured throughput and its ratio to that. A first row at L = 0 measures what the
server itself can do (its model calls are serialised): no client concurrency can beat that. Then the cost of a
fully cached re-run (the run's SQLite call cache in front of the backend): its time and how many requests reached
the server (counted by the server). Prints a table and writes ``bench/results/api_throughput.json``.
"""

from __future__ import annotations

import argparse
import json
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from cotlens.models.openai_api import ApiOptions, OpenAIModel
from cotlens.prompts import answer_prompt
from cotlens.runs.cache import CachedModel, CallCache
from cotlens.tasks import load_task

CONCURRENCY = (1, 2, 4, 8, 16, 32, 64)


class Server:
    """``cotlens serve`` in a subprocess; ``requests()`` is the count the server reports."""

    def __init__(self, model: str, latency: float) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        self.root = f"http://127.0.0.1:{port}"
        self.url = self.root + "/v1"
        self.proc = subprocess.Popen([sys.executable, "-m", "cotlens.cli", "serve", "--model", model, "--port",
                                      str(port), "--latency", str(latency)], stdout=subprocess.DEVNULL)
        for _ in range(600):
            try:
                urllib.request.urlopen(self.root + "/cotlens/stats", timeout=1).read()
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("cotlens serve did not start")

    def requests(self) -> int:
        stats = json.loads(urllib.request.urlopen(self.root + "/cotlens/stats", timeout=5).read())
        return sum(v for k, v in stats["requests"].items() if k != "/cotlens/stats")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)


def measure(server: Server, model: str, c: int, prompts: list, letters: list) -> dict:  # type: ignore[type-arg]
    m = OpenAIModel(f"{model}@{server.url}", spec="bench", options=ApiOptions(concurrency=c))
    m.prepare(prompts[0])
    n = max(32, 4 * c)
    before = server.requests()
    t0 = time.perf_counter()
    m.score_choices(prompts[:n], letters[:n])
    dt = time.perf_counter() - t0
    return {"concurrency": c, "requests": server.requests() - before, "seconds": round(dt, 3),
            "per_second": round(n / dt, 2)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--latency", type=float, default=1.0)
    ap.add_argument("--model", default="organism:faithful")
    ap.add_argument("--task", default="repeat3")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "api_throughput.json"))
    args = ap.parse_args()
    samples = load_task(args.task, 4 * max(CONCURRENCY), 7)
    prompts = [answer_prompt(s, "") for s in samples]
    letters = [s.letters for s in samples]
    fast = Server(args.model, 0.0)
    capacity = measure(fast, args.model, 32, prompts, letters)
    fast.stop()
    server = Server(args.model, args.latency)
    rows = []
    for c in CONCURRENCY:
        r = measure(server, args.model, c, prompts, letters)
        ideal = c / args.latency
        r.update(ideal_per_second=round(ideal, 2), ratio=round(r["per_second"] / ideal, 3))
        rows.append(r)
    with tempfile.TemporaryDirectory() as tmp:
        cache = CallCache(Path(tmp) / "calls.sqlite")
        m = OpenAIModel(f"{args.model}@{server.url}", spec="bench", options=ApiOptions(concurrency=32))
        m.prepare(prompts[0])
        cached = CachedModel(m, cache)
        t0 = time.perf_counter()
        first = cached.score_choices(prompts, letters)
        t_first = time.perf_counter() - t0
        before = server.requests()
        t0 = time.perf_counter()
        again = cached.score_choices(prompts, letters)
        t_again = time.perf_counter() - t0
        rerun = {"prompts": len(prompts), "first_seconds": round(t_first, 3), "cached_seconds": round(t_again, 4),
                 "requests_on_rerun": server.requests() - before, "same_answers": first == again}
        cache.close()
    print(f"server capacity (L = 0, concurrency 32): {capacity['per_second']:.1f} requests/s")
    print(f"latency L = {args.latency} s per request, model {args.model}")
    print(f"{'concurrency':>11s} {'requests':>8s} {'seconds':>8s} {'req/s':>8s} {'c/L':>8s} {'ratio':>6s}")
    for r in rows:
        print(f"{r['concurrency']:>11d} {r['requests']:>8d} {r['seconds']:>8.2f} {r['per_second']:>8.1f} "
              f"{r['ideal_per_second']:>8.1f} {r['ratio']:>6.2f}")
    print(f"fully cached re-run of {rerun['prompts']} prompts: {rerun['cached_seconds']} s "
          f"(first pass {rerun['first_seconds']} s), {rerun['requests_on_rerun']} requests reached the server")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"latency": args.latency, "model": args.model, "server_capacity": capacity,
                               "throughput": rows, "cached_rerun": rerun}, indent=1))
    print(f"wrote {out}")
    server.stop()


if __name__ == "__main__":
    main()
