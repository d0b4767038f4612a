import datetime

from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class LifecycleState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    LIFECYCLE_STATE_UNSPECIFIED: _ClassVar[LifecycleState]
    LIFECYCLE_STATE_CANDIDATE: _ClassVar[LifecycleState]
    LIFECYCLE_STATE_QUALIFIED: _ClassVar[LifecycleState]
    LIFECYCLE_STATE_CONTRACTED: _ClassVar[LifecycleState]
    LIFECYCLE_STATE_UNDER_REVIEW: _ClassVar[LifecycleState]
    LIFECYCLE_STATE_REMEDIATION: _ClassVar[LifecycleState]
    LIFECYCLE_STATE_TERMINATED: _ClassVar[LifecycleState]

class ServiceCategory(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SERVICE_CATEGORY_UNSPECIFIED: _ClassVar[ServiceCategory]
    SERVICE_CATEGORY_NETWORK_EQUIPMENT: _ClassVar[ServiceCategory]
    SERVICE_CATEGORY_SOFTWARE: _ClassVar[ServiceCategory]
    SERVICE_CATEGORY_IT_SERVICES: _ClassVar[ServiceCategory]
    SERVICE_CATEGORY_DATA_SERVICES: _ClassVar[ServiceCategory]
    SERVICE_CATEGORY_NETWORK_SERVICES: _ClassVar[ServiceCategory]
    SERVICE_CATEGORY_FIELD_SERVICES: _ClassVar[ServiceCategory]

class CertificateKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CERTIFICATE_KIND_UNSPECIFIED: _ClassVar[CertificateKind]
    CERTIFICATE_KIND_BUSINESS_LICENCE: _ClassVar[CertificateKind]
    CERTIFICATE_KIND_ISO_9001: _ClassVar[CertificateKind]
    CERTIFICATE_KIND_TL_9000: _ClassVar[CertificateKind]
    CERTIFICATE_KIND_ISO_27001: _ClassVar[CertificateKind]
    CERTIFICATE_KIND_OPERATING_LICENCE: _ClassVar[CertificateKind]

class SiteAuditResult(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SITE_AUDIT_RESULT_UNSPECIFIED: _ClassVar[SiteAuditResult]
    SITE_AUDIT_RESULT_PASSED: _ClassVar[SiteAuditResult]
    SITE_AUDIT_RESULT_FAILED: _ClassVar[SiteAuditResult]
LIFECYCLE_STATE_UNSPECIFIED: LifecycleState
LIFECYCLE_STATE_CANDIDATE: LifecycleState
LIFECYCLE_STATE_QUALIFIED: LifecycleState
LIFECYCLE_STATE_CONTRACTED: LifecycleState
LIFECYCLE_STATE_UNDER_REVIEW: LifecycleState
LIFECYCLE_STATE_REMEDIATION: LifecycleState
LIFECYCLE_STATE_TERMINATED: LifecycleState
SERVICE_CATEGORY_UNSPECIFIED: ServiceCategory
SERVICE_CATEGORY_NETWORK_EQUIPMENT: ServiceCategory
SERVICE_CATEGORY_SOFTWARE: ServiceCategory
SERVICE_CATEGORY_IT_SERVICES: ServiceCategory
SERVICE_CATEGORY_DATA_SERVICES: ServiceCategory
SERVICE_CATEGORY_NETWORK_SERVICES: ServiceCategory
SERVICE_CATEGORY_FIELD_SERVICES: ServiceCategory
CERTIFICATE_KIND_UNSPECIFIED: CertificateKind
CERTIFICATE_KIND_BUSINESS_LICENCE: CertificateKind
CERTIFICATE_KIND_ISO_9001: CertificateKind
CERTIFICATE_KIND_TL_9000: CertificateKind
CERTIFICATE_KIND_ISO_27001: CertificateKind
CERTIFICATE_KIND_OPERATING_LICENCE: CertificateKind
SITE_AUDIT_RESULT_UNSPECIFIED: SiteAuditResult
SITE_AUDIT_RESULT_PASSED: SiteAuditResult
SITE_AUDIT_RESULT_FAILED: SiteAuditResult

class Certificate(_message.Message):
    __slots__ = ("kind", "number", "issuer", "valid_from", "valid_until")
    KIND_FIELD_NUMBER: _ClassVar[int]
    NUMBER_FIELD_NUMBER: _ClassVar[int]
    ISSUER_FIELD_NUMBER: _ClassVar[int]
    VALID_FROM_FIELD_NUMBER: _ClassVar[int]
    VALID_UNTIL_FIELD_NUMBER: _ClassVar[int]
    kind: CertificateKind
    number: str
    issuer: str
    valid_from: _timestamp_pb2.Timestamp
    valid_until: _timestamp_pb2.Timestamp
    def __init__(self, kind: _Optional[_Union[CertificateKind, str]] = ..., number: _Optional[str] = ..., issuer: _Optional[str] = ..., valid_from: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., valid_until: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ConditionOutcome(_message.Message):
    __slots__ = ("fact", "operator", "threshold", "actual", "held")
    FACT_FIELD_NUMBER: _ClassVar[int]
    OPERATOR_FIELD_NUMBER: _ClassVar[int]
    THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    ACTUAL_FIELD_NUMBER: _ClassVar[int]
    HELD_FIELD_NUMBER: _ClassVar[int]
    fact: str
    operator: str
    threshold: _struct_pb2.Value
    actual: _struct_pb2.Value
    held: bool
    def __init__(self, fact: _Optional[str] = ..., operator: _Optional[str] = ..., threshold: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ..., actual: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ..., held: _Optional[bool] = ...) -> None: ...

class Decision(_message.Message):
    __slots__ = ("rule_id", "rule_title", "rule_file", "rule_line", "policy_version", "action", "fired", "message", "facts", "conditions")
    class FactsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: _struct_pb2.Value
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ...) -> None: ...
    RULE_ID_FIELD_NUMBER: _ClassVar[int]
    RULE_TITLE_FIELD_NUMBER: _ClassVar[int]
    RULE_FILE_FIELD_NUMBER: _ClassVar[int]
    RULE_LINE_FIELD_NUMBER: _ClassVar[int]
    POLICY_VERSION_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    FIRED_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    FACTS_FIELD_NUMBER: _ClassVar[int]
    CONDITIONS_FIELD_NUMBER: _ClassVar[int]
    rule_id: str
    rule_title: str
    rule_file: str
    rule_line: int
    policy_version: str
    action: str
    fired: bool
    message: str
    facts: _containers.MessageMap[str, _struct_pb2.Value]
    conditions: _containers.RepeatedCompositeFieldContainer[ConditionOutcome]
    def __init__(self, rule_id: _Optional[str] = ..., rule_title: _Optional[str] = ..., rule_file: _Optional[str] = ..., rule_line: _Optional[int] = ..., policy_version: _Optional[str] = ..., action: _Optional[str] = ..., fired: _Optional[bool] = ..., message: _Optional[str] = ..., facts: _Optional[_Mapping[str, _struct_pb2.Value]] = ..., conditions: _Optional[_Iterable[_Union[ConditionOutcome, _Mapping]]] = ...) -> None: ...

class Supplier(_message.Message):
    __slots__ = ("name", "supplier_id", "display_name", "category", "state", "version", "etag", "register_time", "update_time", "scores", "certificates", "site_audit_result", "latest_decisions")
    class ScoresEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    SUPPLIER_ID_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    ETAG_FIELD_NUMBER: _ClassVar[int]
    REGISTER_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    SCORES_FIELD_NUMBER: _ClassVar[int]
    CERTIFICATES_FIELD_NUMBER: _ClassVar[int]
    SITE_AUDIT_RESULT_FIELD_NUMBER: _ClassVar[int]
    LATEST_DECISIONS_FIELD_NUMBER: _ClassVar[int]
    name: str
    supplier_id: str
    display_name: str
    category: ServiceCategory
    state: LifecycleState
    version: int
    etag: str
    register_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    scores: _containers.ScalarMap[str, float]
    certificates: _containers.RepeatedCompositeFieldContainer[Certificate]
    site_audit_result: SiteAuditResult
    latest_decisions: _containers.RepeatedCompositeFieldContainer[Decision]
    def __init__(self, name: _Optional[str] = ..., supplier_id: _Optional[str] = ..., display_name: _Optional[str] = ..., category: _Optional[_Union[ServiceCategory, str]] = ..., state: _Optional[_Union[LifecycleState, str]] = ..., version: _Optional[int] = ..., etag: _Optional[str] = ..., register_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., scores: _Optional[_Mapping[str, float]] = ..., certificates: _Optional[_Iterable[_Union[Certificate, _Mapping]]] = ..., site_audit_result: _Optional[_Union[SiteAuditResult, str]] = ..., latest_decisions: _Optional[_Iterable[_Union[Decision, _Mapping]]] = ...) -> None: ...

class SupplierEvent(_message.Message):
    __slots__ = ("sequence", "supplier", "version", "type", "occur_time", "record_time", "actor", "request_id", "policy_version", "hash", "previous_hash", "payload", "decision")
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    SUPPLIER_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    OCCUR_TIME_FIELD_NUMBER: _ClassVar[int]
    RECORD_TIME_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    POLICY_VERSION_FIELD_NUMBER: _ClassVar[int]
    HASH_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_HASH_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    DECISION_FIELD_NUMBER: _ClassVar[int]
    sequence: int
    supplier: str
    version: int
    type: str
    occur_time: _timestamp_pb2.Timestamp
    record_time: _timestamp_pb2.Timestamp
    actor: str
    request_id: str
    policy_version: str
    hash: str
    previous_hash: str
    payload: _struct_pb2.Struct
    decision: Decision
    def __init__(self, sequence: _Optional[int] = ..., supplier: _Optional[str] = ..., version: _Optional[int] = ..., type: _Optional[str] = ..., occur_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., record_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., actor: _Optional[str] = ..., request_id: _Optional[str] = ..., policy_version: _Optional[str] = ..., hash: _Optional[str] = ..., previous_hash: _Optional[str] = ..., payload: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., decision: _Optional[_Union[Decision, _Mapping]] = ...) -> None: ...
