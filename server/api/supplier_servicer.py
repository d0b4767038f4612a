"""The SupplierService servicer: thin. Map the request, run the application service, map back.

The methods live in one mixin per part of the process
(:mod:`sqm.server.api.servicer_selection`, :mod:`sqm.server.api.servicer_needs`,
:mod:`sqm.server.api.servicer_monitoring`, :mod:`sqm.server.api.servicer_improvement`,
:mod:`sqm.server.api.servicer_liability`), over the steps they share in
:mod:`sqm.server.api.servicer_base`; this class puts them together and is what the server
registers.
"""

from __future__ import annotations

from sqm.server.api.servicer_base import ACTOR_METADATA_KEY, ServicerBase
from sqm.server.api.servicer_corrective_action import CorrectiveActionMethods
from sqm.server.api.servicer_improvement import ImprovementMethods
from sqm.server.api.servicer_liability import LiabilityMethods
from sqm.server.api.servicer_monitoring import MonitoringMethods
from sqm.server.api.servicer_needs import NeedMethods
from sqm.server.api.servicer_selection import EVENTS_PAGE, SUPPLIERS_PAGE, SelectionMethods
from sqm.server.api.servicer_supplier_side import SupplierSideMethods
from sqm.v1 import supplier_service_pb2_grpc as api_grpc

__all__ = ["ACTOR_METADATA_KEY", "EVENTS_PAGE", "SUPPLIERS_PAGE", "SupplierServicer"]


class SupplierServicer(
    SelectionMethods,
    NeedMethods,
    MonitoringMethods,
    ImprovementMethods,
    CorrectiveActionMethods,
    LiabilityMethods,
    SupplierSideMethods,
    ServicerBase,
    api_grpc.SupplierServiceServicer,
):
    """gRPC face of :class:`~sqm.server.app.suppliers.SupplierService`, each method once."""
