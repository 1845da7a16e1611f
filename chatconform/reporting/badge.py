"""shields.io "endpoint" badges, one JSON file per profile.

shields.io renders https://img.shields.io/endpoint?url=<where the JSON is served>; the
JSON format is {"schemaVersion": 1, "label", "message", "color"}.  One file per profile
(not one for the whole run) because a server is usually conformant for some profiles
(core, streaming) and not others, and a README wants to say exactly that.
"""

from __future__ import annotations

from .common import slug

LABEL = "chat completions"


def badge(profile: str, p: dict, label: str = LABEL) -> dict:
    verdict = p.get("verdict")
    if verdict == "met":
        message, color = "passing", "brightgreen"
    elif verdict == "not met":
        message, color = f"{len(p.get('failed') or []) or 1} failing", "red"
    elif verdict == "not claimed":
        message, color = "not claimed", "lightgrey"
    else:  # incomplete, or a verdict this version does not know: never claim a pass
        message, color = "incomplete", "yellow"
    return {"schemaVersion": 1, "label": f"{label}: {profile}", "message": message, "color": color}


def badges(data: dict, label: str = LABEL) -> dict[str, dict]:
    """{file name: badge JSON} for every profile of one run."""
    target = slug(data.get("target", {}).get("name") or "target")
    return {
        f"badge-{target}-{slug(name)}.json": badge(name, p, label) for name, p in (data.get("profiles") or {}).items()
    }
