"""The one error hierarchy of sdft-local.

Every failure a user can cause or fix is an `SdftError` whose message names the bad value and the
fix. The CLI turns it into exit code 1 with the message on stderr; the TUI into a notification.
`assert` is kept for internal invariants only.
"""

from __future__ import annotations


class SdftError(Exception):
    """A failure the user can act on: `str(err)` says what is wrong and how to fix it."""

    title = "Error"
    exit_code = 1

    def __init__(self, message: str, title: str | None = None):
        super().__init__(message)
        self.message = message
        if title is not None:
            self.title = title


class ConfigError(SdftError):
    title = "Invalid setting"


class InvalidNameError(SdftError):
    title = "Invalid name"


class NotFoundError(SdftError):
    title = "Not found"


class ExistsError(SdftError):
    title = "Already exists"


class PhotoError(SdftError):
    title = "Photo rejected"


class ModelError(SdftError):
    title = "Model unavailable"


class BackendError(SdftError):
    title = "Backend failed"


class SynthesisError(SdftError):
    title = "Synthesis failed"


class TrainingError(SdftError):
    title = "Training failed"


class CheckError(SdftError):
    title = "Check failed"


class GateFailed(SdftError):
    """The check's gate said fail; the CLI exits 3."""

    title = "Gate failed"
    exit_code = 3


class ExportError(SdftError):
    title = "Export failed"
