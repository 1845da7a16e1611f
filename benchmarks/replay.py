"""The baseline of the overhead benchmark: a bare httpx loop replaying recorded requests.

    BENCH_KEY=... python benchmarks/replay.py BASE_URL RECORD.jsonl

RECORD is what the reference server wrote with `--record` during a suite run: every
request it received, in order.  Each is sent again as received (method, path, headers,
raw body) and its answer read to the end, with nothing parsed or checked.  Run as its
own process, like the suite, so both sides pay for starting Python and importing httpx.
Prints one JSON line: {"requests": N, "loop_s": seconds spent in the loop}.
"""

from __future__ import annotations

import json
import os
import sys
import time
from urllib.parse import urlsplit

import httpx


def main() -> int:
    if len(sys.argv) != 3:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    base, record = sys.argv[1], sys.argv[2]
    key = os.environ.get("BENCH_KEY", "")
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(base))
    try:
        with open(record, encoding="utf-8") as f:
            reqs = [json.loads(line) for line in f if line.strip()]
    except (OSError, ValueError) as exc:
        print(f"error: cannot read the record {record}: {exc}", file=sys.stderr)
        return 2
    t = time.perf_counter()
    with httpx.Client(timeout=60) as client:
        for r in reqs:
            headers = {k: v.replace("{KEY}", key) for k, v in r["headers"].items()}
            if r["auth"] == "valid":
                headers["Authorization"] = f"Bearer {key}"
            elif r["auth"] == "other":
                headers["Authorization"] = "Bearer sk-not-the-key"
            body = r["body"].replace("{KEY}", key).encode("latin-1")
            with client.stream(r["method"], origin + r["path"], headers=headers, content=body) as resp:
                for _ in resp.iter_raw():
                    pass
    print(json.dumps({"requests": len(reqs), "loop_s": time.perf_counter() - t}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
