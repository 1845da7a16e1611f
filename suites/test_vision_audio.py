"""Images, audio and content parts (VISION, AUDIO, CONTENT-002/003).

Payloads come from fixtures/media (tiny, valid files; `not-an-image.png` is text).
Whether the answer describes the image or the sound is the model's business and never
judged; that the server accepts valid input and refuses malformed input is.  Each
request names the rule that makes it valid (`accept=`) or says it must be refused
(`refuse=`): checks/intent.py judges the status, the ERR checks the error envelope,
and the answer checks the format of every 200.
"""

import base64

import pytest

from chatconform import fixtures, probes

pytestmark = pytest.mark.area("vision_audio")

# Used in OpenAI's own vision guide; only sent when the target allows remote images.
REMOTE_IMAGE = (
    "https://upload.wikimedia.org/wikipedia/commons/thumb/d/dd/Gfp-wisconsin-madison-the-nature-boardwalk.jpg/"
    "2560px-Gfp-wisconsin-madison-the-nature-boardwalk.jpg"
)
UNREACHABLE_IMAGE = "https://chatconform.invalid/no-such-image.png"
# Why the two remote-URL tests are off, and how to turn them on (the verdict repeats it).
REMOTE_OFF = (
    "disabled: pass --allow-remote-images (ad hoc) or set allow_remote_images: true (targets.yaml) "
    "to send https image URLs; the server will fetch them"
)


def _text(t: str = "What colour is this image? Answer in one word.") -> dict:
    return {"type": "text", "text": t}


def _user(model: str, parts: list, **extra) -> dict:
    return probes.with_messages(model, [{"role": "user", "content": parts}], **extra)


def _url_part(url: str, detail: str | None = None) -> dict:
    part = {"type": "image_url", "image_url": {"url": url}}
    if detail is not None:
        part["image_url"]["detail"] = detail
    return part


# -- images --------------------------------------------------------------------------------------
@pytest.mark.rules("VISION-001")
def test_https_image_url(client, model, target):
    """VISION-001: an image_url part with an https URL is accepted."""
    if not target.allow_remote_images:
        pytest.skip(REMOTE_OFF)
    client.chat(
        _user(model, [_text("Describe this image in five words."), _url_part(REMOTE_IMAGE)]),
        label="https image",
        accept="VISION-001",
    )


IMAGES = ["red-16x16.png", "checker-32x32.png", "gray-8x8.jpg"]


@pytest.mark.smoke
@pytest.mark.rules("VISION-002")
@pytest.mark.parametrize("name", IMAGES)
def test_data_uri_image(client, model, name):
    """VISION-002: image_url.url may be a base64 data URI (data:image/png;base64,… and data:image/jpeg;base64,…)."""
    client.chat(_user(model, [_text(), fixtures.image_part(name)]), label=f"data URI {name}", accept="VISION-002")


@pytest.mark.rules("VISION-003")
@pytest.mark.parametrize("detail", ["auto", "low", "high"])
def test_image_detail(client, model, detail):
    """VISION-003: image_url.detail accepts auto, low and high."""
    client.chat(
        _user(model, [_text(), fixtures.image_part("red-16x16.png", detail=detail)]),
        label=f"detail {detail}",
        accept="VISION-003",
    )


def _bad_images():
    png = fixtures.b64("red-16x16.png")
    return [
        ("detail outside the enum", lambda: fixtures.image_part("red-16x16.png", detail="ultra")),
        ("data URI with invalid base64", lambda: _url_part("data:image/png;base64,!!not*base64!!")),
        ("data URI without base64 marker", lambda: _url_part("data:image/png," + png[:40])),
        ("truncated data URI", lambda: _url_part("data:image/png;base64")),
        ("not an image (text as PNG)", lambda: fixtures.image_part("not-an-image.png")),
        (
            "PNG bytes cut short",
            lambda: _url_part(
                "data:image/png;base64," + base64.b64encode(fixtures.media("red-16x16.png")[:12]).decode()
            ),
        ),
    ]


BAD_IMAGES = _bad_images()


@pytest.mark.rules("VISION-004")
@pytest.mark.parametrize("what,part", BAD_IMAGES, ids=[b[0] for b in BAD_IMAGES])
def test_bad_image_rejected(client, model, what, part):
    """VISION-004: detail outside the enum, a malformed data URI or an undecodable image → 400 + envelope (not 5xx, not ignored)."""
    client.chat(_user(model, [_text(), part()]), label=what, refuse="VISION-004", param="messages")


@pytest.mark.rules("VISION-004")
def test_unreachable_image_url_rejected(client, model, target):
    """VISION-004: an image URL that cannot be fetched → 400 + envelope, not 5xx and not an answer ignoring it."""
    if not target.allow_remote_images:
        pytest.skip(REMOTE_OFF)
    client.chat(
        _user(model, [_text(), _url_part(UNREACHABLE_IMAGE)]),
        label="unreachable image URL",
        refuse="VISION-004",
        param="messages",
    )


ORDERS = {
    "text-image-image": lambda: [
        _text("Compare the two images."),
        fixtures.image_part("red-16x16.png"),
        fixtures.image_part("checker-32x32.png"),
    ],
    "image-text-image": lambda: [
        fixtures.image_part("red-16x16.png"),
        _text("Compare it with this one:"),
        fixtures.image_part("gray-8x8.jpg"),
    ],
    "image-image-text": lambda: [
        fixtures.image_part("checker-32x32.png"),
        fixtures.image_part("gray-8x8.jpg"),
        _text("Which is brighter?"),
    ],
}


@pytest.mark.rules("VISION-005")
@pytest.mark.parametrize("order", list(ORDERS))
def test_several_images_any_order(client, model, order):
    """VISION-005: several images in one message, mixed with text parts in any order, are accepted."""
    client.chat(_user(model, ORDERS[order]()), label=f"two images {order}", accept="VISION-005")


@pytest.mark.rules("VISION-006")
def test_image_to_text_only_model(client, model, target):
    """VISION-006 (SHOULD): a model without vision that receives an image part → 400 + envelope saying so,
    rather than answering without the image (a 200 is the image silently ignored).  Runs only on targets
    that DECLARE they lack vision (`lacks: [vision]`, --lacks vision): not claiming vision says nothing."""
    if target.claims("vision"):
        pytest.skip("not applicable: the target claims vision; VISION-006 is about models without vision")
    if not target.lacks("vision"):
        pytest.skip(
            "not applicable: the target neither claims nor lacks vision; declare lacks: [vision] "
            "(targets.yaml) or --lacks vision to judge VISION-006"
        )
    client.chat(
        _user(model, [_text(), fixtures.image_part("red-16x16.png")]),
        label="image to a model without vision",
        refuse="VISION-006",
        param="messages",
    )


# -- audio ---------------------------------------------------------------------------------------
@pytest.mark.rules("AUDIO-001")
@pytest.mark.parametrize("name", ["tone-440hz.wav", "silence.mp3"])
def test_input_audio(client, model, name):
    """AUDIO-001: an input_audio part {data: base64, format: wav|mp3} is accepted."""
    parts = [_text("What do you hear? Answer in five words."), fixtures.audio_part(name)]
    client.chat(_user(model, parts), label=f"input_audio {name}", accept="AUDIO-001")


BAD_AUDIO = [
    (
        "format outside wav/mp3",
        lambda: {"type": "input_audio", "input_audio": {"data": fixtures.b64("tone-440hz.wav"), "format": "ogg"}},
    ),
    ("missing data", lambda: {"type": "input_audio", "input_audio": {"format": "wav"}}),
    ("undecodable base64", lambda: {"type": "input_audio", "input_audio": {"data": "!!not*base64!!", "format": "wav"}}),
    ("missing format", lambda: {"type": "input_audio", "input_audio": {"data": fixtures.b64("tone-440hz.wav")}}),
]


@pytest.mark.rules("AUDIO-002")
@pytest.mark.parametrize("what,part", BAD_AUDIO, ids=[b[0] for b in BAD_AUDIO])
def test_bad_audio_rejected(client, model, what, part):
    """AUDIO-002: format outside wav/mp3, missing data, or undecodable base64 → 400 + envelope."""
    client.chat(_user(model, [_text("What do you hear?"), part()]), label=what, refuse="AUDIO-002", param="messages")


# -- where parts may appear --------------------------------------------------------------------
MISPLACED = [
    (
        "image in a system message",
        lambda: [
            {"role": "system", "content": [fixtures.image_part("red-16x16.png")]},
            {"role": "user", "content": "What colour was the image?"},
        ],
    ),
    (
        "image in a developer message",
        lambda: [
            {"role": "developer", "content": [_text("Context:"), fixtures.image_part("red-16x16.png")]},
            {"role": "user", "content": "What colour was the image?"},
        ],
    ),
    (
        "audio in a system message",
        lambda: [
            {"role": "system", "content": [fixtures.audio_part("tone-440hz.wav")]},
            {"role": "user", "content": "What did you hear?"},
        ],
    ),
    (
        "image in an assistant message",
        lambda: [
            {"role": "user", "content": "Draw me something."},
            {"role": "assistant", "content": [fixtures.image_part("red-16x16.png")]},
            {"role": "user", "content": "Thanks."},
        ],
    ),
]


@pytest.mark.rules("CONTENT-002")
@pytest.mark.parametrize("what,messages", MISPLACED, ids=[m[0] for m in MISPLACED])
def test_parts_only_where_allowed(client, model, what, messages):
    """CONTENT-002: image, audio and file parts only in user messages; system/developer take text parts only,
    assistant text or refusal parts → anything else 400 + envelope."""
    client.chat(probes.with_messages(model, messages()), label=what, refuse="CONTENT-002", param="messages")


@pytest.mark.rules("CONTENT-003")
def test_file_part(client, model):
    """CONTENT-003 (MAY, informational): a file part is accepted by servers that support file input, else a 4xx — never
    5xx (checks/media.py: which of the two is noted)."""
    data = base64.b64encode(b"chatconform: the secret word is teal.\n").decode()
    part = {"type": "file", "file": {"filename": "note.txt", "file_data": f"data:text/plain;base64,{data}"}}
    client.chat(_user(model, [_text("What is the secret word in the file?"), part]), label="file part")
