"""Recognise a container from its first bytes, so ffmpeg is told which demuxer to use.

This is the format whitelist: ffmpeg's own probing would happily accept an HLS playlist, an
ffconcat list, an SDP description or an image-sequence pattern, each of which makes it open other
files or URLs. Here only self-contained containers are recognised, and anything that looks like a
text playlist or a link gets a message of its own.
"""

from __future__ import annotations

from pathlib import Path

from .errors import UnsupportedMediaError

VIDEO_DEMUXERS = frozenset({"mov", "matroska", "avi", "gif"})
AUDIO_DEMUXERS = frozenset({"wav", "mp3", "flac", "ogg", "mov", "matroska", "avi"})

_HEAD = 64
_MOV_BOXES = (b"ftyp", b"moov", b"mdat", b"free", b"wide", b"skip")
_TEXT_MARKERS = (b"#extm3u", b"ffconcat", b"[playlist]", b"<?xml", b"<smil", b"<mpd", b"v=0", b"file ")
_URL_MARKERS = (b"http:", b"https:", b"file:", b"rtmp:", b"rtsp:", b"ftp:", b"data:", b"concat:")


def sniff(path: Path) -> str | None:
    """Return the ffmpeg demuxer name for the file's container, or ``None`` if not recognised."""
    with open(path, "rb") as f:
        head = f.read(_HEAD)
    if head[4:8] in _MOV_BOXES:
        return "mov"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "matroska"  # also WebM
    if head.startswith(b"RIFF") and head[8:12] == b"WAVE":
        return "wav"
    if head.startswith(b"RIFF") and head[8:12] == b"AVI ":
        return "avi"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "gif"
    if head.startswith(b"OggS"):
        return "ogg"
    if head.startswith(b"fLaC"):
        return "flac"
    if head.startswith(b"ID3") or (
        len(head) > 1 and head[0] == 0xFF and (head[1] & 0xE6) in (0xE2, 0xE4, 0xE6)
    ):
        return "mp3"  # an ID3 tag, or an MPEG audio frame sync with layer I/II/III
    return None


def require_demuxer(path: Path, allowed: frozenset[str], what: str) -> str:
    """Sniff ``path`` and return its demuxer if it is in ``allowed``; otherwise raise a clear error."""
    demuxer = sniff(path)
    if demuxer in allowed:
        return demuxer
    if demuxer is None and looks_like_playlist_or_link(path):
        raise UnsupportedMediaError(
            f"Playlists and links are not accepted. Please upload the {what} file itself."
        )
    names = "MP4/MOV, WebM/MKV, AVI or GIF" if what == "video" else "WAV, MP3, FLAC, OGG, M4A or a video"
    raise UnsupportedMediaError(f"This file is not a supported {what} format ({names}).")


def looks_like_playlist_or_link(path: Path) -> bool:
    with open(path, "rb") as f:
        head = f.read(_HEAD).lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return head.startswith(_TEXT_MARKERS) or head.startswith(_URL_MARKERS)
