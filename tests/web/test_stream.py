"""The server-sent-events stream over the event bus: ids carry one cursor per database, a
reconnect with ``Last-Event-ID`` resumes exactly there, a garbled id starts at the newest."""

from __future__ import annotations

from rig import Rig

from mixbot.bus.events import make
from mixbot.store.outbox import EventLog


def _frames(rig: Rig, headers: dict[str, str]) -> list[dict[str, str]]:
    r = rig.client.get("/api/v1/stream?timeout=0", headers=headers)
    assert r.status_code == 200 and r.mimetype == "text/event-stream"
    out = []
    for block in r.get_data(as_text=True).split("\n\n"):
        fields = dict(
            line.split(": ", 1) for line in block.splitlines() if ": " in line and line[0] != ":"
        )
        if fields:
            out.append(fields)
    return out


def test_stream_ids_resume_where_they_were(rig: Rig) -> None:
    headers = rig.token("watcher")
    first = _frames(rig, headers)
    assert first[0]["retry"] == "2000" and first[0]["id"]  # the start cursor, before any event
    log = EventLog(f"sqlite:///{rig.folder / 'store.sqlite'}")
    log.emit("r2", "paper", [make("error", message="one"), make("error", message="two")])
    got = _frames(rig, {**headers, "Last-Event-ID": first[0]["id"]})
    msgs = [f["data"] for f in got if f.get("event") == "error"]
    assert len(msgs) == 2 and '"one"' in msgs[0] and '"two"' in msgs[1]
    again = _frames(rig, {**headers, "Last-Event-ID": got[-1]["id"]})
    assert not [f for f in again if "event" in f]  # nothing twice
    garbled = _frames(rig, {**headers, "Last-Event-ID": "garbage"})
    assert not [f for f in garbled if "event" in f]  # starts at the newest, no replay
