import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class PartitionStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PARTITION_STATUS_UNSPECIFIED: _ClassVar[PartitionStatus]
    PARTITION_STATUS_MISSING: _ClassVar[PartitionStatus]
    PARTITION_STATUS_REQUESTED: _ClassVar[PartitionStatus]
    PARTITION_STATUS_SCHEDULED: _ClassVar[PartitionStatus]
    PARTITION_STATUS_BUILDING: _ClassVar[PartitionStatus]
    PARTITION_STATUS_AVAILABLE: _ClassVar[PartitionStatus]
    PARTITION_STATUS_FAILED: _ClassVar[PartitionStatus]
    PARTITION_STATUS_TAINTED: _ClassVar[PartitionStatus]

class JobRunStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    JOB_RUN_STATUS_UNSPECIFIED: _ClassVar[JobRunStatus]
    JOB_RUN_STATUS_SCHEDULED: _ClassVar[JobRunStatus]
    JOB_RUN_STATUS_RUNNING: _ClassVar[JobRunStatus]
    JOB_RUN_STATUS_SUCCEEDED: _ClassVar[JobRunStatus]
    JOB_RUN_STATUS_FAILED: _ClassVar[JobRunStatus]
    JOB_RUN_STATUS_CANCELLED: _ClassVar[JobRunStatus]
    JOB_RUN_STATUS_SKIPPED: _ClassVar[JobRunStatus]

class BuildStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    BUILD_STATUS_UNSPECIFIED: _ClassVar[BuildStatus]
    BUILD_STATUS_RECEIVED: _ClassVar[BuildStatus]
    BUILD_STATUS_PLANNING: _ClassVar[BuildStatus]
    BUILD_STATUS_EXECUTING: _ClassVar[BuildStatus]
    BUILD_STATUS_COMPLETED: _ClassVar[BuildStatus]
    BUILD_STATUS_FAILED: _ClassVar[BuildStatus]
    BUILD_STATUS_CANCELLED: _ClassVar[BuildStatus]

class WantStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    WANT_STATUS_UNSPECIFIED: _ClassVar[WantStatus]
    WANT_STATUS_WAITING: _ClassVar[WantStatus]
    WANT_STATUS_QUEUED: _ClassVar[WantStatus]
    WANT_STATUS_BUILDING: _ClassVar[WantStatus]
    WANT_STATUS_SATISFIED: _ClassVar[WantStatus]
    WANT_STATUS_EXPIRED: _ClassVar[WantStatus]
    WANT_STATUS_CANCELLED: _ClassVar[WantStatus]
    WANT_STATUS_FAILED: _ClassVar[WantStatus]

class DepType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DEP_TYPE_UNSPECIFIED: _ClassVar[DepType]
    materialize: _ClassVar[DepType]
    query: _ClassVar[DepType]

class WantSourceType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    WANT_SOURCE_TYPE_UNSPECIFIED: _ClassVar[WantSourceType]
    WANT_SOURCE_TYPE_CLI: _ClassVar[WantSourceType]
    WANT_SOURCE_TYPE_DASHBOARD: _ClassVar[WantSourceType]
    WANT_SOURCE_TYPE_API: _ClassVar[WantSourceType]
    WANT_SOURCE_TYPE_SCHEDULED: _ClassVar[WantSourceType]
    WANT_SOURCE_TYPE_TRIGGERED: _ClassVar[WantSourceType]

class SlaFilter(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SLA_FILTER_UNSPECIFIED: _ClassVar[SlaFilter]
    SLA_FILTER_VIOLATED: _ClassVar[SlaFilter]
    SLA_FILTER_AT_RISK: _ClassVar[SlaFilter]

class UpstreamSyncState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    UPSTREAM_SYNC_STATE_UNSPECIFIED: _ClassVar[UpstreamSyncState]
    UPSTREAM_SYNC_STATE_STARTING: _ClassVar[UpstreamSyncState]
    UPSTREAM_SYNC_STATE_OK: _ClassVar[UpstreamSyncState]
    UPSTREAM_SYNC_STATE_BACKOFF: _ClassVar[UpstreamSyncState]
    UPSTREAM_SYNC_STATE_RESET: _ClassVar[UpstreamSyncState]
    UPSTREAM_SYNC_STATE_UNAUTHORISED: _ClassVar[UpstreamSyncState]
    UPSTREAM_SYNC_STATE_STOPPED: _ClassVar[UpstreamSyncState]

class TriggerKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TRIGGER_KIND_UNSPECIFIED: _ClassVar[TriggerKind]
    TRIGGER_KIND_SCHEDULE: _ClassVar[TriggerKind]
    TRIGGER_KIND_REACTIVE: _ClassVar[TriggerKind]
PARTITION_STATUS_UNSPECIFIED: PartitionStatus
PARTITION_STATUS_MISSING: PartitionStatus
PARTITION_STATUS_REQUESTED: PartitionStatus
PARTITION_STATUS_SCHEDULED: PartitionStatus
PARTITION_STATUS_BUILDING: PartitionStatus
PARTITION_STATUS_AVAILABLE: PartitionStatus
PARTITION_STATUS_FAILED: PartitionStatus
PARTITION_STATUS_TAINTED: PartitionStatus
JOB_RUN_STATUS_UNSPECIFIED: JobRunStatus
JOB_RUN_STATUS_SCHEDULED: JobRunStatus
JOB_RUN_STATUS_RUNNING: JobRunStatus
JOB_RUN_STATUS_SUCCEEDED: JobRunStatus
JOB_RUN_STATUS_FAILED: JobRunStatus
JOB_RUN_STATUS_CANCELLED: JobRunStatus
JOB_RUN_STATUS_SKIPPED: JobRunStatus
BUILD_STATUS_UNSPECIFIED: BuildStatus
BUILD_STATUS_RECEIVED: BuildStatus
BUILD_STATUS_PLANNING: BuildStatus
BUILD_STATUS_EXECUTING: BuildStatus
BUILD_STATUS_COMPLETED: BuildStatus
BUILD_STATUS_FAILED: BuildStatus
BUILD_STATUS_CANCELLED: BuildStatus
WANT_STATUS_UNSPECIFIED: WantStatus
WANT_STATUS_WAITING: WantStatus
WANT_STATUS_QUEUED: WantStatus
WANT_STATUS_BUILDING: WantStatus
WANT_STATUS_SATISFIED: WantStatus
WANT_STATUS_EXPIRED: WantStatus
WANT_STATUS_CANCELLED: WantStatus
WANT_STATUS_FAILED: WantStatus
DEP_TYPE_UNSPECIFIED: DepType
materialize: DepType
query: DepType
WANT_SOURCE_TYPE_UNSPECIFIED: WantSourceType
WANT_SOURCE_TYPE_CLI: WantSourceType
WANT_SOURCE_TYPE_DASHBOARD: WantSourceType
WANT_SOURCE_TYPE_API: WantSourceType
WANT_SOURCE_TYPE_SCHEDULED: WantSourceType
WANT_SOURCE_TYPE_TRIGGERED: WantSourceType
SLA_FILTER_UNSPECIFIED: SlaFilter
SLA_FILTER_VIOLATED: SlaFilter
SLA_FILTER_AT_RISK: SlaFilter
UPSTREAM_SYNC_STATE_UNSPECIFIED: UpstreamSyncState
UPSTREAM_SYNC_STATE_STARTING: UpstreamSyncState
UPSTREAM_SYNC_STATE_OK: UpstreamSyncState
UPSTREAM_SYNC_STATE_BACKOFF: UpstreamSyncState
UPSTREAM_SYNC_STATE_RESET: UpstreamSyncState
UPSTREAM_SYNC_STATE_UNAUTHORISED: UpstreamSyncState
UPSTREAM_SYNC_STATE_STOPPED: UpstreamSyncState
TRIGGER_KIND_UNSPECIFIED: TriggerKind
TRIGGER_KIND_SCHEDULE: TriggerKind
TRIGGER_KIND_REACTIVE: TriggerKind

class DataDep(_message.Message):
    __slots__ = ("ref", "dep_type")
    REF_FIELD_NUMBER: _ClassVar[int]
    DEP_TYPE_FIELD_NUMBER: _ClassVar[int]
    ref: str
    dep_type: DepType
    def __init__(self, ref: _Optional[str] = ..., dep_type: _Optional[_Union[DepType, str]] = ...) -> None: ...

class JobConfig(_message.Message):
    __slots__ = ("outputs", "inputs", "args", "env")
    class EnvEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    OUTPUTS_FIELD_NUMBER: _ClassVar[int]
    INPUTS_FIELD_NUMBER: _ClassVar[int]
    ARGS_FIELD_NUMBER: _ClassVar[int]
    ENV_FIELD_NUMBER: _ClassVar[int]
    outputs: _containers.RepeatedScalarFieldContainer[str]
    inputs: _containers.RepeatedCompositeFieldContainer[DataDep]
    args: _containers.RepeatedScalarFieldContainer[str]
    env: _containers.ScalarMap[str, str]
    def __init__(self, outputs: _Optional[_Iterable[str]] = ..., inputs: _Optional[_Iterable[_Union[DataDep, _Mapping]]] = ..., args: _Optional[_Iterable[str]] = ..., env: _Optional[_Mapping[str, str]] = ...) -> None: ...

class JobConfigResponse(_message.Message):
    __slots__ = ("configs",)
    CONFIGS_FIELD_NUMBER: _ClassVar[int]
    configs: _containers.RepeatedCompositeFieldContainer[JobConfig]
    def __init__(self, configs: _Optional[_Iterable[_Union[JobConfig, _Mapping]]] = ...) -> None: ...

class PlannedJobRun(_message.Message):
    __slots__ = ("job_run_id", "job_label", "config")
    JOB_RUN_ID_FIELD_NUMBER: _ClassVar[int]
    JOB_LABEL_FIELD_NUMBER: _ClassVar[int]
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    job_run_id: str
    job_label: str
    config: JobConfig
    def __init__(self, job_run_id: _Optional[str] = ..., job_label: _Optional[str] = ..., config: _Optional[_Union[JobConfig, _Mapping]] = ...) -> None: ...

class JobGraph(_message.Message):
    __slots__ = ("requested_partitions", "job_runs", "external_partitions")
    REQUESTED_PARTITIONS_FIELD_NUMBER: _ClassVar[int]
    JOB_RUNS_FIELD_NUMBER: _ClassVar[int]
    EXTERNAL_PARTITIONS_FIELD_NUMBER: _ClassVar[int]
    requested_partitions: _containers.RepeatedScalarFieldContainer[str]
    job_runs: _containers.RepeatedCompositeFieldContainer[PlannedJobRun]
    external_partitions: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, requested_partitions: _Optional[_Iterable[str]] = ..., job_runs: _Optional[_Iterable[_Union[PlannedJobRun, _Mapping]]] = ..., external_partitions: _Optional[_Iterable[str]] = ...) -> None: ...

class WantSource(_message.Message):
    __slots__ = ("type", "name", "firing_id")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    FIRING_ID_FIELD_NUMBER: _ClassVar[int]
    type: WantSourceType
    name: str
    firing_id: str
    def __init__(self, type: _Optional[_Union[WantSourceType, str]] = ..., name: _Optional[str] = ..., firing_id: _Optional[str] = ...) -> None: ...

class WantSpec(_message.Message):
    __slots__ = ("want_id", "partitions", "created_at", "data_timestamp", "ttl_seconds", "sla_seconds", "external_dependencies", "source", "comment")
    WANT_ID_FIELD_NUMBER: _ClassVar[int]
    PARTITIONS_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    DATA_TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    TTL_SECONDS_FIELD_NUMBER: _ClassVar[int]
    SLA_SECONDS_FIELD_NUMBER: _ClassVar[int]
    EXTERNAL_DEPENDENCIES_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    COMMENT_FIELD_NUMBER: _ClassVar[int]
    want_id: str
    partitions: _containers.RepeatedScalarFieldContainer[str]
    created_at: _timestamp_pb2.Timestamp
    data_timestamp: _timestamp_pb2.Timestamp
    ttl_seconds: int
    sla_seconds: int
    external_dependencies: _containers.RepeatedScalarFieldContainer[str]
    source: WantSource
    comment: str
    def __init__(self, want_id: _Optional[str] = ..., partitions: _Optional[_Iterable[str]] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., data_timestamp: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., ttl_seconds: _Optional[int] = ..., sla_seconds: _Optional[int] = ..., external_dependencies: _Optional[_Iterable[str]] = ..., source: _Optional[_Union[WantSource, _Mapping]] = ..., comment: _Optional[str] = ...) -> None: ...

class BuildRequested(_message.Message):
    __slots__ = ("build_id", "partitions", "want_ids", "graph_label", "executor")
    BUILD_ID_FIELD_NUMBER: _ClassVar[int]
    PARTITIONS_FIELD_NUMBER: _ClassVar[int]
    WANT_IDS_FIELD_NUMBER: _ClassVar[int]
    GRAPH_LABEL_FIELD_NUMBER: _ClassVar[int]
    EXECUTOR_FIELD_NUMBER: _ClassVar[int]
    build_id: str
    partitions: _containers.RepeatedScalarFieldContainer[str]
    want_ids: _containers.RepeatedScalarFieldContainer[str]
    graph_label: str
    executor: str
    def __init__(self, build_id: _Optional[str] = ..., partitions: _Optional[_Iterable[str]] = ..., want_ids: _Optional[_Iterable[str]] = ..., graph_label: _Optional[str] = ..., executor: _Optional[str] = ...) -> None: ...

class BuildStatusChanged(_message.Message):
    __slots__ = ("build_id", "status", "message", "executor_lost")
    BUILD_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    EXECUTOR_LOST_FIELD_NUMBER: _ClassVar[int]
    build_id: str
    status: BuildStatus
    message: str
    executor_lost: bool
    def __init__(self, build_id: _Optional[str] = ..., status: _Optional[_Union[BuildStatus, str]] = ..., message: _Optional[str] = ..., executor_lost: _Optional[bool] = ...) -> None: ...

class JobGraphRecorded(_message.Message):
    __slots__ = ("build_id", "job_graph")
    BUILD_ID_FIELD_NUMBER: _ClassVar[int]
    JOB_GRAPH_FIELD_NUMBER: _ClassVar[int]
    build_id: str
    job_graph: JobGraph
    def __init__(self, build_id: _Optional[str] = ..., job_graph: _Optional[_Union[JobGraph, _Mapping]] = ...) -> None: ...

class JobRunStatusChanged(_message.Message):
    __slots__ = ("job_run_id", "build_id", "job_label", "status", "outputs", "config", "exit_code", "message", "log_path", "pid", "log_bytes_dropped", "worker")
    JOB_RUN_ID_FIELD_NUMBER: _ClassVar[int]
    BUILD_ID_FIELD_NUMBER: _ClassVar[int]
    JOB_LABEL_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    OUTPUTS_FIELD_NUMBER: _ClassVar[int]
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    EXIT_CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    LOG_PATH_FIELD_NUMBER: _ClassVar[int]
    PID_FIELD_NUMBER: _ClassVar[int]
    LOG_BYTES_DROPPED_FIELD_NUMBER: _ClassVar[int]
    WORKER_FIELD_NUMBER: _ClassVar[int]
    job_run_id: str
    build_id: str
    job_label: str
    status: JobRunStatus
    outputs: _containers.RepeatedScalarFieldContainer[str]
    config: JobConfig
    exit_code: int
    message: str
    log_path: str
    pid: int
    log_bytes_dropped: int
    worker: str
    def __init__(self, job_run_id: _Optional[str] = ..., build_id: _Optional[str] = ..., job_label: _Optional[str] = ..., status: _Optional[_Union[JobRunStatus, str]] = ..., outputs: _Optional[_Iterable[str]] = ..., config: _Optional[_Union[JobConfig, _Mapping]] = ..., exit_code: _Optional[int] = ..., message: _Optional[str] = ..., log_path: _Optional[str] = ..., pid: _Optional[int] = ..., log_bytes_dropped: _Optional[int] = ..., worker: _Optional[str] = ...) -> None: ...

class PartitionStatusChanged(_message.Message):
    __slots__ = ("ref", "status", "build_id", "job_run_id", "message")
    REF_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    BUILD_ID_FIELD_NUMBER: _ClassVar[int]
    JOB_RUN_ID_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    ref: str
    status: PartitionStatus
    build_id: str
    job_run_id: str
    message: str
    def __init__(self, ref: _Optional[str] = ..., status: _Optional[_Union[PartitionStatus, str]] = ..., build_id: _Optional[str] = ..., job_run_id: _Optional[str] = ..., message: _Optional[str] = ...) -> None: ...

class ExternalPartitionsAvailable(_message.Message):
    __slots__ = ("refs", "upstream", "upstream_event_index", "comment")
    REFS_FIELD_NUMBER: _ClassVar[int]
    UPSTREAM_FIELD_NUMBER: _ClassVar[int]
    UPSTREAM_EVENT_INDEX_FIELD_NUMBER: _ClassVar[int]
    COMMENT_FIELD_NUMBER: _ClassVar[int]
    refs: _containers.RepeatedScalarFieldContainer[str]
    upstream: str
    upstream_event_index: int
    comment: str
    def __init__(self, refs: _Optional[_Iterable[str]] = ..., upstream: _Optional[str] = ..., upstream_event_index: _Optional[int] = ..., comment: _Optional[str] = ...) -> None: ...

class PartitionsTainted(_message.Message):
    __slots__ = ("refs", "reason", "requested_by")
    REFS_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    REQUESTED_BY_FIELD_NUMBER: _ClassVar[int]
    refs: _containers.RepeatedScalarFieldContainer[str]
    reason: str
    requested_by: str
    def __init__(self, refs: _Optional[_Iterable[str]] = ..., reason: _Optional[str] = ..., requested_by: _Optional[str] = ...) -> None: ...

class DelegationRecorded(_message.Message):
    __slots__ = ("build_id", "partitions", "delegated_to_build_id", "delegated_to_job_run_id")
    BUILD_ID_FIELD_NUMBER: _ClassVar[int]
    PARTITIONS_FIELD_NUMBER: _ClassVar[int]
    DELEGATED_TO_BUILD_ID_FIELD_NUMBER: _ClassVar[int]
    DELEGATED_TO_JOB_RUN_ID_FIELD_NUMBER: _ClassVar[int]
    build_id: str
    partitions: _containers.RepeatedScalarFieldContainer[str]
    delegated_to_build_id: str
    delegated_to_job_run_id: str
    def __init__(self, build_id: _Optional[str] = ..., partitions: _Optional[_Iterable[str]] = ..., delegated_to_build_id: _Optional[str] = ..., delegated_to_job_run_id: _Optional[str] = ...) -> None: ...

class CancellationRequested(_message.Message):
    __slots__ = ("build_id", "job_run_id", "reason", "requested_by")
    BUILD_ID_FIELD_NUMBER: _ClassVar[int]
    JOB_RUN_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    REQUESTED_BY_FIELD_NUMBER: _ClassVar[int]
    build_id: str
    job_run_id: str
    reason: str
    requested_by: str
    def __init__(self, build_id: _Optional[str] = ..., job_run_id: _Optional[str] = ..., reason: _Optional[str] = ..., requested_by: _Optional[str] = ...) -> None: ...

class WantCreated(_message.Message):
    __slots__ = ("want",)
    WANT_FIELD_NUMBER: _ClassVar[int]
    want: WantSpec
    def __init__(self, want: _Optional[_Union[WantSpec, _Mapping]] = ...) -> None: ...

class WantStatusChanged(_message.Message):
    __slots__ = ("want_id", "status", "build_id", "attempt", "message", "waiting_for", "not_before", "error")
    WANT_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    BUILD_ID_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    WAITING_FOR_FIELD_NUMBER: _ClassVar[int]
    NOT_BEFORE_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    want_id: str
    status: WantStatus
    build_id: str
    attempt: int
    message: str
    waiting_for: _containers.RepeatedScalarFieldContainer[str]
    not_before: _timestamp_pb2.Timestamp
    error: str
    def __init__(self, want_id: _Optional[str] = ..., status: _Optional[_Union[WantStatus, str]] = ..., build_id: _Optional[str] = ..., attempt: _Optional[int] = ..., message: _Optional[str] = ..., waiting_for: _Optional[_Iterable[str]] = ..., not_before: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., error: _Optional[str] = ...) -> None: ...

class WantCancelled(_message.Message):
    __slots__ = ("want_id", "reason", "requested_by")
    WANT_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    REQUESTED_BY_FIELD_NUMBER: _ClassVar[int]
    want_id: str
    reason: str
    requested_by: str
    def __init__(self, want_id: _Optional[str] = ..., reason: _Optional[str] = ..., requested_by: _Optional[str] = ...) -> None: ...

class WantExpired(_message.Message):
    __slots__ = ("want_id", "ttl_deadline")
    WANT_ID_FIELD_NUMBER: _ClassVar[int]
    TTL_DEADLINE_FIELD_NUMBER: _ClassVar[int]
    want_id: str
    ttl_deadline: _timestamp_pb2.Timestamp
    def __init__(self, want_id: _Optional[str] = ..., ttl_deadline: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class WantSatisfied(_message.Message):
    __slots__ = ("want_id", "build_id")
    WANT_ID_FIELD_NUMBER: _ClassVar[int]
    BUILD_ID_FIELD_NUMBER: _ClassVar[int]
    want_id: str
    build_id: str
    def __init__(self, want_id: _Optional[str] = ..., build_id: _Optional[str] = ...) -> None: ...

class WantSlaViolated(_message.Message):
    __slots__ = ("want_id", "sla_deadline")
    WANT_ID_FIELD_NUMBER: _ClassVar[int]
    SLA_DEADLINE_FIELD_NUMBER: _ClassVar[int]
    want_id: str
    sla_deadline: _timestamp_pb2.Timestamp
    def __init__(self, want_id: _Optional[str] = ..., sla_deadline: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class UpstreamCursorAdvanced(_message.Message):
    __slots__ = ("upstream", "url", "next_index", "log_id", "next_event_id", "reset")
    UPSTREAM_FIELD_NUMBER: _ClassVar[int]
    URL_FIELD_NUMBER: _ClassVar[int]
    NEXT_INDEX_FIELD_NUMBER: _ClassVar[int]
    LOG_ID_FIELD_NUMBER: _ClassVar[int]
    NEXT_EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    RESET_FIELD_NUMBER: _ClassVar[int]
    upstream: str
    url: str
    next_index: int
    log_id: str
    next_event_id: str
    reset: str
    def __init__(self, upstream: _Optional[str] = ..., url: _Optional[str] = ..., next_index: _Optional[int] = ..., log_id: _Optional[str] = ..., next_event_id: _Optional[str] = ..., reset: _Optional[str] = ...) -> None: ...

class TriggerRegistered(_message.Message):
    __slots__ = ("trigger", "since_time", "since_index")
    TRIGGER_FIELD_NUMBER: _ClassVar[int]
    SINCE_TIME_FIELD_NUMBER: _ClassVar[int]
    SINCE_INDEX_FIELD_NUMBER: _ClassVar[int]
    trigger: str
    since_time: _timestamp_pb2.Timestamp
    since_index: int
    def __init__(self, trigger: _Optional[str] = ..., since_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., since_index: _Optional[int] = ...) -> None: ...

class TriggerFired(_message.Message):
    __slots__ = ("trigger", "firing_id", "source", "tick_time", "refs", "ref_index", "want_ids", "requested_by")
    TRIGGER_FIELD_NUMBER: _ClassVar[int]
    FIRING_ID_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    TICK_TIME_FIELD_NUMBER: _ClassVar[int]
    REFS_FIELD_NUMBER: _ClassVar[int]
    REF_INDEX_FIELD_NUMBER: _ClassVar[int]
    WANT_IDS_FIELD_NUMBER: _ClassVar[int]
    REQUESTED_BY_FIELD_NUMBER: _ClassVar[int]
    trigger: str
    firing_id: str
    source: WantSourceType
    tick_time: _timestamp_pb2.Timestamp
    refs: _containers.RepeatedScalarFieldContainer[str]
    ref_index: int
    want_ids: _containers.RepeatedScalarFieldContainer[str]
    requested_by: str
    def __init__(self, trigger: _Optional[str] = ..., firing_id: _Optional[str] = ..., source: _Optional[_Union[WantSourceType, str]] = ..., tick_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., refs: _Optional[_Iterable[str]] = ..., ref_index: _Optional[int] = ..., want_ids: _Optional[_Iterable[str]] = ..., requested_by: _Optional[str] = ...) -> None: ...

class TriggerFailed(_message.Message):
    __slots__ = ("trigger", "firing_id", "source", "tick_time", "refs", "ref_index", "error", "requested_by")
    TRIGGER_FIELD_NUMBER: _ClassVar[int]
    FIRING_ID_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    TICK_TIME_FIELD_NUMBER: _ClassVar[int]
    REFS_FIELD_NUMBER: _ClassVar[int]
    REF_INDEX_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    REQUESTED_BY_FIELD_NUMBER: _ClassVar[int]
    trigger: str
    firing_id: str
    source: WantSourceType
    tick_time: _timestamp_pb2.Timestamp
    refs: _containers.RepeatedScalarFieldContainer[str]
    ref_index: int
    error: str
    requested_by: str
    def __init__(self, trigger: _Optional[str] = ..., firing_id: _Optional[str] = ..., source: _Optional[_Union[WantSourceType, str]] = ..., tick_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., refs: _Optional[_Iterable[str]] = ..., ref_index: _Optional[int] = ..., error: _Optional[str] = ..., requested_by: _Optional[str] = ...) -> None: ...

class TriggerTicksSkipped(_message.Message):
    __slots__ = ("trigger", "first_tick", "last_tick", "max_catchup")
    TRIGGER_FIELD_NUMBER: _ClassVar[int]
    FIRST_TICK_FIELD_NUMBER: _ClassVar[int]
    LAST_TICK_FIELD_NUMBER: _ClassVar[int]
    MAX_CATCHUP_FIELD_NUMBER: _ClassVar[int]
    trigger: str
    first_tick: _timestamp_pb2.Timestamp
    last_tick: _timestamp_pb2.Timestamp
    max_catchup: int
    def __init__(self, trigger: _Optional[str] = ..., first_tick: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., last_tick: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., max_catchup: _Optional[int] = ...) -> None: ...

class TriggerPauseChanged(_message.Message):
    __slots__ = ("trigger", "paused", "requested_by", "reason")
    TRIGGER_FIELD_NUMBER: _ClassVar[int]
    PAUSED_FIELD_NUMBER: _ClassVar[int]
    REQUESTED_BY_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    trigger: str
    paused: bool
    requested_by: str
    reason: str
    def __init__(self, trigger: _Optional[str] = ..., paused: _Optional[bool] = ..., requested_by: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class Event(_message.Message):
    __slots__ = ("index", "event_id", "timestamp", "schema_version", "build_requested", "build_status_changed", "job_graph_recorded", "job_run_status_changed", "partition_status_changed", "external_partitions_available", "partitions_tainted", "delegation_recorded", "cancellation_requested", "want_created", "want_status_changed", "want_cancelled", "want_expired", "want_satisfied", "want_sla_violated", "upstream_cursor_advanced", "trigger_registered", "trigger_fired", "trigger_failed", "trigger_ticks_skipped", "trigger_pause_changed")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    SCHEMA_VERSION_FIELD_NUMBER: _ClassVar[int]
    BUILD_REQUESTED_FIELD_NUMBER: _ClassVar[int]
    BUILD_STATUS_CHANGED_FIELD_NUMBER: _ClassVar[int]
    JOB_GRAPH_RECORDED_FIELD_NUMBER: _ClassVar[int]
    JOB_RUN_STATUS_CHANGED_FIELD_NUMBER: _ClassVar[int]
    PARTITION_STATUS_CHANGED_FIELD_NUMBER: _ClassVar[int]
    EXTERNAL_PARTITIONS_AVAILABLE_FIELD_NUMBER: _ClassVar[int]
    PARTITIONS_TAINTED_FIELD_NUMBER: _ClassVar[int]
    DELEGATION_RECORDED_FIELD_NUMBER: _ClassVar[int]
    CANCELLATION_REQUESTED_FIELD_NUMBER: _ClassVar[int]
    WANT_CREATED_FIELD_NUMBER: _ClassVar[int]
    WANT_STATUS_CHANGED_FIELD_NUMBER: _ClassVar[int]
    WANT_CANCELLED_FIELD_NUMBER: _ClassVar[int]
    WANT_EXPIRED_FIELD_NUMBER: _ClassVar[int]
    WANT_SATISFIED_FIELD_NUMBER: _ClassVar[int]
    WANT_SLA_VIOLATED_FIELD_NUMBER: _ClassVar[int]
    UPSTREAM_CURSOR_ADVANCED_FIELD_NUMBER: _ClassVar[int]
    TRIGGER_REGISTERED_FIELD_NUMBER: _ClassVar[int]
    TRIGGER_FIRED_FIELD_NUMBER: _ClassVar[int]
    TRIGGER_FAILED_FIELD_NUMBER: _ClassVar[int]
    TRIGGER_TICKS_SKIPPED_FIELD_NUMBER: _ClassVar[int]
    TRIGGER_PAUSE_CHANGED_FIELD_NUMBER: _ClassVar[int]
    index: int
    event_id: str
    timestamp: _timestamp_pb2.Timestamp
    schema_version: int
    build_requested: BuildRequested
    build_status_changed: BuildStatusChanged
    job_graph_recorded: JobGraphRecorded
    job_run_status_changed: JobRunStatusChanged
    partition_status_changed: PartitionStatusChanged
    external_partitions_available: ExternalPartitionsAvailable
    partitions_tainted: PartitionsTainted
    delegation_recorded: DelegationRecorded
    cancellation_requested: CancellationRequested
    want_created: WantCreated
    want_status_changed: WantStatusChanged
    want_cancelled: WantCancelled
    want_expired: WantExpired
    want_satisfied: WantSatisfied
    want_sla_violated: WantSlaViolated
    upstream_cursor_advanced: UpstreamCursorAdvanced
    trigger_registered: TriggerRegistered
    trigger_fired: TriggerFired
    trigger_failed: TriggerFailed
    trigger_ticks_skipped: TriggerTicksSkipped
    trigger_pause_changed: TriggerPauseChanged
    def __init__(self, index: _Optional[int] = ..., event_id: _Optional[str] = ..., timestamp: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., schema_version: _Optional[int] = ..., build_requested: _Optional[_Union[BuildRequested, _Mapping]] = ..., build_status_changed: _Optional[_Union[BuildStatusChanged, _Mapping]] = ..., job_graph_recorded: _Optional[_Union[JobGraphRecorded, _Mapping]] = ..., job_run_status_changed: _Optional[_Union[JobRunStatusChanged, _Mapping]] = ..., partition_status_changed: _Optional[_Union[PartitionStatusChanged, _Mapping]] = ..., external_partitions_available: _Optional[_Union[ExternalPartitionsAvailable, _Mapping]] = ..., partitions_tainted: _Optional[_Union[PartitionsTainted, _Mapping]] = ..., delegation_recorded: _Optional[_Union[DelegationRecorded, _Mapping]] = ..., cancellation_requested: _Optional[_Union[CancellationRequested, _Mapping]] = ..., want_created: _Optional[_Union[WantCreated, _Mapping]] = ..., want_status_changed: _Optional[_Union[WantStatusChanged, _Mapping]] = ..., want_cancelled: _Optional[_Union[WantCancelled, _Mapping]] = ..., want_expired: _Optional[_Union[WantExpired, _Mapping]] = ..., want_satisfied: _Optional[_Union[WantSatisfied, _Mapping]] = ..., want_sla_violated: _Optional[_Union[WantSlaViolated, _Mapping]] = ..., upstream_cursor_advanced: _Optional[_Union[UpstreamCursorAdvanced, _Mapping]] = ..., trigger_registered: _Optional[_Union[TriggerRegistered, _Mapping]] = ..., trigger_fired: _Optional[_Union[TriggerFired, _Mapping]] = ..., trigger_failed: _Optional[_Union[TriggerFailed, _Mapping]] = ..., trigger_ticks_skipped: _Optional[_Union[TriggerTicksSkipped, _Mapping]] = ..., trigger_pause_changed: _Optional[_Union[TriggerPauseChanged, _Mapping]] = ...) -> None: ...

class PartitionState(_message.Message):
    __slots__ = ("ref", "status", "external", "build_id", "job_run_id", "upstream", "message", "last_event_index", "updated_at")
    REF_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    EXTERNAL_FIELD_NUMBER: _ClassVar[int]
    BUILD_ID_FIELD_NUMBER: _ClassVar[int]
    JOB_RUN_ID_FIELD_NUMBER: _ClassVar[int]
    UPSTREAM_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    LAST_EVENT_INDEX_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    ref: str
    status: PartitionStatus
    external: bool
    build_id: str
    job_run_id: str
    upstream: str
    message: str
    last_event_index: int
    updated_at: _timestamp_pb2.Timestamp
    def __init__(self, ref: _Optional[str] = ..., status: _Optional[_Union[PartitionStatus, str]] = ..., external: _Optional[bool] = ..., build_id: _Optional[str] = ..., job_run_id: _Optional[str] = ..., upstream: _Optional[str] = ..., message: _Optional[str] = ..., last_event_index: _Optional[int] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class JobRunState(_message.Message):
    __slots__ = ("job_run_id", "build_id", "job_label", "status", "outputs", "config", "exit_code", "message", "log_path", "scheduled_at", "started_at", "finished_at", "last_event_index", "pid", "log_bytes_dropped", "worker")
    JOB_RUN_ID_FIELD_NUMBER: _ClassVar[int]
    BUILD_ID_FIELD_NUMBER: _ClassVar[int]
    JOB_LABEL_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    OUTPUTS_FIELD_NUMBER: _ClassVar[int]
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    EXIT_CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    LOG_PATH_FIELD_NUMBER: _ClassVar[int]
    SCHEDULED_AT_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    FINISHED_AT_FIELD_NUMBER: _ClassVar[int]
    LAST_EVENT_INDEX_FIELD_NUMBER: _ClassVar[int]
    PID_FIELD_NUMBER: _ClassVar[int]
    LOG_BYTES_DROPPED_FIELD_NUMBER: _ClassVar[int]
    WORKER_FIELD_NUMBER: _ClassVar[int]
    job_run_id: str
    build_id: str
    job_label: str
    status: JobRunStatus
    outputs: _containers.RepeatedScalarFieldContainer[str]
    config: JobConfig
    exit_code: int
    message: str
    log_path: str
    scheduled_at: _timestamp_pb2.Timestamp
    started_at: _timestamp_pb2.Timestamp
    finished_at: _timestamp_pb2.Timestamp
    last_event_index: int
    pid: int
    log_bytes_dropped: int
    worker: str
    def __init__(self, job_run_id: _Optional[str] = ..., build_id: _Optional[str] = ..., job_label: _Optional[str] = ..., status: _Optional[_Union[JobRunStatus, str]] = ..., outputs: _Optional[_Iterable[str]] = ..., config: _Optional[_Union[JobConfig, _Mapping]] = ..., exit_code: _Optional[int] = ..., message: _Optional[str] = ..., log_path: _Optional[str] = ..., scheduled_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., started_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., finished_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., last_event_index: _Optional[int] = ..., pid: _Optional[int] = ..., log_bytes_dropped: _Optional[int] = ..., worker: _Optional[str] = ...) -> None: ...

class BuildState(_message.Message):
    __slots__ = ("build_id", "status", "partitions", "want_ids", "job_graph", "executor", "delegations", "message", "cancel_requested", "requested_at", "finished_at", "last_event_index", "executor_lost")
    BUILD_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    PARTITIONS_FIELD_NUMBER: _ClassVar[int]
    WANT_IDS_FIELD_NUMBER: _ClassVar[int]
    JOB_GRAPH_FIELD_NUMBER: _ClassVar[int]
    EXECUTOR_FIELD_NUMBER: _ClassVar[int]
    DELEGATIONS_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    CANCEL_REQUESTED_FIELD_NUMBER: _ClassVar[int]
    REQUESTED_AT_FIELD_NUMBER: _ClassVar[int]
    FINISHED_AT_FIELD_NUMBER: _ClassVar[int]
    LAST_EVENT_INDEX_FIELD_NUMBER: _ClassVar[int]
    EXECUTOR_LOST_FIELD_NUMBER: _ClassVar[int]
    build_id: str
    status: BuildStatus
    partitions: _containers.RepeatedScalarFieldContainer[str]
    want_ids: _containers.RepeatedScalarFieldContainer[str]
    job_graph: JobGraph
    executor: str
    delegations: _containers.RepeatedCompositeFieldContainer[DelegationRecorded]
    message: str
    cancel_requested: bool
    requested_at: _timestamp_pb2.Timestamp
    finished_at: _timestamp_pb2.Timestamp
    last_event_index: int
    executor_lost: bool
    def __init__(self, build_id: _Optional[str] = ..., status: _Optional[_Union[BuildStatus, str]] = ..., partitions: _Optional[_Iterable[str]] = ..., want_ids: _Optional[_Iterable[str]] = ..., job_graph: _Optional[_Union[JobGraph, _Mapping]] = ..., executor: _Optional[str] = ..., delegations: _Optional[_Iterable[_Union[DelegationRecorded, _Mapping]]] = ..., message: _Optional[str] = ..., cancel_requested: _Optional[bool] = ..., requested_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., finished_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., last_event_index: _Optional[int] = ..., executor_lost: _Optional[bool] = ...) -> None: ...

class WantState(_message.Message):
    __slots__ = ("spec", "status", "build_id", "attempts", "message", "sla_violated", "finished_at", "last_event_index", "waiting_for", "not_before", "last_error", "created_index")
    SPEC_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    BUILD_ID_FIELD_NUMBER: _ClassVar[int]
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    SLA_VIOLATED_FIELD_NUMBER: _ClassVar[int]
    FINISHED_AT_FIELD_NUMBER: _ClassVar[int]
    LAST_EVENT_INDEX_FIELD_NUMBER: _ClassVar[int]
    WAITING_FOR_FIELD_NUMBER: _ClassVar[int]
    NOT_BEFORE_FIELD_NUMBER: _ClassVar[int]
    LAST_ERROR_FIELD_NUMBER: _ClassVar[int]
    CREATED_INDEX_FIELD_NUMBER: _ClassVar[int]
    spec: WantSpec
    status: WantStatus
    build_id: str
    attempts: int
    message: str
    sla_violated: bool
    finished_at: _timestamp_pb2.Timestamp
    last_event_index: int
    waiting_for: _containers.RepeatedScalarFieldContainer[str]
    not_before: _timestamp_pb2.Timestamp
    last_error: str
    created_index: int
    def __init__(self, spec: _Optional[_Union[WantSpec, _Mapping]] = ..., status: _Optional[_Union[WantStatus, str]] = ..., build_id: _Optional[str] = ..., attempts: _Optional[int] = ..., message: _Optional[str] = ..., sla_violated: _Optional[bool] = ..., finished_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., last_event_index: _Optional[int] = ..., waiting_for: _Optional[_Iterable[str]] = ..., not_before: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., last_error: _Optional[str] = ..., created_index: _Optional[int] = ...) -> None: ...

class UpstreamState(_message.Message):
    __slots__ = ("upstream", "url", "next_index", "last_event_index", "log_id", "next_event_id")
    UPSTREAM_FIELD_NUMBER: _ClassVar[int]
    URL_FIELD_NUMBER: _ClassVar[int]
    NEXT_INDEX_FIELD_NUMBER: _ClassVar[int]
    LAST_EVENT_INDEX_FIELD_NUMBER: _ClassVar[int]
    LOG_ID_FIELD_NUMBER: _ClassVar[int]
    NEXT_EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    upstream: str
    url: str
    next_index: int
    last_event_index: int
    log_id: str
    next_event_id: str
    def __init__(self, upstream: _Optional[str] = ..., url: _Optional[str] = ..., next_index: _Optional[int] = ..., last_event_index: _Optional[int] = ..., log_id: _Optional[str] = ..., next_event_id: _Optional[str] = ...) -> None: ...

class TriggerState(_message.Message):
    __slots__ = ("name", "paused", "paused_by", "last_firing", "last_fired_at", "last_failure", "last_failed_at", "last_error", "last_skipped", "firings", "failures", "handled_until", "handled_index", "last_event_index")
    NAME_FIELD_NUMBER: _ClassVar[int]
    PAUSED_FIELD_NUMBER: _ClassVar[int]
    PAUSED_BY_FIELD_NUMBER: _ClassVar[int]
    LAST_FIRING_FIELD_NUMBER: _ClassVar[int]
    LAST_FIRED_AT_FIELD_NUMBER: _ClassVar[int]
    LAST_FAILURE_FIELD_NUMBER: _ClassVar[int]
    LAST_FAILED_AT_FIELD_NUMBER: _ClassVar[int]
    LAST_ERROR_FIELD_NUMBER: _ClassVar[int]
    LAST_SKIPPED_FIELD_NUMBER: _ClassVar[int]
    FIRINGS_FIELD_NUMBER: _ClassVar[int]
    FAILURES_FIELD_NUMBER: _ClassVar[int]
    HANDLED_UNTIL_FIELD_NUMBER: _ClassVar[int]
    HANDLED_INDEX_FIELD_NUMBER: _ClassVar[int]
    LAST_EVENT_INDEX_FIELD_NUMBER: _ClassVar[int]
    name: str
    paused: bool
    paused_by: str
    last_firing: TriggerFired
    last_fired_at: _timestamp_pb2.Timestamp
    last_failure: TriggerFailed
    last_failed_at: _timestamp_pb2.Timestamp
    last_error: str
    last_skipped: TriggerTicksSkipped
    firings: int
    failures: int
    handled_until: _timestamp_pb2.Timestamp
    handled_index: int
    last_event_index: int
    def __init__(self, name: _Optional[str] = ..., paused: _Optional[bool] = ..., paused_by: _Optional[str] = ..., last_firing: _Optional[_Union[TriggerFired, _Mapping]] = ..., last_fired_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., last_failure: _Optional[_Union[TriggerFailed, _Mapping]] = ..., last_failed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., last_error: _Optional[str] = ..., last_skipped: _Optional[_Union[TriggerTicksSkipped, _Mapping]] = ..., firings: _Optional[int] = ..., failures: _Optional[int] = ..., handled_until: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., handled_index: _Optional[int] = ..., last_event_index: _Optional[int] = ...) -> None: ...

class ErrorDetail(_message.Message):
    __slots__ = ("code", "message")
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    code: str
    message: str
    def __init__(self, code: _Optional[str] = ..., message: _Optional[str] = ...) -> None: ...

class ErrorResponse(_message.Message):
    __slots__ = ("error",)
    ERROR_FIELD_NUMBER: _ClassVar[int]
    error: ErrorDetail
    def __init__(self, error: _Optional[_Union[ErrorDetail, _Mapping]] = ...) -> None: ...

class HealthResponse(_message.Message):
    __slots__ = ("status", "version", "graph_label", "latest_event_index", "log_id", "latest_event_id")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    GRAPH_LABEL_FIELD_NUMBER: _ClassVar[int]
    LATEST_EVENT_INDEX_FIELD_NUMBER: _ClassVar[int]
    LOG_ID_FIELD_NUMBER: _ClassVar[int]
    LATEST_EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    status: str
    version: str
    graph_label: str
    latest_event_index: int
    log_id: str
    latest_event_id: str
    def __init__(self, status: _Optional[str] = ..., version: _Optional[str] = ..., graph_label: _Optional[str] = ..., latest_event_index: _Optional[int] = ..., log_id: _Optional[str] = ..., latest_event_id: _Optional[str] = ...) -> None: ...

class JobInfo(_message.Message):
    __slots__ = ("label", "output_patterns")
    LABEL_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_PATTERNS_FIELD_NUMBER: _ClassVar[int]
    label: str
    output_patterns: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, label: _Optional[str] = ..., output_patterns: _Optional[_Iterable[str]] = ...) -> None: ...

class UpstreamInfo(_message.Message):
    __slots__ = ("name", "url", "patterns")
    NAME_FIELD_NUMBER: _ClassVar[int]
    URL_FIELD_NUMBER: _ClassVar[int]
    PATTERNS_FIELD_NUMBER: _ClassVar[int]
    name: str
    url: str
    patterns: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, name: _Optional[str] = ..., url: _Optional[str] = ..., patterns: _Optional[_Iterable[str]] = ...) -> None: ...

class GraphResponse(_message.Message):
    __slots__ = ("label", "jobs", "lookup", "upstreams")
    LABEL_FIELD_NUMBER: _ClassVar[int]
    JOBS_FIELD_NUMBER: _ClassVar[int]
    LOOKUP_FIELD_NUMBER: _ClassVar[int]
    UPSTREAMS_FIELD_NUMBER: _ClassVar[int]
    label: str
    jobs: _containers.RepeatedCompositeFieldContainer[JobInfo]
    lookup: str
    upstreams: _containers.RepeatedCompositeFieldContainer[UpstreamInfo]
    def __init__(self, label: _Optional[str] = ..., jobs: _Optional[_Iterable[_Union[JobInfo, _Mapping]]] = ..., lookup: _Optional[str] = ..., upstreams: _Optional[_Iterable[_Union[UpstreamInfo, _Mapping]]] = ...) -> None: ...

class EmptyRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListPartitionsRequest(_message.Message):
    __slots__ = ("pattern", "statuses", "after", "limit")
    PATTERN_FIELD_NUMBER: _ClassVar[int]
    STATUSES_FIELD_NUMBER: _ClassVar[int]
    AFTER_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    pattern: str
    statuses: _containers.RepeatedScalarFieldContainer[PartitionStatus]
    after: str
    limit: int
    def __init__(self, pattern: _Optional[str] = ..., statuses: _Optional[_Iterable[_Union[PartitionStatus, str]]] = ..., after: _Optional[str] = ..., limit: _Optional[int] = ...) -> None: ...

class GetPartitionRequest(_message.Message):
    __slots__ = ("ref",)
    REF_FIELD_NUMBER: _ClassVar[int]
    ref: str
    def __init__(self, ref: _Optional[str] = ...) -> None: ...

class ListBuildsRequest(_message.Message):
    __slots__ = ("after", "limit")
    AFTER_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    after: str
    limit: int
    def __init__(self, after: _Optional[str] = ..., limit: _Optional[int] = ...) -> None: ...

class GetBuildRequest(_message.Message):
    __slots__ = ("build_id",)
    BUILD_ID_FIELD_NUMBER: _ClassVar[int]
    build_id: str
    def __init__(self, build_id: _Optional[str] = ...) -> None: ...

class CancelBuildRequest(_message.Message):
    __slots__ = ("build_id", "reason")
    BUILD_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    build_id: str
    reason: str
    def __init__(self, build_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class GetJobRunRequest(_message.Message):
    __slots__ = ("job_run_id",)
    JOB_RUN_ID_FIELD_NUMBER: _ClassVar[int]
    job_run_id: str
    def __init__(self, job_run_id: _Optional[str] = ...) -> None: ...

class JobRunLogRequest(_message.Message):
    __slots__ = ("job_run_id", "offset", "limit", "tail")
    JOB_RUN_ID_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    TAIL_FIELD_NUMBER: _ClassVar[int]
    job_run_id: str
    offset: int
    limit: int
    tail: int
    def __init__(self, job_run_id: _Optional[str] = ..., offset: _Optional[int] = ..., limit: _Optional[int] = ..., tail: _Optional[int] = ...) -> None: ...

class ListWantsRequest(_message.Message):
    __slots__ = ("statuses", "pattern", "sla", "source", "after", "limit")
    STATUSES_FIELD_NUMBER: _ClassVar[int]
    PATTERN_FIELD_NUMBER: _ClassVar[int]
    SLA_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    AFTER_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    statuses: _containers.RepeatedScalarFieldContainer[WantStatus]
    pattern: str
    sla: SlaFilter
    source: str
    after: str
    limit: int
    def __init__(self, statuses: _Optional[_Iterable[_Union[WantStatus, str]]] = ..., pattern: _Optional[str] = ..., sla: _Optional[_Union[SlaFilter, str]] = ..., source: _Optional[str] = ..., after: _Optional[str] = ..., limit: _Optional[int] = ...) -> None: ...

class PageRequest(_message.Message):
    __slots__ = ("after", "limit")
    AFTER_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    after: str
    limit: int
    def __init__(self, after: _Optional[str] = ..., limit: _Optional[int] = ...) -> None: ...

class GetWantRequest(_message.Message):
    __slots__ = ("want_id",)
    WANT_ID_FIELD_NUMBER: _ClassVar[int]
    want_id: str
    def __init__(self, want_id: _Optional[str] = ...) -> None: ...

class AnalyzeRequest(_message.Message):
    __slots__ = ("partitions",)
    PARTITIONS_FIELD_NUMBER: _ClassVar[int]
    partitions: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, partitions: _Optional[_Iterable[str]] = ...) -> None: ...

class AnalyzeResponse(_message.Message):
    __slots__ = ("job_graph",)
    JOB_GRAPH_FIELD_NUMBER: _ClassVar[int]
    job_graph: JobGraph
    def __init__(self, job_graph: _Optional[_Union[JobGraph, _Mapping]] = ...) -> None: ...

class ListEventsRequest(_message.Message):
    __slots__ = ("since", "patterns", "types", "limit", "wait_seconds", "log_id", "cursor_event_id")
    SINCE_FIELD_NUMBER: _ClassVar[int]
    PATTERNS_FIELD_NUMBER: _ClassVar[int]
    TYPES_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    WAIT_SECONDS_FIELD_NUMBER: _ClassVar[int]
    LOG_ID_FIELD_NUMBER: _ClassVar[int]
    CURSOR_EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    since: int
    patterns: _containers.RepeatedScalarFieldContainer[str]
    types: _containers.RepeatedScalarFieldContainer[str]
    limit: int
    wait_seconds: float
    log_id: str
    cursor_event_id: str
    def __init__(self, since: _Optional[int] = ..., patterns: _Optional[_Iterable[str]] = ..., types: _Optional[_Iterable[str]] = ..., limit: _Optional[int] = ..., wait_seconds: _Optional[float] = ..., log_id: _Optional[str] = ..., cursor_event_id: _Optional[str] = ...) -> None: ...

class ListEventsResponse(_message.Message):
    __slots__ = ("events", "next", "has_more", "log_id", "head", "next_event_id")
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_FIELD_NUMBER: _ClassVar[int]
    HAS_MORE_FIELD_NUMBER: _ClassVar[int]
    LOG_ID_FIELD_NUMBER: _ClassVar[int]
    HEAD_FIELD_NUMBER: _ClassVar[int]
    NEXT_EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    events: _containers.RepeatedCompositeFieldContainer[Event]
    next: int
    has_more: bool
    log_id: str
    head: int
    next_event_id: str
    def __init__(self, events: _Optional[_Iterable[_Union[Event, _Mapping]]] = ..., next: _Optional[int] = ..., has_more: _Optional[bool] = ..., log_id: _Optional[str] = ..., head: _Optional[int] = ..., next_event_id: _Optional[str] = ...) -> None: ...

class ListPartitionsResponse(_message.Message):
    __slots__ = ("partitions", "next_page_token")
    PARTITIONS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    partitions: _containers.RepeatedCompositeFieldContainer[PartitionState]
    next_page_token: str
    def __init__(self, partitions: _Optional[_Iterable[_Union[PartitionState, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class PartitionDetailResponse(_message.Message):
    __slots__ = ("partition", "history", "produced_by", "consumers", "more_consumers", "more_history")
    PARTITION_FIELD_NUMBER: _ClassVar[int]
    HISTORY_FIELD_NUMBER: _ClassVar[int]
    PRODUCED_BY_FIELD_NUMBER: _ClassVar[int]
    CONSUMERS_FIELD_NUMBER: _ClassVar[int]
    MORE_CONSUMERS_FIELD_NUMBER: _ClassVar[int]
    MORE_HISTORY_FIELD_NUMBER: _ClassVar[int]
    partition: PartitionState
    history: _containers.RepeatedCompositeFieldContainer[Event]
    produced_by: JobRunState
    consumers: _containers.RepeatedCompositeFieldContainer[JobRunState]
    more_consumers: bool
    more_history: bool
    def __init__(self, partition: _Optional[_Union[PartitionState, _Mapping]] = ..., history: _Optional[_Iterable[_Union[Event, _Mapping]]] = ..., produced_by: _Optional[_Union[JobRunState, _Mapping]] = ..., consumers: _Optional[_Iterable[_Union[JobRunState, _Mapping]]] = ..., more_consumers: _Optional[bool] = ..., more_history: _Optional[bool] = ...) -> None: ...

class MarkAvailableRequest(_message.Message):
    __slots__ = ("comment", "refs")
    COMMENT_FIELD_NUMBER: _ClassVar[int]
    REFS_FIELD_NUMBER: _ClassVar[int]
    comment: str
    refs: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, comment: _Optional[str] = ..., refs: _Optional[_Iterable[str]] = ...) -> None: ...

class TaintRequest(_message.Message):
    __slots__ = ("reason", "refs", "requested_by")
    REASON_FIELD_NUMBER: _ClassVar[int]
    REFS_FIELD_NUMBER: _ClassVar[int]
    REQUESTED_BY_FIELD_NUMBER: _ClassVar[int]
    reason: str
    refs: _containers.RepeatedScalarFieldContainer[str]
    requested_by: str
    def __init__(self, reason: _Optional[str] = ..., refs: _Optional[_Iterable[str]] = ..., requested_by: _Optional[str] = ...) -> None: ...

class ListBuildsResponse(_message.Message):
    __slots__ = ("builds", "next_page_token")
    BUILDS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    builds: _containers.RepeatedCompositeFieldContainer[BuildState]
    next_page_token: str
    def __init__(self, builds: _Optional[_Iterable[_Union[BuildState, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class BuildDetailResponse(_message.Message):
    __slots__ = ("build", "job_runs")
    BUILD_FIELD_NUMBER: _ClassVar[int]
    JOB_RUNS_FIELD_NUMBER: _ClassVar[int]
    build: BuildState
    job_runs: _containers.RepeatedCompositeFieldContainer[JobRunState]
    def __init__(self, build: _Optional[_Union[BuildState, _Mapping]] = ..., job_runs: _Optional[_Iterable[_Union[JobRunState, _Mapping]]] = ...) -> None: ...

class JobRunDetailResponse(_message.Message):
    __slots__ = ("job_run",)
    JOB_RUN_FIELD_NUMBER: _ClassVar[int]
    job_run: JobRunState
    def __init__(self, job_run: _Optional[_Union[JobRunState, _Mapping]] = ...) -> None: ...

class CreateWantRequest(_message.Message):
    __slots__ = ("partitions", "ttl_seconds", "sla_seconds", "data_timestamp", "external_dependencies", "source", "comment")
    PARTITIONS_FIELD_NUMBER: _ClassVar[int]
    TTL_SECONDS_FIELD_NUMBER: _ClassVar[int]
    SLA_SECONDS_FIELD_NUMBER: _ClassVar[int]
    DATA_TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    EXTERNAL_DEPENDENCIES_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    COMMENT_FIELD_NUMBER: _ClassVar[int]
    partitions: _containers.RepeatedScalarFieldContainer[str]
    ttl_seconds: int
    sla_seconds: int
    data_timestamp: _timestamp_pb2.Timestamp
    external_dependencies: _containers.RepeatedScalarFieldContainer[str]
    source: WantSource
    comment: str
    def __init__(self, partitions: _Optional[_Iterable[str]] = ..., ttl_seconds: _Optional[int] = ..., sla_seconds: _Optional[int] = ..., data_timestamp: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., external_dependencies: _Optional[_Iterable[str]] = ..., source: _Optional[_Union[WantSource, _Mapping]] = ..., comment: _Optional[str] = ...) -> None: ...

class CreateWantsRequest(_message.Message):
    __slots__ = ("wants",)
    WANTS_FIELD_NUMBER: _ClassVar[int]
    wants: _containers.RepeatedCompositeFieldContainer[CreateWantRequest]
    def __init__(self, wants: _Optional[_Iterable[_Union[CreateWantRequest, _Mapping]]] = ...) -> None: ...

class CreateWantsResponse(_message.Message):
    __slots__ = ("wants",)
    WANTS_FIELD_NUMBER: _ClassVar[int]
    wants: _containers.RepeatedCompositeFieldContainer[WantState]
    def __init__(self, wants: _Optional[_Iterable[_Union[WantState, _Mapping]]] = ...) -> None: ...

class ListWantsResponse(_message.Message):
    __slots__ = ("wants", "next_page_token")
    WANTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    wants: _containers.RepeatedCompositeFieldContainer[WantState]
    next_page_token: str
    def __init__(self, wants: _Optional[_Iterable[_Union[WantState, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class WantDetailResponse(_message.Message):
    __slots__ = ("want", "timeline", "explanation", "blocked_by", "ttl_deadline", "sla_deadline", "predicted_completion", "sla_at_risk", "prediction_note")
    WANT_FIELD_NUMBER: _ClassVar[int]
    TIMELINE_FIELD_NUMBER: _ClassVar[int]
    EXPLANATION_FIELD_NUMBER: _ClassVar[int]
    BLOCKED_BY_FIELD_NUMBER: _ClassVar[int]
    TTL_DEADLINE_FIELD_NUMBER: _ClassVar[int]
    SLA_DEADLINE_FIELD_NUMBER: _ClassVar[int]
    PREDICTED_COMPLETION_FIELD_NUMBER: _ClassVar[int]
    SLA_AT_RISK_FIELD_NUMBER: _ClassVar[int]
    PREDICTION_NOTE_FIELD_NUMBER: _ClassVar[int]
    want: WantState
    timeline: _containers.RepeatedCompositeFieldContainer[Event]
    explanation: str
    blocked_by: _containers.RepeatedCompositeFieldContainer[WantBlocker]
    ttl_deadline: _timestamp_pb2.Timestamp
    sla_deadline: _timestamp_pb2.Timestamp
    predicted_completion: _timestamp_pb2.Timestamp
    sla_at_risk: bool
    prediction_note: str
    def __init__(self, want: _Optional[_Union[WantState, _Mapping]] = ..., timeline: _Optional[_Iterable[_Union[Event, _Mapping]]] = ..., explanation: _Optional[str] = ..., blocked_by: _Optional[_Iterable[_Union[WantBlocker, _Mapping]]] = ..., ttl_deadline: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., sla_deadline: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., predicted_completion: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., sla_at_risk: _Optional[bool] = ..., prediction_note: _Optional[str] = ...) -> None: ...

class WantBlocker(_message.Message):
    __slots__ = ("kind", "ref", "upstream", "build_id", "detail")
    KIND_FIELD_NUMBER: _ClassVar[int]
    REF_FIELD_NUMBER: _ClassVar[int]
    UPSTREAM_FIELD_NUMBER: _ClassVar[int]
    BUILD_ID_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    kind: str
    ref: str
    upstream: str
    build_id: str
    detail: str
    def __init__(self, kind: _Optional[str] = ..., ref: _Optional[str] = ..., upstream: _Optional[str] = ..., build_id: _Optional[str] = ..., detail: _Optional[str] = ...) -> None: ...

class CancelWantRequest(_message.Message):
    __slots__ = ("reason", "want_id", "requested_by")
    REASON_FIELD_NUMBER: _ClassVar[int]
    WANT_ID_FIELD_NUMBER: _ClassVar[int]
    REQUESTED_BY_FIELD_NUMBER: _ClassVar[int]
    reason: str
    want_id: str
    requested_by: str
    def __init__(self, reason: _Optional[str] = ..., want_id: _Optional[str] = ..., requested_by: _Optional[str] = ...) -> None: ...

class UpstreamStatus(_message.Message):
    __slots__ = ("name", "url", "patterns", "state", "cursor", "head", "lag_events", "lag_seconds", "last_success", "last_error", "consecutive_failures", "failing_since")
    NAME_FIELD_NUMBER: _ClassVar[int]
    URL_FIELD_NUMBER: _ClassVar[int]
    PATTERNS_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    HEAD_FIELD_NUMBER: _ClassVar[int]
    LAG_EVENTS_FIELD_NUMBER: _ClassVar[int]
    LAG_SECONDS_FIELD_NUMBER: _ClassVar[int]
    LAST_SUCCESS_FIELD_NUMBER: _ClassVar[int]
    LAST_ERROR_FIELD_NUMBER: _ClassVar[int]
    CONSECUTIVE_FAILURES_FIELD_NUMBER: _ClassVar[int]
    FAILING_SINCE_FIELD_NUMBER: _ClassVar[int]
    name: str
    url: str
    patterns: _containers.RepeatedScalarFieldContainer[str]
    state: UpstreamSyncState
    cursor: int
    head: int
    lag_events: int
    lag_seconds: float
    last_success: _timestamp_pb2.Timestamp
    last_error: str
    consecutive_failures: int
    failing_since: _timestamp_pb2.Timestamp
    def __init__(self, name: _Optional[str] = ..., url: _Optional[str] = ..., patterns: _Optional[_Iterable[str]] = ..., state: _Optional[_Union[UpstreamSyncState, str]] = ..., cursor: _Optional[int] = ..., head: _Optional[int] = ..., lag_events: _Optional[int] = ..., lag_seconds: _Optional[float] = ..., last_success: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., last_error: _Optional[str] = ..., consecutive_failures: _Optional[int] = ..., failing_since: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ListUpstreamsResponse(_message.Message):
    __slots__ = ("upstreams",)
    UPSTREAMS_FIELD_NUMBER: _ClassVar[int]
    upstreams: _containers.RepeatedCompositeFieldContainer[UpstreamStatus]
    def __init__(self, upstreams: _Optional[_Iterable[_Union[UpstreamStatus, _Mapping]]] = ...) -> None: ...

class TriggerStatus(_message.Message):
    __slots__ = ("state", "label", "kind", "cron", "timezone", "on", "partitions", "binary", "max_catchup", "ttl_seconds", "sla_seconds", "comment", "next_fire_time")
    STATE_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    CRON_FIELD_NUMBER: _ClassVar[int]
    TIMEZONE_FIELD_NUMBER: _ClassVar[int]
    ON_FIELD_NUMBER: _ClassVar[int]
    PARTITIONS_FIELD_NUMBER: _ClassVar[int]
    BINARY_FIELD_NUMBER: _ClassVar[int]
    MAX_CATCHUP_FIELD_NUMBER: _ClassVar[int]
    TTL_SECONDS_FIELD_NUMBER: _ClassVar[int]
    SLA_SECONDS_FIELD_NUMBER: _ClassVar[int]
    COMMENT_FIELD_NUMBER: _ClassVar[int]
    NEXT_FIRE_TIME_FIELD_NUMBER: _ClassVar[int]
    state: TriggerState
    label: str
    kind: TriggerKind
    cron: str
    timezone: str
    on: _containers.RepeatedScalarFieldContainer[str]
    partitions: _containers.RepeatedScalarFieldContainer[str]
    binary: bool
    max_catchup: int
    ttl_seconds: int
    sla_seconds: int
    comment: str
    next_fire_time: _timestamp_pb2.Timestamp
    def __init__(self, state: _Optional[_Union[TriggerState, _Mapping]] = ..., label: _Optional[str] = ..., kind: _Optional[_Union[TriggerKind, str]] = ..., cron: _Optional[str] = ..., timezone: _Optional[str] = ..., on: _Optional[_Iterable[str]] = ..., partitions: _Optional[_Iterable[str]] = ..., binary: _Optional[bool] = ..., max_catchup: _Optional[int] = ..., ttl_seconds: _Optional[int] = ..., sla_seconds: _Optional[int] = ..., comment: _Optional[str] = ..., next_fire_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ListTriggersResponse(_message.Message):
    __slots__ = ("triggers",)
    TRIGGERS_FIELD_NUMBER: _ClassVar[int]
    triggers: _containers.RepeatedCompositeFieldContainer[TriggerStatus]
    def __init__(self, triggers: _Optional[_Iterable[_Union[TriggerStatus, _Mapping]]] = ...) -> None: ...

class FireTriggerRequest(_message.Message):
    __slots__ = ("name", "at", "partition", "requested_by")
    NAME_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    PARTITION_FIELD_NUMBER: _ClassVar[int]
    REQUESTED_BY_FIELD_NUMBER: _ClassVar[int]
    name: str
    at: _timestamp_pb2.Timestamp
    partition: str
    requested_by: str
    def __init__(self, name: _Optional[str] = ..., at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., partition: _Optional[str] = ..., requested_by: _Optional[str] = ...) -> None: ...

class FireTriggerResponse(_message.Message):
    __slots__ = ("firing", "wants")
    FIRING_FIELD_NUMBER: _ClassVar[int]
    WANTS_FIELD_NUMBER: _ClassVar[int]
    firing: TriggerFired
    wants: _containers.RepeatedCompositeFieldContainer[WantState]
    def __init__(self, firing: _Optional[_Union[TriggerFired, _Mapping]] = ..., wants: _Optional[_Iterable[_Union[WantState, _Mapping]]] = ...) -> None: ...

class PauseTriggerRequest(_message.Message):
    __slots__ = ("name", "requested_by", "reason")
    NAME_FIELD_NUMBER: _ClassVar[int]
    REQUESTED_BY_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    name: str
    requested_by: str
    reason: str
    def __init__(self, name: _Optional[str] = ..., requested_by: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class JobStats(_message.Message):
    __slots__ = ("job_label", "declared", "runs", "succeeded", "failed", "success_rate", "p50_seconds", "p95_seconds", "duration_samples", "last_job_run_id", "last_status", "last_finished_at")
    JOB_LABEL_FIELD_NUMBER: _ClassVar[int]
    DECLARED_FIELD_NUMBER: _ClassVar[int]
    RUNS_FIELD_NUMBER: _ClassVar[int]
    SUCCEEDED_FIELD_NUMBER: _ClassVar[int]
    FAILED_FIELD_NUMBER: _ClassVar[int]
    SUCCESS_RATE_FIELD_NUMBER: _ClassVar[int]
    P50_SECONDS_FIELD_NUMBER: _ClassVar[int]
    P95_SECONDS_FIELD_NUMBER: _ClassVar[int]
    DURATION_SAMPLES_FIELD_NUMBER: _ClassVar[int]
    LAST_JOB_RUN_ID_FIELD_NUMBER: _ClassVar[int]
    LAST_STATUS_FIELD_NUMBER: _ClassVar[int]
    LAST_FINISHED_AT_FIELD_NUMBER: _ClassVar[int]
    job_label: str
    declared: bool
    runs: int
    succeeded: int
    failed: int
    success_rate: float
    p50_seconds: float
    p95_seconds: float
    duration_samples: int
    last_job_run_id: str
    last_status: JobRunStatus
    last_finished_at: _timestamp_pb2.Timestamp
    def __init__(self, job_label: _Optional[str] = ..., declared: _Optional[bool] = ..., runs: _Optional[int] = ..., succeeded: _Optional[int] = ..., failed: _Optional[int] = ..., success_rate: _Optional[float] = ..., p50_seconds: _Optional[float] = ..., p95_seconds: _Optional[float] = ..., duration_samples: _Optional[int] = ..., last_job_run_id: _Optional[str] = ..., last_status: _Optional[_Union[JobRunStatus, str]] = ..., last_finished_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class JobStatsResponse(_message.Message):
    __slots__ = ("jobs",)
    JOBS_FIELD_NUMBER: _ClassVar[int]
    jobs: _containers.RepeatedCompositeFieldContainer[JobStats]
    def __init__(self, jobs: _Optional[_Iterable[_Union[JobStats, _Mapping]]] = ...) -> None: ...

class ListJobRunsRequest(_message.Message):
    __slots__ = ("job_label", "after", "limit")
    JOB_LABEL_FIELD_NUMBER: _ClassVar[int]
    AFTER_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    job_label: str
    after: str
    limit: int
    def __init__(self, job_label: _Optional[str] = ..., after: _Optional[str] = ..., limit: _Optional[int] = ...) -> None: ...

class ListJobRunsResponse(_message.Message):
    __slots__ = ("job_runs", "next_page_token")
    JOB_RUNS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    job_runs: _containers.RepeatedCompositeFieldContainer[JobRunState]
    next_page_token: str
    def __init__(self, job_runs: _Optional[_Iterable[_Union[JobRunState, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...
