"""Allure labels and attachments for suite tests (only when --alluredir is given).

Area → feature, rule → story, MUST/SHOULD/MAY → severity; each exchange becomes a
step with the request, the response transcript and the curl reproduction attached,
all passed through redact first.
"""

from __future__ import annotations

import json

from . import redact, rules as rules_mod

SEVERITY = {"MUST": "critical", "SHOULD": "normal", "MAY": "minor"}


def enabled(config) -> bool:
    return bool(getattr(config.option, "allure_report_dir", None))


def label(item, rule_ids) -> None:
    import allure

    cat = rules_mod.catalogue()
    known = [cat[r] for r in rule_ids if r in cat]
    if not known:
        return
    allure.dynamic.feature(known[0].area)
    for r in known:
        allure.dynamic.story(r.id)
    worst = min((r.level for r in known), key=("MUST", "SHOULD", "MAY").index)
    allure.dynamic.severity(SEVERITY[worst])
    allure.dynamic.description("\n".join(f"{r.id} ({r.level}): {r.text}" for r in known))


def attach(exchanges) -> None:
    import allure

    for i, ex in enumerate(exchanges, 1):
        with allure.step(f"exchange {i}: {ex.method} {redact.text(ex.url)} → HTTP {ex.status} {ex.label}"):
            body = (
                ex.request_json if ex.request_json is not None else (ex.request_body or b"").decode("utf-8", "replace")
            )
            allure.attach(
                redact.text(json.dumps(body, ensure_ascii=False, indent=1) if not isinstance(body, str) else body),
                name="request",
                attachment_type=allure.attachment_type.JSON,
            )
            if ex.status is not None:
                allure.attach(ex.transcript(64 * 1024), name="response", attachment_type=allure.attachment_type.TEXT)
            allure.attach(ex.curl(), name="curl", attachment_type=allure.attachment_type.TEXT)


def environment(alluredir: str, target) -> None:
    import pathlib
    from . import __version__

    props = {
        "suite": f"chatconform {__version__}",
        "target": target.name,
        "model": target.model,
        "base_url": redact.text(target.base_url),
        "capabilities": ",".join(sorted(target.capabilities)),
    }
    path = pathlib.Path(alluredir)
    path.mkdir(parents=True, exist_ok=True)
    (path / "environment.properties").write_text("".join(f"{k}={v}\n" for k, v in props.items()), encoding="utf-8")
