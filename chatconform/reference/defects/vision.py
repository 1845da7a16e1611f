"""Defects of one area: vision.  Each `defect(...)` registers one mutant (see the package docstring)."""

from __future__ import annotations

from typing import Callable

from ..errors import ApiError
from ..exchange import Call
from .base import Defect, _bad, _error_500_when, _parts, _reject_message, _server_error, defect


def _reject_images(pred: Callable[[dict], bool], message: str, code: str = "invalid_image_url"):
    def hook(call: Call) -> ApiError | None:
        for i, j, iu in _parts(call, "image_url"):
            if pred(iu):
                return _bad(f"messages.[{i}].content.[{j}].image_url.url", message, code)
        return None

    return hook


def _url(iu: dict) -> str:
    return str(iu.get("url", ""))


defect(
    "rejects-png-data-uri",
    "vision",
    "VISION-002",
    "base64 PNG data URIs are rejected with 400.",
    on_request=_reject_images(
        lambda iu: _url(iu).startswith("data:image/png"),
        "Invalid image: PNG data URIs are not supported.",
        "invalid_image_format",
    ),
)
defect(
    "rejects-jpeg-data-uri",
    "vision",
    "VISION-002",
    "base64 JPEG data URIs are rejected with 400.",
    on_request=_reject_images(
        lambda iu: _url(iu).startswith(("data:image/jpeg", "data:image/jpg")),
        "Invalid image: JPEG data URIs are not supported.",
        "invalid_image_format",
    ),
)
defect(
    "rejects-https-image-url",
    "vision",
    "VISION-001",
    "Images given by http(s) URL are rejected with 400 (only data URIs work).",
    on_request=_reject_images(
        lambda iu: _url(iu).lower().startswith(("http://", "https://")),
        "Invalid image URL: remote images are not supported.",
    ),
)
defect(
    "rejects-detail-high",
    "vision",
    "VISION-003",
    '`detail: "high"` is rejected with 400.',
    on_request=_reject_images(
        lambda iu: iu.get("detail") == "high",
        "Invalid value: 'high'. Supported values are: 'auto' and 'low'.",
        "invalid_value",
    ),
)


def _images_in(m: dict) -> int:
    c = m.get("content")
    return sum(1 for p in c if isinstance(p, dict) and p.get("type") == "image_url") if isinstance(c, list) else 0


defect(
    "rejects-multiple-images",
    "vision",
    "VISION-005",
    "More than one image in a message is rejected with 400.",
    on_request=_reject_message(lambda m: _images_in(m) > 1, "content", "Only one image per message is supported."),
)
defect(
    "accepts-invalid-detail",
    "vision",
    "VISION-004",
    "`detail` outside auto/low/high is accepted.",
    skip_checks={"image.detail"},
)
defect(
    "accepts-malformed-data-uri",
    "vision",
    "VISION-004",
    "A malformed image data URI is accepted.",
    skip_checks={"image.data-uri"},
)
defect(
    "undecodable-image-500",
    "vision",
    "VISION-004",
    "A data URI whose bytes are not a valid image gets 500.",
    on_error=_error_500_when("image.decode"),
)
defect(
    "accepts-unreachable-image-url",
    "vision",
    "VISION-004",
    "An image URL that cannot be fetched is accepted (image silently ignored).",
    skip_checks={"image.unreachable"},
)
defect(
    "accepts-image-in-system-message",
    "vision",
    "CONTENT-002",
    "Image parts are accepted in system messages.",
    skip_checks={"parts.role"},
)


def _file_part_500(call: Call) -> ApiError | None:
    return _server_error() if _parts(call, "file") else None


defect(
    "file-part-500",
    "vision",
    "CONTENT-003",
    "A `file` content part crashes the server: 500 instead of an answer or a 4xx.",
    on_request=_file_part_500,
)


# -- a model without vision: outside the kill matrix -----------------------------------------
# VISION-006 binds only a target that declares it lacks vision (`lacks: [vision]`); the kill
# matrix runs with --capabilities all, where it is not applicable.  tests/test_media_checks.py
# runs the reference as a model without vision (WITHOUT_VISION, conformant: 400) and with the
# image silently dropped (OUTSIDE_MATRIX, a 200 as if no image had been sent).
def _refuse_images(call: Call) -> ApiError | None:
    images = _parts(call, "image_url")
    if not images:
        return None
    i, j, _ = images[0]
    return _bad(
        f"messages.[{i}].content.[{j}]",
        f"The model `{(call.body or {}).get('model')}` does not support image input.",
        "image_input_not_supported",
    )


def _drop_images(call: Call) -> ApiError | None:
    for m in (call.body or {}).get("messages") or []:
        if isinstance(m, dict) and isinstance(m.get("content"), list):
            m["content"] = [p for p in m["content"] if not (isinstance(p, dict) and p.get("type") == "image_url")]
    return None


WITHOUT_VISION = Defect(
    "model-without-vision",
    "vision",
    (),
    "The model reads text only: an image part gets 400 (VISION-006).",
    on_request=_refuse_images,
)
OUTSIDE_MATRIX: dict[str, Defect] = {
    d.name: d
    for d in (
        Defect(
            "image-ignored-without-vision",
            "vision",
            ("VISION-006",),
            "A model without vision answers a request with an image 200, the image silently dropped.",
            on_request=_drop_images,
        ),
    )
}
