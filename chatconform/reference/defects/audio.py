"""Defects of one area: audio.  Each `defect(...)` registers one mutant (see the package docstring)."""

from __future__ import annotations

from ..errors import ApiError
from ..exchange import Call, Reply
from .base import _as_500, _bad, _parts, defect


def _reject_audio(fmt: str):
    def hook(call: Call) -> ApiError | None:
        for i, j, ia in _parts(call, "input_audio"):
            if ia.get("format") == fmt:
                return _bad(
                    f"messages.[{i}].content.[{j}].input_audio.format",
                    f"Invalid value: '{fmt}'. Audio format {fmt} is not supported.",
                )
        return None

    return hook


defect(
    "rejects-wav",
    "audio",
    "AUDIO-001",
    "input_audio with format 'wav' is rejected with 400.",
    on_request=_reject_audio("wav"),
)
defect(
    "rejects-mp3",
    "audio",
    "AUDIO-001",
    "input_audio with format 'mp3' is rejected with 400.",
    on_request=_reject_audio("mp3"),
)
defect(
    "accepts-unknown-audio-format",
    "audio",
    "AUDIO-002",
    "input_audio `format` outside wav/mp3 (e.g. 'ogg') is accepted.",
    skip_checks={"audio.format"},
)


def _bad_base64_500(call: Call, reply: Reply) -> Reply:
    return (
        _as_500(reply)
        if reply.check == "audio.decode" and (reply.error or {}).get("code") == "invalid_base64"
        else reply
    )


defect(
    "bad-base64-audio-500",
    "audio",
    "AUDIO-002",
    "input_audio data that is not valid base64 gets 500.",
    on_error=_bad_base64_500,
)
defect(
    "accepts-audio-without-data",
    "audio",
    "AUDIO-002",
    "input_audio without `data` is accepted.",
    skip_checks={"audio.data"},
)
