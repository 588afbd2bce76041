"""The Dexory API simulator (see `server.py`); `python -m dexory_async.simulator --help` runs it."""

from .data import GroundTruth, ground_truth, location, locations
from .faults import Fault, FaultPlan
from .server import CURSOR, NUMBERED, RequestRecord, Simulator, SimulatorConfig, serve_in_thread

__all__ = [
    "CURSOR",
    "NUMBERED",
    "Fault",
    "FaultPlan",
    "GroundTruth",
    "RequestRecord",
    "Simulator",
    "SimulatorConfig",
    "ground_truth",
    "location",
    "locations",
    "serve_in_thread",
]
