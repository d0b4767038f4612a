import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from sqm.v1 import resources_pb2 as _resources_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class RegisterSupplierRequest(_message.Message):
    __slots__ = ("supplier_id", "display_name", "category", "occur_time", "request_id")
    SUPPLIER_ID_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    OCCUR_TIME_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    supplier_id: str
    display_name: str
    category: _resources_pb2.ServiceCategory
    occur_time: _timestamp_pb2.Timestamp
    request_id: str
    def __init__(self, supplier_id: _Optional[str] = ..., display_name: _Optional[str] = ..., category: _Optional[_Union[_resources_pb2.ServiceCategory, str]] = ..., occur_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., request_id: _Optional[str] = ...) -> None: ...

class RegisterSupplierResponse(_message.Message):
    __slots__ = ("supplier",)
    SUPPLIER_FIELD_NUMBER: _ClassVar[int]
    supplier: _resources_pb2.Supplier
    def __init__(self, supplier: _Optional[_Union[_resources_pb2.Supplier, _Mapping]] = ...) -> None: ...

class SubmitQualificationEvidenceRequest(_message.Message):
    __slots__ = ("name", "scores", "certificates", "site_audit_result", "occur_time", "request_id", "etag")
    class ScoresEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    SCORES_FIELD_NUMBER: _ClassVar[int]
    CERTIFICATES_FIELD_NUMBER: _ClassVar[int]
    SITE_AUDIT_RESULT_FIELD_NUMBER: _ClassVar[int]
    OCCUR_TIME_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    ETAG_FIELD_NUMBER: _ClassVar[int]
    name: str
    scores: _containers.ScalarMap[str, float]
    certificates: _containers.RepeatedCompositeFieldContainer[_resources_pb2.Certificate]
    site_audit_result: _resources_pb2.SiteAuditResult
    occur_time: _timestamp_pb2.Timestamp
    request_id: str
    etag: str
    def __init__(self, name: _Optional[str] = ..., scores: _Optional[_Mapping[str, float]] = ..., certificates: _Optional[_Iterable[_Union[_resources_pb2.Certificate, _Mapping]]] = ..., site_audit_result: _Optional[_Union[_resources_pb2.SiteAuditResult, str]] = ..., occur_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., request_id: _Optional[str] = ..., etag: _Optional[str] = ...) -> None: ...

class SubmitQualificationEvidenceResponse(_message.Message):
    __slots__ = ("supplier", "decisions")
    SUPPLIER_FIELD_NUMBER: _ClassVar[int]
    DECISIONS_FIELD_NUMBER: _ClassVar[int]
    supplier: _resources_pb2.Supplier
    decisions: _containers.RepeatedCompositeFieldContainer[_resources_pb2.Decision]
    def __init__(self, supplier: _Optional[_Union[_resources_pb2.Supplier, _Mapping]] = ..., decisions: _Optional[_Iterable[_Union[_resources_pb2.Decision, _Mapping]]] = ...) -> None: ...

class GetSupplierRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class GetSupplierResponse(_message.Message):
    __slots__ = ("supplier",)
    SUPPLIER_FIELD_NUMBER: _ClassVar[int]
    supplier: _resources_pb2.Supplier
    def __init__(self, supplier: _Optional[_Union[_resources_pb2.Supplier, _Mapping]] = ...) -> None: ...

class ListSuppliersRequest(_message.Message):
    __slots__ = ("page_size", "page_token")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListSuppliersResponse(_message.Message):
    __slots__ = ("suppliers", "next_page_token")
    SUPPLIERS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    suppliers: _containers.RepeatedCompositeFieldContainer[_resources_pb2.Supplier]
    next_page_token: str
    def __init__(self, suppliers: _Optional[_Iterable[_Union[_resources_pb2.Supplier, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class ListSupplierEventsRequest(_message.Message):
    __slots__ = ("parent", "page_size", "page_token")
    PARENT_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    parent: str
    page_size: int
    page_token: str
    def __init__(self, parent: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListSupplierEventsResponse(_message.Message):
    __slots__ = ("events", "next_page_token")
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    events: _containers.RepeatedCompositeFieldContainer[_resources_pb2.SupplierEvent]
    next_page_token: str
    def __init__(self, events: _Optional[_Iterable[_Union[_resources_pb2.SupplierEvent, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...
