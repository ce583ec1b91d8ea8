"""The mesh's stacks and the typed deployment config they take."""

from .config import ConfigError, MeshConfig, WorkerConfig
from .mesh import Mesh, build_mesh, load_config
from .supervisor_stack import SupervisorAccountStack
from .worker_stack import WorkerAccountStack

__all__ = ["ConfigError", "Mesh", "MeshConfig", "SupervisorAccountStack", "WorkerAccountStack", "WorkerConfig",
           "build_mesh", "load_config"]
