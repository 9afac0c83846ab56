"""Forgetting idle sessions, so what a burst of visitors leaves in Gradio's tables is freed.

Gradio keeps one `SessionState` per session hash (a copy of the whole page config, ~1 MB here, plus
its `gr.State` values) until `state_session_capacity` newer sessions push it out; it never drops one
for being idle. An API client (`gradio_client.Client`) is a new session every time and sends no
heartbeat, so Gradio cannot tell when it has gone. Its queue likewise keeps each session's message
queue (up to 2,000 sessions), with the progress messages nobody read once the client had its result.
The sweeper drops every session unused for `idle_s` seconds with no event in flight (running the
states' delete callbacks first, as Gradio's own expiry does) and its message queue, and hands the
freed heap back to the OS. A session that comes back after that starts afresh: it loses only
its "last result" for Stylize, exactly as when the capacity pushes it out. Measured (NOTES.md,
session 5): the Python objects go, but the process's RSS stays up by about as much as the sessions
took, in partly used allocator arenas.

This reads Gradio's `StateHolder` (`session_data`, `time_last_used`, `lock`, `delete_state`) and
`Queue` (`event_ids_to_events`, `pending_messages_per_session`, `pending_event_ids_session`), which
is internal API:
gradio is pinned in requirements.txt and tests/ui/test_sessions.py checks it.
"""

from __future__ import annotations

import datetime
import logging
import os
import threading
from typing import Any

from ui.common import release_freed_memory

log = logging.getLogger("magpoet.sessions")

SESSION_IDLE_S = float(os.environ.get("MAGPOET_SESSION_IDLE_S", 900))  # 15 minutes
SWEEP_EVERY_S = 30.0


def expire_idle_sessions(state_holder: Any, idle_s: float, queue: Any | None = None) -> int:
    """Drop the sessions of `state_holder` (Gradio's StateHolder) unused for `idle_s` seconds, and
    their message queues and event-id sets in `queue` (Gradio's Queue, which empties neither when an
    event completes); a session with an event queued or running stays.

    Returns how many were dropped. Gradio's event loop writes these tables while this runs in
    another thread, so they are only copied in one step (`list(...)`) or probed by key.
    """
    cutoff = datetime.datetime.now() - datetime.timedelta(seconds=idle_s)
    events = list(queue.event_ids_to_events.values()) if queue is not None else []  # until each completes
    busy = {event.session_hash for event in events}
    idle = [sid for sid, used in list(state_holder.time_last_used.items()) if used < cutoff and sid not in busy]
    for sid in idle:
        state_holder.delete_state(sid)  # the gr.State delete callbacks
        with state_holder.lock:
            state_holder.session_data.pop(sid, None)
            state_holder.time_last_used.pop(sid, None)
        if queue is not None:
            queue.pending_messages_per_session.pop(sid, None)
            queue.pending_event_ids_session.pop(sid, None)
    return len(idle)


class SessionSweeper(threading.Thread):
    """A daemon thread that expires idle sessions of a launched `gr.Blocks` every `every_s` seconds."""

    def __init__(self, demo: Any, idle_s: float = SESSION_IDLE_S, every_s: float = SWEEP_EVERY_S) -> None:
        super().__init__(daemon=True, name="session-sweeper")
        self.demo, self.idle_s, self.every_s = demo, idle_s, every_s
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.wait(self.every_s):
            holder = getattr(self.demo, "state_holder", None)  # set when the app is created at launch
            if holder is None:
                continue
            try:
                dropped = expire_idle_sessions(holder, self.idle_s, getattr(self.demo, "_queue", None))
            except Exception:  # Gradio internals moved: keep serving, say so once per sweep
                log.exception("could not expire idle sessions")
                continue
            if dropped:
                release_freed_memory()
                log.info("dropped %d session(s) idle for over %.0f s; %d left", dropped, self.idle_s,
                         len(holder.session_data))

    def stop(self) -> None:
        self._stop_event.set()
