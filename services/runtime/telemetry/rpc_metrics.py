"""The RPC metrics every call updates, kept as plain numbers and turned into metric families when scraped.

``tenantmesh_rpc_server_requests`` (by service, method and code), ``..._duration_seconds`` (a
histogram by service and method) and ``..._errors`` (by service, method and ErrorInfo reason)
are touched by every call a process answers. prometheus_client's label children take a lock
per update and walk the bucket bounds in Python: about 2 µs a call for the three. Here a call
costs a dictionary look-up, a bisect in C and a few integer additions, and the scrape (a few
times a minute) does the rest. What a scrape sees is the same series, names and labels as
those families would export.

Updated from the event loop only: the counts are not locked. A scrape runs on the endpoint's
thread and copies each method's numbers before reading them (copies taken under the GIL, so a
scrape never sees a dictionary change size under it); a scrape that lands between a call's
count and its bucket is off by that one call until the next.
"""

from __future__ import annotations

import time
from bisect import bisect_left
from collections.abc import Callable, Iterator, Sequence
from typing import cast

import grpc
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

# How prometheus_client writes a bucket's bound ("le"); untyped in that package.
_bound_label = cast(Callable[[float], str], floatToGoString)


class _MethodCounts:
    __slots__ = ("buckets", "codes", "created", "method", "reasons", "service", "sum")

    def __init__(self, full_method: str, bucket_count: int) -> None:
        self.service, _, self.method = full_method.lstrip("/").partition("/")
        self.created = time.time()
        # By the code's name: a grpc.StatusCode hashes in Python (Enum.__hash__), a string in C.
        self.codes: dict[str, int] = {}
        self.reasons: dict[str, int] = {}
        # Calls per bucket, not cumulative (the last one is +Inf); made cumulative when scraped.
        self.buckets = [0] * (bucket_count + 1)
        self.sum = 0.0


class RpcServerMetrics(Collector):
    def __init__(self, buckets: Sequence[float]) -> None:
        self._bounds = tuple(buckets)
        self._labels = [_bound_label(bound) for bound in self._bounds] + ["+Inf"]
        self._methods: dict[str, _MethodCounts] = {}

    def record(self, method: str, code: grpc.StatusCode, seconds: float, reason: str | None = None) -> None:
        """One answered call of ``method`` ("/pkg.Service/Method"): its code, duration and failure reason."""
        counts = self._methods.get(method)
        if counts is None:
            counts = self._methods[method] = _MethodCounts(method, len(self._bounds))
        name: str = code._name_  # .name is a descriptor call
        counts.codes[name] = counts.codes.get(name, 0) + 1
        # The first bound >= seconds: Prometheus buckets count values less than or equal to "le".
        counts.buckets[bisect_left(self._bounds, seconds)] += 1
        counts.sum += seconds
        if reason:
            # Reasons are a fixed enum: as few series as methods x reasons.
            counts.reasons[reason] = counts.reasons.get(reason, 0) + 1

    def collect(self) -> Iterator[Metric]:
        requests = CounterMetricFamily(
            "tenantmesh_rpc_server_requests",
            "RPCs answered, by gRPC service, method and status code.",
            labels=["service", "method", "code"],
        )
        duration = HistogramMetricFamily(
            "tenantmesh_rpc_server_duration_seconds",
            "Time from the call's arrival to its answer, by gRPC service and method.",
            labels=["service", "method"],
        )
        errors = CounterMetricFamily(
            "tenantmesh_rpc_server_errors",
            "Failed RPCs by gRPC service, method and ErrorInfo reason (a fixed enum: INVALID_CREDENTIALS, "
            "LOGIN_LOCKED, ...). Sign-in failures and lockouts are this metric for AuthService/Login.",
            labels=["service", "method", "reason"],
        )
        for _, counts in sorted(self._methods.copy().items()):
            labels = [counts.service, counts.method]
            for name, calls in sorted(counts.codes.copy().items()):
                requests.add_metric([*labels, name], calls, created=counts.created)
            cumulative, buckets = 0, []
            for label, calls in zip(self._labels, list(counts.buckets), strict=True):
                cumulative += calls
                buckets.append((label, float(cumulative)))
            duration.add_metric(labels, buckets, counts.sum)
            for reason, calls in sorted(counts.reasons.copy().items()):
                errors.add_metric([*labels, reason], calls, created=counts.created)
        yield from (requests, duration, errors)
