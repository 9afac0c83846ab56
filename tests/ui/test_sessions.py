"""Idle sessions are forgotten: Gradio's per-session state goes, recent sessions stay, a forgotten
session that comes back starts afresh. Runs on Gradio's real StateHolder (internal API, pinned)."""

from __future__ import annotations

import datetime
import time

import gradio as gr
from gradio.queueing import Event, Queue
from gradio.state_holder import StateHolder

from ui.sessions import SessionSweeper, expire_idle_sessions, orphaned_queues


def _holder() -> tuple[StateHolder, gr.State, list]:
    deleted: list = []
    with gr.Blocks() as demo:
        state = gr.State(None, delete_callback=deleted.append)
        box = gr.Textbox()
        box.submit(str.upper, box, box)
    holder = StateHolder()
    holder.set_blocks(demo)
    return holder, state, deleted


def _queue(blocks: gr.Blocks) -> Queue:
    return Queue(live_updates=False, concurrency_count=1, update_intervals=1, max_size=None, blocks=blocks)


def test_sessions_idle_too_long_are_dropped_and_recent_ones_kept():
    holder, state, deleted = _holder()
    for sid in ("old-1", "old-2", "new"):
        holder[sid][state._id] = f"result of {sid}"
    long_ago = datetime.datetime.now() - datetime.timedelta(seconds=120)
    holder.time_last_used["old-1"] = holder.time_last_used["old-2"] = long_ago

    assert expire_idle_sessions(holder, idle_s=60) == 2
    assert list(holder.session_data) == ["new"] and list(holder.time_last_used) == ["new"]
    assert sorted(deleted) == ["result of old-1", "result of old-2"]  # the states' delete callbacks ran
    assert holder["new"][state._id] == "result of new"
    assert state._id not in holder["old-1"].state_data  # a returning session starts afresh
    assert expire_idle_sessions(holder, idle_s=60) == 0


def test_an_idle_session_loses_its_queue_entries_unless_an_event_is_in_flight():
    holder, _, _ = _holder()
    queue = _queue(holder.blocks)
    long_ago = datetime.datetime.now() - datetime.timedelta(seconds=120)
    for sid in ("done", "in-flight"):
        holder[sid]
        holder.time_last_used[sid] = long_ago
        queue.pending_messages_per_session[sid] = ["progress messages nobody read"]
        queue.pending_event_ids_session[sid] = {"an event id Gradio keeps after it completes"}
    running = Event("in-flight", next(iter(holder.blocks.fns.values())), request=None, username=None)
    queue.event_ids_to_events[running._id] = running

    assert expire_idle_sessions(holder, idle_s=60, queue=queue) == 1
    assert list(holder.session_data) == ["in-flight"]
    assert list(queue.pending_messages_per_session) == ["in-flight"]
    assert list(queue.pending_event_ids_session) == ["in-flight"]


def test_the_sweeper_expires_sessions_of_a_launched_page_in_the_background():
    holder, _, _ = _holder()

    class Page:  # what launch leaves behind: the page holds its StateHolder
        state_holder = holder

    holder["visitor"]
    holder.time_last_used["visitor"] -= datetime.timedelta(seconds=5)
    sweeper = SessionSweeper(Page(), idle_s=1, every_s=0.05)
    sweeper.start()
    deadline = time.monotonic() + 5
    while "visitor" in holder.session_data and time.monotonic() < deadline:
        time.sleep(0.05)
    sweeper.stop()
    sweeper.join(timeout=5)
    assert "visitor" not in holder.session_data
    assert not sweeper.is_alive()


def test_a_queue_left_by_a_session_the_capacity_pushed_out_goes_after_two_sweeps():
    holder, _, _ = _holder()
    queue = _queue(holder.blocks)
    holder.capacity = 1
    for sid in ("pushed-out", "held"):  # the second pushes the first out of the StateHolder
        holder[sid]
        queue.pending_messages_per_session[sid] = ["a result nobody will ask for again"]
        queue.pending_event_ids_session[sid] = set()
    queue.pending_messages_per_session["joining"] = []  # /queue/join filed its event: in flight, no state yet
    joining = Event("joining", next(iter(holder.blocks.fns.values())), request=None, username=None)
    queue.event_ids_to_events[joining._id] = joining
    assert list(holder.session_data) == ["held"]
    assert orphaned_queues(holder, queue) == {"pushed-out"}

    class Page:
        state_holder = holder
        _queue = queue

    sweeper = SessionSweeper(Page(), idle_s=60)
    sweeper.sweep()  # seen once: it could be a join that has not filed its event yet, so it stays
    assert "pushed-out" in queue.pending_messages_per_session
    sweeper.sweep()
    assert list(queue.pending_messages_per_session) == ["held", "joining"]
    assert list(queue.pending_event_ids_session) == ["held"]
    assert list(holder.session_data) == ["held"]  # not idle: kept


def test_an_orphaned_queue_that_gets_an_event_again_is_not_dropped():
    holder, _, _ = _holder()
    queue = _queue(holder.blocks)
    queue.pending_messages_per_session["back"] = []

    class Page:
        state_holder = holder
        _queue = queue

    sweeper = SessionSweeper(Page(), idle_s=60)
    sweeper.sweep()
    back = Event("back", next(iter(holder.blocks.fns.values())), request=None, username=None)
    queue.event_ids_to_events[back._id] = back  # it joined the queue again between the sweeps
    sweeper.sweep()
    del queue.event_ids_to_events[back._id]
    sweeper.sweep()  # orphaned again, but seen only once since its event
    assert "back" in queue.pending_messages_per_session
