"""Errors raised while reading or writing media.

Every error is a ``ValueError`` whose message is safe to show to the person who uploaded the file:
it describes the problem in plain words and never contains a path, a file's bytes or ffmpeg's own
output (those go to the log at debug level, where an operator can find them).
"""

from __future__ import annotations


class MediaError(ValueError):
    """Base class: the file cannot be used. ``str(err)`` is a user-facing message."""

    default_message = "This file could not be read."

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or self.default_message)

    @property
    def message(self) -> str:
        return str(self.args[0])


class EmptyMediaError(MediaError):
    """The file is empty, or has no stream of the kind asked for (e.g. no video track)."""

    default_message = "This file is empty."


class CorruptMediaError(MediaError):
    """The file looks like a supported format but is damaged or truncated."""

    default_message = "This file is damaged or incomplete and could not be decoded."


class UnsupportedMediaError(MediaError):
    """The file is not in a format we accept (including playlists, links and text files)."""

    default_message = "This file type is not supported."


class MediaTooLargeError(MediaError):
    """The file exceeds a limit in :class:`~engine.media.limits.MediaLimits` (size, length, resolution)."""

    default_message = "This file is too large."
