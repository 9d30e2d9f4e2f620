"""Why a want is not satisfied yet (or how it ended), for people and for the API."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Callable, Mapping, Sequence

from databuild.proto import databuild_pb2 as pb
from databuild.state.wants import sla_deadline_us, ttl_deadline_us
from databuild.timespec import format_duration
from databuild.wants.evaluator import Policy

AVAILABLE = pb.PARTITION_STATUS_AVAILABLE


def _when(us: int, now_us: int) -> str:
    stamp = datetime.fromtimestamp(us / 1e6, timezone.utc).strftime("%Y-%m-%d %H:%M:%SZ")
    left = (us - now_us) / 1e6
    return f"{stamp} (in {format_duration(left)})" if left >= 0 else f"{stamp} ({format_duration(-left)} ago)"


def explain(
    want: pb.WantState,
    statuses: Mapping[str, int],
    build: pb.BuildState | None,
    upstream_of: Callable[[str], str],
    now_us: int,
    running_builds: Sequence[str],
    policy: Policy,
    upstream_note: Callable[[str], str] = lambda name: "",
) -> tuple[str, list[pb.WantBlocker]]:
    """Text answering "why is this not built yet?" and the blockers behind it;
    ``upstream_note(name)`` says how the sync with an upstream stands."""
    spec, lines, blockers = want.spec, [], []
    missing = [r for r in spec.partitions if statuses.get(r) != AVAILABLE]
    status = want.status
    if status == pb.WANT_STATUS_SATISFIED:
        lines.append(f"satisfied{' by build ' + want.build_id if want.build_id else ': its partitions were available'}")
    elif status == pb.WANT_STATUS_EXPIRED:
        lines.append(f"expired: its TTL ran out with {', '.join(missing) or 'nothing'} missing"
                     + (f", waiting for {', '.join(want.waiting_for)}" if want.waiting_for else ""))
    elif status == pb.WANT_STATUS_CANCELLED:
        lines.append(f"cancelled: {want.message or 'on request'}")
    elif status == pb.WANT_STATUS_FAILED:
        lines.append(f"failed: {want.message}")
    elif status == pb.WANT_STATUS_WAITING:
        lines.append("waiting for external data:")
        for ref in want.waiting_for:
            owner = upstream_of(ref)
            note = upstream_note(owner) if owner else ""
            where = (f"owned by upstream {owner!r}" + (f": {note}" if note else "")) if owner else \
                "no upstream declares it; record it with `partitions mark-available`"
            lines.append(f"  {ref} ({where})")
            blockers.append(pb.WantBlocker(kind="external", ref=ref, upstream=owner, detail=note))
    elif status == pb.WANT_STATUS_BUILDING:
        state = pb.BuildStatus.Name(build.status).removeprefix("BUILD_STATUS_").lower() if build else "starting"
        lines.append(f"building: rides on build {want.build_id} ({state})")
        blockers.append(pb.WantBlocker(kind="build", build_id=want.build_id, detail=state))
    elif want.HasField("not_before") and want.not_before.ToMicroseconds() > now_us:
        lines.append(f"queued: retry after backoff, next attempt at {_when(want.not_before.ToMicroseconds(), now_us)}")
        blockers.append(pb.WantBlocker(kind="backoff", detail=want.last_error))
    else:
        ahead = f": {', '.join(running_builds)}" if running_builds else ""
        lines.append(f"queued: waiting for build capacity ({len(running_builds)} of "
                     f"{policy.max_concurrent_builds} builds running{ahead})")
        blockers.append(pb.WantBlocker(kind="capacity", detail=f"{len(running_builds)}/{policy.max_concurrent_builds}"))
        blockers += [pb.WantBlocker(kind="build", build_id=b, detail="running ahead") for b in running_builds]
    if missing and status != pb.WANT_STATUS_SATISFIED:
        lines.append(f"missing: {', '.join(missing)}")
    if want.attempts or want.last_error:
        lines.append(f"attempts: {want.attempts} of {policy.max_attempts}"
                     + (f"; last error: {want.last_error}" if want.last_error else ""))
    sla = sla_deadline_us(spec)
    if sla is None:
        lines.append("SLA: none")
    else:
        verdict = " - VIOLATED" if want.sla_violated else " - met" if status == pb.WANT_STATUS_SATISFIED else ""
        lines.append(f"SLA deadline: {_when(sla, now_us)}{verdict}")
    if status in (pb.WANT_STATUS_WAITING, pb.WANT_STATUS_QUEUED, pb.WANT_STATUS_BUILDING):
        lines.append(f"gives up (TTL) at: {_when(ttl_deadline_us(spec), now_us)}")
    return "\n".join(lines), blockers
