"""Prometheus metrics, on a registry owned by one service instance (tests run several)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class ServiceMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.ami_link_up = Gauge(
            "callcenter_ami_link_up", "1 while the AMI link to the PBX is logged in",
            ["pbx"], registry=self.registry,
        )
        self.ami_events = Counter(
            "callcenter_ami_events", "AMI events received, by type", ["pbx", "event"],
            registry=self.registry,
        )
        self.ami_reconnects = Counter(
            "callcenter_ami_reconnects", "AMI logins after the first one", ["pbx"],
            registry=self.registry,
        )
        self.ami_bad_events = Counter(
            "callcenter_ami_bad_events", "AMI events that could not be used, by type",
            ["pbx", "event"], registry=self.registry,
        )
        self.event_seconds = Histogram(
            "callcenter_event_handling_seconds", "Time from AMI bytes parsed to model updated",
            buckets=(0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05),
            registry=self.registry,
        )
        self.database_up = Gauge(
            "callcenter_database_up", "1 when the last database check succeeded",
            registry=self.registry,
        )
