"""A build's job-run counts: what the executor reports after every transition, and what a
follower rebuilds from the event feed (light: the CLI loads it without the executor)."""

from __future__ import annotations

from dataclasses import dataclass

from databuild.proto import databuild_pb2 as pb


@dataclass
class Progress:
    """Counts of a build's job runs, reported after every transition."""

    build_id: str
    total: int = 0
    pending: int = 0
    running: int = 0
    succeeded: int = 0
    failed: int = 0
    skipped: int = 0
    status: int = pb.BUILD_STATUS_RECEIVED
