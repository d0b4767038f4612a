"""The SupplierService servicer: thin. Map the request, run the application service, map back.

The methods live in one mixin per part of the process (:mod:`server.api.servicer_selection`,
:mod:`server.api.servicer_needs`, :mod:`server.api.servicer_monitoring`,
:mod:`server.api.servicer_improvement`, :mod:`server.api.servicer_liability`), over the steps they
share in :mod:`server.api.servicer_base`; this class puts them together and is what the server
registers.
"""

from __future__ import annotations

from server.api.servicer_base import ACTOR_METADATA_KEY, ServicerBase
from server.api.servicer_improvement import ImprovementMethods
from server.api.servicer_liability import LiabilityMethods
from server.api.servicer_monitoring import MonitoringMethods
from server.api.servicer_needs import NeedMethods
from server.api.servicer_selection import EVENTS_PAGE, SUPPLIERS_PAGE, SelectionMethods
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
    """gRPC face of :class:`~server.app.suppliers.SupplierService`: each method registered once."""
