"""The SupplierService servicer: thin. Map the request, run the application service, map back.

The methods live in one mixin per part of the process (:mod:`server.servicer_selection`,
:mod:`server.servicer_needs`, :mod:`server.servicer_monitoring`,
:mod:`server.servicer_improvement`, :mod:`server.servicer_liability`), over the steps they
share in :mod:`server.servicer_base`; this class puts them together and is what the server
registers.
"""

from __future__ import annotations

from server.servicer_base import ACTOR_METADATA_KEY, ServicerBase
from server.servicer_improvement import ImprovementMethods
from server.servicer_liability import LiabilityMethods
from server.servicer_monitoring import MonitoringMethods
from server.servicer_needs import NeedMethods
from server.servicer_selection import EVENTS_PAGE, SUPPLIERS_PAGE, SelectionMethods
from sqm.v1 import supplier_service_pb2_grpc as api_grpc

__all__ = ["ACTOR_METADATA_KEY", "EVENTS_PAGE", "SUPPLIERS_PAGE", "SupplierServicer"]


class SupplierServicer(
    SelectionMethods,
    NeedMethods,
    MonitoringMethods,
    ImprovementMethods,
    LiabilityMethods,
    ServicerBase,
    api_grpc.SupplierServiceServicer,
):
    """gRPC face of :class:`~server.application.SupplierService`: every method, registered once."""
