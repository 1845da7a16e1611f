"""Command line: run the reference server until SIGTERM/SIGINT.

    python -m chatconform.reference [--host 127.0.0.1] [--port N] [--api-key-env VAR]
                                    [--defect NAME ...] [--list-defects] [--verbose]
                                    [--dialect NAME] [--list-dialects] [--record FILE]
                                    [--variant NAME ...] [--list-variants]

Prints exactly one line `BASE_URL=http://127.0.0.1:PORT/v1` (flushed) once the
server is listening, so a parent process can wait for it and read the port.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading

from .defects import DEFECTS
from .dialects import DIALECTS
from .server import start
from .variants import VARIANTS


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m chatconform.reference", description=__doc__.splitlines()[0])
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: loopback only)")
    p.add_argument("--port", type=int, default=0, help="port to bind (default 0: any free port)")
    p.add_argument(
        "--api-key-env",
        metavar="VAR",
        help="require `Authorization: Bearer $VAR` (read from this environment variable)",
    )
    p.add_argument(
        "--defect", action="append", default=[], metavar="NAME", help="inject a defect (repeatable); see --list-defects"
    )
    p.add_argument("--list-defects", action="store_true", help="list the defect catalogue and exit")
    p.add_argument(
        "--dialect", choices=sorted(DIALECTS), help="behave as this seed vendor documents (see --list-dialects)"
    )
    p.add_argument("--list-dialects", action="store_true", help="list the vendor dialects and exit")
    p.add_argument(
        "--variant",
        action="append",
        default=[],
        metavar="NAME",
        help="a conformant variant (repeatable, combinable with --defect); see --list-variants",
    )
    p.add_argument("--list-variants", action="store_true", help="list the conformant variants and exit")
    p.add_argument(
        "--latency",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="wait this long before each chat answer, as a model would (a slow server for benchmarks)",
    )
    p.add_argument("--verbose", action="store_true", help="log requests and server errors to stderr")
    p.add_argument(
        "--record",
        metavar="FILE",
        help="append every request received to FILE, one JSON line each, "
        "without the Authorization value (benchmarks/bench.py replays them)",
    )
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.list_defects:
        for d in DEFECTS.values():
            print(f"{d.name}\t{d.area}\t{','.join(d.breaks)}\t{d.description}")
        return 0
    if args.list_variants:
        for v in VARIANTS.values():
            print(f"{v.name}\t{v.area}\t{v.description}\t{v.why}")
        return 0
    if args.list_dialects:
        for d in DIALECTS.values():
            print(f"{d.name}\t{d.seed}\t{d.base_path}\t{','.join(d.breaks) or '-'}\t{d.description}")
        return 0
    api_key = None
    if args.api_key_env:
        api_key = os.environ.get(args.api_key_env)
        if not api_key:
            print(f"error: environment variable {args.api_key_env} is not set or empty", file=sys.stderr)
            return 2
    try:
        record = open(args.record, "a", encoding="utf-8") if args.record else None
    except OSError as e:
        print(f"error: cannot write {args.record}: {e}", file=sys.stderr)
        return 2
    try:
        server = start(
            args.host,
            args.port,
            api_key=api_key,
            defects=args.defect,
            verbose=args.verbose,
            dialect=args.dialect,
            record=record,
            variants=args.variant,
            latency=args.latency,
        )
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except OSError as e:
        print(f"error: cannot listen on {args.host}:{args.port}: {e}", file=sys.stderr)
        return 1

    done = threading.Event()
    # The handler only sets a flag: the main thread does the shutdown.
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    print(f"BASE_URL={server.base_url}", flush=True)
    try:
        while not done.wait(0.2):
            pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
