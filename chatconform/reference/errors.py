"""The OpenAI error envelope and the exception that carries it through the server.

Every failure the reference server reports, whatever stage finds it (auth, media
type, JSON parsing, validation, model lookup), is raised as `ApiError` so that one
place (`server.py`) renders it, and the defect hooks see every error the same way.
"""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """An HTTP error answer: status plus the four keys of the `error` object.

    `check` names the validation check that produced it (e.g. "temperature.range");
    defects use it to single out one kind of error without parsing messages.
    """

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        param: str | None = None,
        code: str | None = None,
        check: str = "",
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.param = param
        self.code = code
        self.check = check
        self.headers = dict(headers or {})

    def error_object(self) -> dict[str, Any]:
        # All four keys always present, nullable ones as JSON null (ERR-002).
        return {"message": self.message, "type": self.type, "param": self.param, "code": self.code}

    def envelope(self) -> dict[str, Any]:
        return {"error": self.error_object()}

    def __repr__(self) -> str:  # pragma: no cover - debugging aid
        return f"ApiError({self.status}, {self.message!r}, param={self.param!r}, code={self.code!r})"


def bad_request(check: str, message: str, param: str | None, code: str | None = None) -> ApiError:
    return ApiError(400, message, param=param, code=code, check=check)


def context_exceeded(window: int, used: int, check: str) -> ApiError:
    """api.openai.com's (and vLLM's) refusal of a prompt longer than the context window (ERR-008)."""
    return ApiError(
        400,
        f"This model's maximum context length is {window} tokens. However, your messages resulted in "
        f"{used} tokens. Please reduce the length of the messages.",
        param="messages",
        code="context_length_exceeded",
        check=check,
    )
