"""The Dexory API simulator (see `server.py`); `python -m dexory_simulator --help` runs it.

It stands in for the real API and states its ground truth in its own words: it never imports the connector.
"""

from .config import (
    CURSOR,
    LINK_OBJECT,
    LINK_STRING,
    NUMBERED,
    PAST_END_400,
    PAST_END_404,
    PAST_END_EMPTY,
    SimulatorConfig,
    SiteSpec,
)
from .data import GroundTruth, ground_truth, location, locations
from .faults import Fault, FaultPlan
from .malformed import Malformed, MalformedTruth
from .records import RequestRecord
from .server import Simulator, serve_in_thread

__all__ = [
    "CURSOR",
    "LINK_OBJECT",
    "LINK_STRING",
    "NUMBERED",
    "PAST_END_400",
    "PAST_END_404",
    "PAST_END_EMPTY",
    "Fault",
    "FaultPlan",
    "GroundTruth",
    "Malformed",
    "MalformedTruth",
    "RequestRecord",
    "Simulator",
    "SimulatorConfig",
    "SiteSpec",
    "ground_truth",
    "location",
    "locations",
    "serve_in_thread",
]
