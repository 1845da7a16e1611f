"""targets.yaml: named targets, validated against schemas/targets.schema.json on load.

Every fault in the file becomes one UsageError naming the file and the field; the
plugin turns it into exit status 4 with no traceback.  Secrets are read from the
environment here and nowhere else, and registered with redact at once.
"""

from __future__ import annotations

import datetime as _dt
import os
import pathlib
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import yaml
from jsonschema import Draft202012Validator

from . import redact, yamlio
from .paths import SCHEMA_DIR
from .violations import UsageError

CAPABILITIES = (
    "streaming",
    "stream_usage",
    "tools",
    "parallel_tools",
    "vision",
    "audio",
    "json_object",
    "json_schema",
    "logprobs",
    "n",
    "auth",
)
DEFAULT_TIMEOUTS = {"connect": 5.0, "read": 30.0, "total": 120.0}
# An ad hoc target (--base-url) is one nobody has described yet: it gets timeouts that
# judge a dead or hostile server quickly and still wait for a slow one.  The suite asks
# for a few tokens per request (16 at most, 128 for one tool probe), so a CPU server
# that takes tens of seconds for a long answer sends these in far less than 30 s; a
# whole answer gets twice that.  With them a server that hangs, stalls after its
# headers, drips or streams forever is judged in about 30-35 s (preflight.py); the
# README's "Timeouts" says how to give a slower server more.
ADHOC_TIMEOUTS = {"connect": 5.0, "read": 30.0, "total": 60.0}
ADHOC_MAX_TIME = 1800.0  # seconds a whole run against an ad hoc target may take (--max-time)
DEFAULT_LIMITS = {"max_body_bytes": 8 * 1024 * 1024, "max_events": 20000}
DEFAULT_RETRIES = {"max": 2, "max_wait": 5.0}
DEFAULT_CONCURRENCY = 8  # requests in flight at once against a server (rate_limit.concurrency): xdist workers
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


@dataclass(frozen=True)
class Expectation:
    rule: str
    reason: str
    link: str
    expires: _dt.date
    intermittent: bool = False  # seen in some runs only: not seeing it is no evidence of a fix

    def expired(self, today: _dt.date | None = None) -> bool:
        return (today or _dt.date.today()) > self.expires


@dataclass
class Target:
    name: str
    base_url: str
    model: str
    capabilities: frozenset[str]
    api_key: str | None = field(default=None, repr=False)
    api_key_env: str | None = None
    headers: dict[str, str] = field(default_factory=dict, repr=False)
    timeouts: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_TIMEOUTS))
    limits: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_LIMITS))
    retries: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_RETRIES))
    rate_limit: dict[str, float] = field(
        default_factory=dict
    )  # {requests_per_minute: N, concurrency: K}, see ratelimit.py
    budget: dict[str, int] = field(default_factory=dict)  # {requests: N, output_tokens: M} per run
    expectations: tuple[Expectation, ...] = ()
    embedded: str | None = None  # "reference": the suite starts the server itself
    allow_remote_images: bool = False
    source: str = "command line"
    # Vendor dialects (dialects.yaml, suites/test_extensions.py): see _dialect_keys.
    dialect: str | None = None  # with embedded: reference, the vendor the reference plays
    extensions: dict = field(default_factory=dict)  # {request: {param: schema}, response: {pointer: schema}}
    gated: dict[str, str] = field(default_factory=dict)  # capability -> why this key lacks it
    # What the target declares it does NOT have (`lacks`, --lacks): distinct from not
    # claiming, which says nothing.  Only a declared lack makes "refuse what you lack"
    # rules (VISION-006) apply; a capability is never both claimed and lacked.
    lacking: frozenset[str] = frozenset()
    # A valid key without permission for chat completions or the model (AUTH-006),
    # from the environment like api_key; None: AUTH-006 is not exercised.
    restricted_key: str | None = field(default=None, repr=False)
    restricted_key_env: str | None = None
    ca_bundle: str | None = None  # PEM file of the CAs to trust for https (else SSL_CERT_FILE, else certifi)
    max_time: float | None = None  # seconds the whole run may take (runclock.py); None: no limit
    # Which token-limit field the target takes (probes.py sends it): as configured
    # (token_limit_field, --token-limit-field), else found by the preflight (preflight.py),
    # else None, read as "max_completion_tokens".
    token_field: str | None = None

    def claims(self, capability: str) -> bool:
        return capability in self.capabilities

    def lacks(self, capability: str) -> bool:
        """Whether the target declares it lacks `capability` (never the same as not claiming it)."""
        return capability in self.lacking

    def restricted(self) -> str | None:
        """The restricted key AUTH-006 sends: the operator's (`restricted_key`), or for the
        embedded reference the one it derives from its own key (reference/auth.py)."""
        if self.restricted_key:
            return self.restricted_key
        if self.embedded == "reference" and self.api_key:
            from .reference.auth import restricted_key_for

            key = restricted_key_for(self.api_key)
            redact.register(key)
            return key
        return None

    @property
    def concurrency(self) -> int:
        """How many requests may be in flight at once (rate_limit.concurrency): the run
        spreads its tests over that many pytest-xdist workers (plugin/xdist.py).  The
        embedded reference answers in milliseconds, so there the limit is the CPU."""
        if "concurrency" in self.rate_limit:
            return int(self.rate_limit["concurrency"])
        if self.embedded:
            import os

            return max(1, min(os.cpu_count() or 1, 4))
        return DEFAULT_CONCURRENCY

    @property
    def chat_url(self) -> str:
        return self.base_url.rstrip("/") + "/chat/completions"

    def redacted(self) -> dict:
        """The effective configuration, safe to print or store."""
        return {
            "name": self.name,
            "base_url": self.base_url,
            "model": self.model,
            "capabilities": sorted(self.capabilities),
            "api_key": (f"${{{self.api_key_env}}}" if self.api_key_env else "(set)") if self.api_key else None,
            "headers": redact.headers(self.headers),
            "timeouts": self.timeouts,
            "limits": self.limits,
            "retries": self.retries,
            "rate_limit": self.rate_limit,
            "budget": self.budget,
            "embedded": self.embedded,
            "dialect": self.dialect,
            "extensions": self.extensions,
            "gated": self.gated,
            "lacks": sorted(self.lacking),
            "restricted_key": (f"${{{self.restricted_key_env}}}" if self.restricted_key_env else "(set)")
            if self.restricted_key
            else None,
            "ca_bundle": self.ca_bundle,
            "max_time": self.max_time,
            "token_field": self.token_field,
            "expectations": [
                {
                    "rule": e.rule,
                    "reason": e.reason,
                    "link": e.link,
                    "expires": e.expires.isoformat(),
                    "intermittent": e.intermittent,
                }
                for e in self.expectations
            ],
        }


def parse_capabilities(value: Any, where: str) -> frozenset[str]:
    if value == "all" or value == ["all"]:
        return frozenset(CAPABILITIES)
    if isinstance(value, str):
        value = [v.strip() for v in value.split(",") if v.strip()]
    if not isinstance(value, list):
        raise UsageError(f"{where}: capabilities must be 'all' or a list of {', '.join(CAPABILITIES)}")
    unknown = [v for v in value if v not in CAPABILITIES]
    if unknown:
        raise UsageError(
            f"{where}: unknown capability {', '.join(map(str, unknown))} (known: {', '.join(CAPABILITIES)}, or 'all')"
        )
    return frozenset(value)


def parse_lacks(value: Any, claimed: frozenset[str], where: str) -> frozenset[str]:
    """`lacks`: a list (or comma list) of capabilities the target declares it does not
    have; none of them may also be claimed."""
    if value in (None, "", []):
        return frozenset()
    if value == "all" or value == ["all"]:
        raise UsageError(f"{where}: lacks takes a list of capabilities, not 'all'")
    lacking = parse_capabilities(value, where)
    both = sorted(lacking & claimed)
    if both:
        raise UsageError(
            f"{where}: {', '.join(both)} also claimed in capabilities "
            "(a capability is either claimed or lacked, not both)"
        )
    return lacking


def check_base_url(url: str, where: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise UsageError(f"{where}: base_url {url!r} is not an http(s) URL (e.g. http://127.0.0.1:8000/v1)")
    return url.rstrip("/")


def _expand(value: Any, where: str, path: str) -> Any:
    if isinstance(value, dict):
        return {k: _expand(v, where, f"{path}.{k}") for k, v in value.items()}
    if isinstance(value, list):
        return [_expand(v, where, f"{path}[{i}]") for i, v in enumerate(value)]
    if not isinstance(value, str):
        return value

    def sub(m: re.Match) -> str:
        name, default = m.group(1), m.group(2)
        if name in os.environ:
            return os.environ[name]
        if default is not None:
            return default
        raise UsageError(f"{where}: {path} needs the environment variable {name}, which is not set")

    return _VAR.sub(sub, value)


def _schema() -> dict:
    import json

    return json.loads((SCHEMA_DIR / "targets.schema.json").read_text(encoding="utf-8"))


def load_file(path: str | os.PathLike) -> dict[str, dict]:
    p = pathlib.Path(path)
    if not p.is_file():
        raise UsageError(f"{p}: no such targets file")
    try:
        data = yamlio.load(p.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        raise UsageError(f"{p}: not valid YAML{at}: {getattr(exc, 'problem', exc)}") from None
    except UnicodeDecodeError:
        raise UsageError(f"{p}: not UTF-8 text") from None
    data = _dates_to_text(data)
    errs = sorted(Draft202012Validator(_schema()).iter_errors(data), key=lambda e: list(e.absolute_path))
    if errs:
        e = errs[0]
        field_path = ".".join(str(x) for x in e.absolute_path) or "(top level)"
        more = f" (and {len(errs) - 1} more problem(s))" if len(errs) > 1 else ""
        raise UsageError(f"{p}: {field_path}: {_friendly(e)}{more}")
    return data["targets"]


def _dates_to_text(value: Any) -> Any:
    # YAML reads an unquoted 2027-01-31 as a date; the schema (and people) think of text.
    if isinstance(value, dict):
        return {k: _dates_to_text(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_dates_to_text(v) for v in value]
    return value.isoformat() if isinstance(value, _dt.date) else value


_SECRET_FIELD = re.compile(r"key|token|secret|passw|auth|cookie", re.I)


def _friendly(e) -> str:
    if any(_SECRET_FIELD.search(str(part)) for part in e.absolute_path):
        # The value may be a key: name the field and the fix, never the value.
        if e.validator == "pattern" and str(e.absolute_path[-1]).endswith("key"):
            return (
                "must name an environment variable as ${VAR} (e.g. ${MY_SERVER_KEY}), never hold the key "
                "itself: put the key in that variable (the value given is not shown)"
            )
        return f"fails the schema's {e.validator!r} check (the value is not shown: it may be a secret)"
    if e.validator == "additionalProperties":
        extra = sorted(set(e.instance) - set(e.schema.get("properties", {})))
        return f"unknown key {', '.join(map(repr, extra))}"
    if e.validator == "required":
        return e.message.replace("'", "")
    return e.message


def from_entry(name: str, entry: dict, source: str) -> Target:
    where = f"{source}: targets.{name}"
    key_env = None
    raw_key = entry.get("api_key")
    if isinstance(raw_key, str):
        m = _VAR.fullmatch(raw_key.strip())
        key_env = m.group(1) if m else None
    restricted_env = None
    if isinstance(entry.get("restricted_key"), str):
        m = _VAR.fullmatch(entry["restricted_key"].strip())
        restricted_env = m.group(1) if m else None
    entry = _expand(entry, source, f"targets.{name}")
    api_key = entry.get("api_key") or None
    redact.register(api_key)
    restricted_key = entry.get("restricted_key") or None
    redact.register(restricted_key)
    headers = {k: str(v) for k, v in (entry.get("headers") or {}).items()}
    for v in headers.values():
        if "authorization" in v.lower():
            redact.register(v)
    exps = []
    for i, e in enumerate(entry.get("expectations") or []):
        from . import rules

        if e["rule"] not in rules.catalogue():
            raise UsageError(f"{where}.expectations[{i}].rule: unknown rule id {e['rule']!r}")
        exps.append(
            Expectation(
                rule=e["rule"],
                reason=e["reason"],
                link=e["link"],
                expires=_date(e["expires"], f"{where}.expectations[{i}].expires"),
                intermittent=bool(e.get("intermittent", False)),
            )
        )
    embedded = entry.get("embedded")
    base = entry.get("base_url")
    if not embedded:
        if not base:
            raise UsageError(f"{where}: base_url is required (or embedded: reference)")
        base = check_base_url(base, f"{where}.base_url")
    capabilities = parse_capabilities(entry.get("capabilities", []), f"{where}.capabilities")
    return Target(
        name=name,
        base_url=base or "",
        model=entry["model"],
        capabilities=capabilities,
        lacking=parse_lacks(entry.get("lacks"), capabilities, f"{where}.lacks"),
        restricted_key=restricted_key,
        restricted_key_env=restricted_env,
        api_key=api_key,
        api_key_env=key_env,
        headers=headers,
        timeouts={**DEFAULT_TIMEOUTS, **(entry.get("timeouts") or {})},
        limits={**DEFAULT_LIMITS, **(entry.get("limits") or {})},
        retries={**DEFAULT_RETRIES, **(entry.get("retries") or {})},
        rate_limit=dict(entry.get("rate_limit") or {}),
        budget=dict(entry.get("budget") or {}),
        expectations=tuple(exps),
        embedded=embedded,
        allow_remote_images=bool(entry.get("allow_remote_images", False)),
        source=source,
        token_field=entry.get("token_limit_field"),
        ca_bundle=_ca_bundle(entry.get("ca_bundle"), source, f"{where}.ca_bundle"),
        max_time=float(entry["max_time"]) if entry.get("max_time") is not None else None,
        **_dialect_keys(entry, where),
    )


def _dialect_keys(entry: dict, where: str) -> dict:
    """dialect / extensions / gated: what the schema cannot say about them."""
    dialect = entry.get("dialect")
    if dialect is not None:
        from .reference.dialects import DIALECTS

        if entry.get("embedded") != "reference":
            raise UsageError(
                f"{where}.dialect: goes with embedded: reference (it says how the embedded server behaves)"
            )
        if dialect not in DIALECTS:
            raise UsageError(f"{where}.dialect: unknown dialect {dialect!r} (known: {', '.join(DIALECTS)})")
    ext = entry.get("extensions") or {}
    for kind in ("request", "response"):
        for name, schema in (ext.get(kind) or {}).items():
            try:
                Draft202012Validator.check_schema(schema)
            except Exception as exc:  # jsonschema.SchemaError: say where, not a traceback
                raise UsageError(
                    f"{where}.extensions.{kind}.{name}: not a valid JSON Schema: {getattr(exc, 'message', exc)}"
                ) from None
    gated = dict(entry.get("gated") or {})
    claimed = parse_capabilities(entry.get("capabilities", []), f"{where}.capabilities")
    both = sorted(set(gated) & claimed)
    if both:
        raise UsageError(
            f"{where}.gated: {', '.join(both)} also claimed in capabilities (a gated capability is one the key lacks)"
        )
    return {"dialect": dialect, "extensions": ext, "gated": gated}


def _ca_bundle(value: str | None, source: str, where: str) -> str | None:
    """A CA bundle path, relative to the targets file; it must be a readable file."""
    if not value:
        return None
    path = pathlib.Path(value).expanduser()
    if not path.is_absolute() and source not in ("command line", "--ca-bundle"):
        path = pathlib.Path(source).resolve().parent / path
    if not path.is_file():
        raise UsageError(f"{where}: {value!r} is not a file (a PEM bundle of the CA certificates to trust)")
    return str(path)


def _date(value: Any, where: str) -> _dt.date:
    if isinstance(value, _dt.date):
        return value
    try:
        return _dt.date.fromisoformat(str(value))
    except ValueError:
        raise UsageError(f"{where}: {value!r} is not a date (YYYY-MM-DD)") from None


# The embedded reference: the default target, known without any targets file (an installed
# chatconform run from any directory); a file may still define its own `reference`.
BUILTIN_REFERENCE = {
    "description": "the conformant server shipped in the package, started by the suite on 127.0.0.1",
    "embedded": "reference",
    "model": "chatconform-reference",
    "capabilities": "all",
    "allow_remote_images": True,  # the reference accepts http(s) image URLs without fetching them
}


def builtin() -> Target:
    return from_entry("reference", dict(BUILTIN_REFERENCE), "built-in")


def resolve(name: str, path: str | os.PathLike) -> Target:
    entries = load_file(path)
    if name == "reference" and name not in entries:
        return builtin()
    if name not in entries:
        raise UsageError(f"{path}: no target named {name!r} (known: {', '.join(sorted(entries)) or 'none'})")
    return from_entry(name, entries[name], str(path))


def adhoc(
    base_url: str, model: str | None, api_key_env: str | None, capabilities: str | None, lacks: str | None = None
) -> Target:
    where = "--base-url"
    if not model:
        raise UsageError("--base-url needs --model MODEL as well")
    key = None
    if api_key_env:
        if api_key_env not in os.environ:
            raise UsageError(f"--api-key-env {api_key_env}: the environment variable {api_key_env} is not set")
        key = os.environ[api_key_env]
        redact.register(key)
    caps = parse_capabilities(capabilities or "", "--capabilities") if capabilities else frozenset()
    lacking = parse_lacks(lacks, caps, "--lacks")
    url = check_base_url(base_url, where)
    # Named by where it listens, so side-by-side reports of several ad hoc runs stay apart.
    return Target(
        name=urlsplit(url).netloc or "adhoc",
        base_url=url,
        model=model,
        capabilities=caps,
        api_key=key,
        api_key_env=api_key_env,
        timeouts=dict(ADHOC_TIMEOUTS),
        max_time=ADHOC_MAX_TIME,
        lacking=lacking,
    )


def override(
    target: Target,
    *,
    read: float | None = None,
    connect: float | None = None,
    ca_bundle: str | None = None,
    max_time: float | None = None,
) -> Target:
    """Command-line settings over the target's own (--timeout, --connect-timeout,
    --ca-bundle, --max-time).  --timeout is the read timeout; a whole answer may then
    take twice that (timeouts.total), or the target's own total if that is longer."""
    for name, value in (("--timeout", read), ("--connect-timeout", connect), ("--max-time", max_time)):
        if value is not None and not value > 0:
            raise UsageError(f"{name} {value:g}: must be a number of seconds above 0")
    if read is not None:
        adhoc = target.source == "command line"
        total = 2 * read if adhoc else max(target.timeouts["total"], 2 * read)
        target.timeouts = {**target.timeouts, "read": float(read), "total": float(total)}
    if connect is not None:
        target.timeouts = {**target.timeouts, "connect": float(connect)}
    if ca_bundle is not None:
        target.ca_bundle = _ca_bundle(ca_bundle, "--ca-bundle", "--ca-bundle")
    if max_time is not None:
        target.max_time = float(max_time)
    return target
