"""The serverless side of the memory home: functions, work queues, schedule, alarms and APIs."""

from .alarms import MeshAlarms
from .config_layer import MeshConfigLayer
from .function_options import FUNCTION_NAMES, FunctionOptions, FunctionSizing
from .functions import (
    ForgetFunction,
    LifecycleFunction,
    OrchestratorFunction,
    RetentionFunction,
    SummarizerFunction,
    TenantsFunction,
)
from .memory_api import MEMORY_API_ROUTES, JwtApiOptions, MemoryApi
from .memory_orchestrator import MemoryOrchestrator, ModelOptions, ObservabilityOptions
from .mesh_function import FunctionShared, MeshFunction
from .operator_api import OPERATOR_API_ROUTES, OperatorApi
from .queued_work import LifecycleJobs, QueuedWork, SummaryPipeline
from .retention_schedule import DEFAULT_RETENTION_SCHEDULE, RetentionSchedule

__all__ = [
    "DEFAULT_RETENTION_SCHEDULE", "FUNCTION_NAMES", "ForgetFunction", "FunctionOptions", "FunctionShared",
    "FunctionSizing", "JwtApiOptions", "LifecycleFunction", "LifecycleJobs", "MEMORY_API_ROUTES", "MemoryApi",
    "MemoryOrchestrator", "MeshAlarms", "MeshConfigLayer", "MeshFunction", "ModelOptions", "OPERATOR_API_ROUTES",
    "ObservabilityOptions", "OperatorApi", "OrchestratorFunction", "QueuedWork", "RetentionFunction",
    "RetentionSchedule", "SummarizerFunction", "SummaryPipeline", "TenantsFunction",
]
