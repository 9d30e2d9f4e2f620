"""Which statuses are final, active or in flight, declared once for every layer.

Light on purpose (the generated protobuf module only): the CLI following a want tells an
ended want or build from these without loading the state layer and its storage stack.
"""

from __future__ import annotations

from databuild.proto import databuild_pb2 as pb

TERMINAL_JOB_RUN_STATUSES = tuple(sorted((pb.JOB_RUN_STATUS_SUCCEEDED, pb.JOB_RUN_STATUS_FAILED,
                                          pb.JOB_RUN_STATUS_CANCELLED, pb.JOB_RUN_STATUS_SKIPPED)))
TERMINAL_BUILD_STATUSES = (pb.BUILD_STATUS_COMPLETED, pb.BUILD_STATUS_FAILED, pb.BUILD_STATUS_CANCELLED)
ACTIVE_BUILD_STATUSES = (pb.BUILD_STATUS_RECEIVED, pb.BUILD_STATUS_PLANNING, pb.BUILD_STATUS_EXECUTING)
#: A build has claimed the partition and not yet produced it.
IN_FLIGHT_PARTITION_STATUSES = (pb.PARTITION_STATUS_SCHEDULED, pb.PARTITION_STATUS_BUILDING)
#: Statuses of a want still pursued (the others are final).
ACTIVE_WANT_STATUSES = (pb.WANT_STATUS_WAITING, pb.WANT_STATUS_QUEUED, pb.WANT_STATUS_BUILDING)
