"""Forgetting idle sessions, so what a burst of visitors leaves in Gradio's tables is freed.

Gradio keeps one `SessionState` per session hash (a copy of the whole page config, ~1 MB here, plus
its `gr.State` values) until `state_session_capacity` newer sessions push it out; it never drops one
for being idle. An API client (`gradio_client.Client`) is a new session every time and sends no
heartbeat, so Gradio cannot tell when it has gone. Its queue likewise keeps each session's message
queue (up to 2,000 sessions), with the progress messages nobody read once the client had its result.
The sweeper drops every session unused for `idle_s` seconds with no event in flight (running the
states' delete callbacks first, as Gradio's own expiry does) and its message queue, and hands the
freed heap back to the OS. A session that comes back after that starts afresh: it loses only
its "last result" for Stylize, exactly as when the capacity pushes it out. A session the capacity
pushed out of the StateHolder keeps its message queue in the Queue; the sweeper drops such an
orphaned queue once two sweeps in a row found it with no event in flight (one sweep could race a
`/queue/join` that has made the queue but not yet filed its event). Measured (NOTES.md, sessions 5
and 6): the Python objects go, but the process's RSS stays at the high-water mark the sessions
reached: pymalloc keeps every 1 MiB arena that still holds one live block, and the few blocks that
outlive a burst (asyncio, uvicorn, torch and the last request's objects, not only Gradio's tables)
are spread over all of them.

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


def _in_flight(queue: Any) -> set[str]:
    """Sessions with an event queued or running (Gradio drops an event from this table when it completes)."""
    return {event.session_hash for event in list(queue.event_ids_to_events.values())}


def orphaned_queues(state_holder: Any, queue: Any) -> set[str]:
    """Sessions with a message queue or an event-id set in `queue` but no state in `state_holder` (the
    capacity pushed them out, or they never got that far) and no event in flight."""
    busy = _in_flight(queue)
    queued = set(list(queue.pending_messages_per_session)) | set(list(queue.pending_event_ids_session))
    return {sid for sid in queued if sid not in state_holder.session_data and sid not in busy}


def drop_queues(queue: Any, session_ids: set[str]) -> int:
    for sid in session_ids:
        queue.pending_messages_per_session.pop(sid, None)
        queue.pending_event_ids_session.pop(sid, None)
    return len(session_ids)


def expire_idle_sessions(state_holder: Any, idle_s: float, queue: Any | None = None) -> int:
    """Drop the sessions of `state_holder` (Gradio's StateHolder) unused for `idle_s` seconds, and
    their message queues and event-id sets in `queue` (Gradio's Queue, which empties neither when an
    event completes); a session with an event queued or running stays.

    Returns how many were dropped. Gradio's event loop writes these tables while this runs in
    another thread, so they are only copied in one step (`list(...)`) or probed by key.
    """
    cutoff = datetime.datetime.now() - datetime.timedelta(seconds=idle_s)
    busy = _in_flight(queue) if queue is not None else set()
    idle = [sid for sid, used in list(state_holder.time_last_used.items()) if used < cutoff and sid not in busy]
    for sid in idle:
        state_holder.delete_state(sid)  # the gr.State delete callbacks
        with state_holder.lock:
            state_holder.session_data.pop(sid, None)
            state_holder.time_last_used.pop(sid, None)
        if queue is not None:
            drop_queues(queue, {sid})
    return len(idle)


class SessionSweeper(threading.Thread):
    """A daemon thread that expires idle sessions of a launched `gr.Blocks` every `every_s` seconds."""

    def __init__(self, demo: Any, idle_s: float = SESSION_IDLE_S, every_s: float = SWEEP_EVERY_S) -> None:
        super().__init__(daemon=True, name="session-sweeper")
        self.demo, self.idle_s, self.every_s = demo, idle_s, every_s
        self._stop_event = threading.Event()
        self._orphans: set[str] = set()  # orphaned queues seen by the last sweep

    def run(self) -> None:
        while not self._stop_event.wait(self.every_s):
            self.sweep()

    def sweep(self) -> None:
        holder = getattr(self.demo, "state_holder", None)  # set when the app is created at launch
        if holder is None:
            return
        queue = getattr(self.demo, "_queue", None)
        try:
            dropped = expire_idle_sessions(holder, self.idle_s, queue)
            orphans = orphaned_queues(holder, queue) if queue is not None else set()
            confirmed = orphans & self._orphans  # orphaned on two sweeps in a row
            orphans_dropped = drop_queues(queue, confirmed)
            self._orphans = orphans - confirmed
        except Exception:  # Gradio internals moved: keep serving, say so once per sweep
            log.exception("could not expire idle sessions")
            return
        if dropped or orphans_dropped:
            release_freed_memory()
            log.info("dropped %d session(s) idle for over %.0f s and %d orphaned message queue(s); %d left",
                     dropped, self.idle_s, orphans_dropped, len(holder.session_data))

    def stop(self) -> None:
        self._stop_event.set()
