"""`chatconform discover --base-url URL --model M`: propose a targets.yaml entry.

A few cheap requests (max_tokens 4) probe which capabilities the server accepts.
What it writes is a proposal: every capability is marked as detected, not declared,
because acceptance is not conformance; a certifying run should declare what the
vendor claims, not what a probe happened to see.
"""

from __future__ import annotations

import argparse
import base64
import datetime as _dt
import pathlib
import sys

import yaml

from . import probes
from .client import Client
from .paths import FIXTURES_DIR
from .targets import adhoc
from .violations import CannotJudge, UsageError


def _probe_bodies(model: str) -> dict[str, dict]:
    png = base64.b64encode((FIXTURES_DIR / "media" / "red-16x16.png").read_bytes()).decode()
    wav = base64.b64encode((FIXTURES_DIR / "media" / "tone-440hz.wav").read_bytes()).decode()
    tiny = dict(max_tokens=4)
    return {
        "streaming": probes.minimal(model, stream=True, **tiny),
        "stream_usage": probes.minimal(model, stream=True, stream_options={"include_usage": True}, **tiny),
        "tools": probes.tool(model, tool_choice="required", max_tokens=64),
        "parallel_tools": probes.tool(
            model, tool_choice="required", tools=[probes.WEATHER_TOOL, probes.TIME_TOOL], max_tokens=96
        ),
        "n": probes.minimal(model, n=2, **tiny),
        "logprobs": probes.minimal(model, logprobs=True, top_logprobs=2, **tiny),
        "json_object": probes.with_messages(
            model,
            [{"role": "user", "content": "Answer in JSON."}],
            response_format={"type": "json_object"},
            max_tokens=16,
        ),
        "json_schema": probes.with_messages(
            model,
            [{"role": "user", "content": "Answer in JSON."}],
            max_tokens=16,
            response_format={
                "type": "json_schema",
                "json_schema": {
                    "name": "probe",
                    "strict": True,
                    "schema": {
                        "type": "object",
                        "properties": {"a": {"type": "string"}},
                        "required": ["a"],
                        "additionalProperties": False,
                    },
                },
            },
        ),
        "vision": probes.with_messages(
            model,
            [
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "What colour?"},
                        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{png}"}},
                    ],
                }
            ],
            **tiny,
        ),
        "audio": probes.with_messages(
            model,
            [
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "What is this?"},
                        {"type": "input_audio", "input_audio": {"data": wav, "format": "wav"}},
                    ],
                }
            ],
            **tiny,
        ),
    }


def detect(client: Client, model: str) -> tuple[list[str], dict[str, str]]:
    found, evidence = [], {}
    plain = client.chat(probes.minimal(model, max_tokens=4), label="plain")
    if plain.status != 200:
        raise CannotJudge(f"a plain request got HTTP {plain.status}; check --base-url, --model and the key")
    for cap, body in _probe_bodies(model).items():
        try:
            ex = client.chat(body, label=cap)
        except CannotJudge as exc:
            evidence[cap] = f"could not probe: {exc.reason}"
            continue
        ok = ex.status == 200
        if ok and cap in ("streaming", "stream_usage"):
            ok = ex.is_stream and (cap == "streaming" or any(isinstance(c.get("usage"), dict) for c in ex.chunks))
        if ok and cap in ("tools", "parallel_tools"):
            msg = ((ex.json or {}).get("choices") or [{}])[0].get("message") or {}
            calls = msg.get("tool_calls") or []
            ok = len(calls) >= (2 if cap == "parallel_tools" else 1)
        if ok and cap == "n":
            ok = len((ex.json or {}).get("choices") or []) == 2
        if ok and cap == "logprobs":
            ok = isinstance((((ex.json or {}).get("choices") or [{}])[0]).get("logprobs"), dict)
        evidence[cap] = f"HTTP {ex.status}" + ("" if ok else " (not detected)")
        if ok:
            found.append(cap)
    no_key = client.chat(probes.minimal(model, max_tokens=4), auth=None, label="no key")
    if no_key.status == 401:
        found.append("auth")
    evidence["auth"] = f"no key → HTTP {no_key.status}"
    return found, evidence


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="chatconform discover", description=__doc__.splitlines()[0])
    p.add_argument("--base-url", required=True)
    p.add_argument("--model", required=True)
    p.add_argument("--api-key-env")
    p.add_argument("--name", default="discovered")
    p.add_argument("-o", "--output", help="write the proposed entry here (default: print it)")
    ns = p.parse_args(argv)
    try:
        target = adhoc(ns.base_url, ns.model, ns.api_key_env, None)
    except UsageError as exc:
        print(f"chatconform discover: {exc}", file=sys.stderr)
        return 4
    client = Client(target)
    try:
        caps, evidence = detect(client, ns.model)
    except CannotJudge as exc:
        print(f"chatconform discover: {exc.reason}", file=sys.stderr)
        return 1
    finally:
        client.close()
    entry = {"base_url": target.base_url, "model": ns.model, "capabilities": caps}
    if ns.api_key_env:
        entry["api_key"] = "${" + ns.api_key_env + "}"
    text = (
        f"# Proposed by `chatconform discover` on {_dt.date.today()}: capabilities DETECTED by probes,\n"
        "# not declared by the vendor. Review before using this entry for certification.\n"
        + "".join(f"#   {k}: {v}\n" for k, v in evidence.items())
        + yaml.safe_dump({"targets": {ns.name: entry}}, sort_keys=False)
    )
    if ns.output:
        pathlib.Path(ns.output).write_text(text, encoding="utf-8")
    else:
        print(text, end="")
    return 0
