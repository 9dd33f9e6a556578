from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class OperateResponseStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    UNKNOWN: _ClassVar[OperateResponseStatus]
    OK: _ClassVar[OperateResponseStatus]
    NG: _ClassVar[OperateResponseStatus]
UNKNOWN: OperateResponseStatus
OK: OperateResponseStatus
NG: OperateResponseStatus

class OperateRequest(_message.Message):
    __slots__ = ("inputs", "results")
    INPUTS_FIELD_NUMBER: _ClassVar[int]
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    inputs: _containers.RepeatedScalarFieldContainer[float]
    results: _containers.RepeatedCompositeFieldContainer[OperateResult]
    def __init__(self, inputs: _Optional[_Iterable[float]] = ..., results: _Optional[_Iterable[_Union[OperateResult, _Mapping]]] = ...) -> None: ...

class OperateResponse(_message.Message):
    __slots__ = ("status",)
    STATUS_FIELD_NUMBER: _ClassVar[int]
    status: OperateResponseStatus
    def __init__(self, status: _Optional[_Union[OperateResponseStatus, str]] = ...) -> None: ...

class OperateResult(_message.Message):
    __slots__ = ("operator", "value")
    OPERATOR_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    operator: str
    value: float
    def __init__(self, operator: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
