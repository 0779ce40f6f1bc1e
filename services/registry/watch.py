"""Fan-out of catalogue and instance changes to Watch streams.

The hub listens to the registry's events (so a watcher on any replica sees
changes made on every replica) and hands each change to the queue of every
watcher interested in it. A watcher whose queue is full is marked overflowed
rather than slowing everybody down; its stream then ends with ABORTED
(WATCH_OVERFLOW) and the client watches again from a fresh initial state.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass, field

from google.protobuf import timestamp_pb2
from tenantmesh.registry.v1 import events_pb2, instance_pb2, service_pb2
from tenantmesh.registry.v1 import registry_service_pb2 as pb

from services.registry.events import INSTANCE_CHANGED, SERVICE_DELETED, SERVICE_REGISTERED, SERVICE_UPDATED
from services.runtime.events import Event

_SERVICE_EVENTS = {
    SERVICE_REGISTERED: pb.WATCH_EVENT_TYPE_ADDED,
    SERVICE_UPDATED: pb.WATCH_EVENT_TYPE_UPDATED,
    SERVICE_DELETED: pb.WATCH_EVENT_TYPE_REMOVED,
}
_INSTANCE_CHANGES = {
    events_pb2.CHANGE_TYPE_ADDED: pb.WATCH_EVENT_TYPE_ADDED,
    events_pb2.CHANGE_TYPE_UPDATED: pb.WATCH_EVENT_TYPE_UPDATED,
    events_pb2.CHANGE_TYPE_REMOVED: pb.WATCH_EVENT_TYPE_REMOVED,
}


@dataclass(eq=False)
class Watcher:
    services: frozenset[str]  # empty: every service
    # None is the end: the watcher overflowed.
    queue: asyncio.Queue[pb.WatchResponse | None]
    overflowed: bool = False

    def wants(self, service: str) -> bool:
        return not self.services or service in self.services

    def offer(self, change: pb.WatchResponse) -> None:
        if self.overflowed:
            return
        try:
            self.queue.put_nowait(change)
        except asyncio.QueueFull:
            self.overflow()

    def overflow(self) -> None:
        """Drops what is queued and tells the stream to end (its client starts over)."""
        self.overflowed = True
        while not self.queue.empty():
            self.queue.get_nowait()
        self.queue.put_nowait(None)


@dataclass
class WatchHub:
    queue_size: int
    _watchers: set[Watcher] = field(default_factory=set)

    @property
    def watcher_count(self) -> int:
        return len(self._watchers)

    def subscribe(self, services: Iterable[str]) -> Watcher:
        watcher = Watcher(frozenset(services), asyncio.Queue(maxsize=self.queue_size))
        self._watchers.add(watcher)
        return watcher

    def unsubscribe(self, watcher: Watcher) -> None:
        self._watchers.discard(watcher)

    async def on_event(self, event: Event) -> None:
        change = change_of(event)
        if change is None:
            return
        service = change.service.name if change.HasField("service") else change.instance.service
        for watcher in list(self._watchers):
            if watcher.wants(service):
                watcher.offer(change)


def change_of_service(kind: pb.WatchEventType, service: service_pb2.Service) -> pb.WatchResponse:
    return pb.WatchResponse(type=kind, service=service, time=_now())


def change_of_instance(kind: pb.WatchEventType, instance: instance_pb2.Instance) -> pb.WatchResponse:
    return pb.WatchResponse(type=kind, instance=instance, time=_now())


def _now() -> timestamp_pb2.Timestamp:
    stamp = timestamp_pb2.Timestamp()
    stamp.GetCurrentTime()
    return stamp


def change_of(event: Event) -> pb.WatchResponse | None:
    """The Watch message an event stands for, None for events Watch does not show."""
    stamp = timestamp_pb2.Timestamp()
    stamp.FromNanoseconds(int(event.time * 1e9))
    payload = event.payload
    if event.type in _SERVICE_EVENTS and isinstance(payload, events_pb2.ServiceChanged):
        return pb.WatchResponse(type=_SERVICE_EVENTS[event.type], service=payload.service, time=stamp)
    if event.type == INSTANCE_CHANGED and isinstance(payload, events_pb2.InstanceChanged):
        kind = _INSTANCE_CHANGES.get(payload.change)
        if kind is not None:
            return pb.WatchResponse(type=kind, instance=payload.instance, time=stamp)
    return None
