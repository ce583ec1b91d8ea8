"""In-process AWS for tests and benchmarks: moto plus faithful fakes for what moto lacks.

Test-only: imports moto and numpy; never import it from Lambda handler paths.
"""

from runtime.testing._model import ServiceError, output_problems, validate_output
from runtime.testing.agentcore_fake import FakeAgentCoreMemory, lexical_score
from runtime.testing.agents_fake import (
    AgentCall,
    AgentFailure,
    Caller,
    ScriptedAgents,
    ServerSentEvents,
    scripted_agents,
)
from runtime.testing.authorizer import IamAuthorizer, Role, VendedSession
from runtime.testing.aws import DEFAULT_MEMORY_STRATEGIES, EmulatedAws, MeshLayout, attach_client, emulated_aws
from runtime.testing.faults import Fault, Faults
from runtime.testing.s3vectors_fake import FakeS3Vectors

__all__ = [
    "AgentCall",
    "AgentFailure",
    "Caller",
    "ScriptedAgents",
    "ServerSentEvents",
    "scripted_agents",
    "DEFAULT_MEMORY_STRATEGIES",
    "IamAuthorizer",
    "Role",
    "VendedSession",
    "EmulatedAws",
    "FakeAgentCoreMemory",
    "FakeS3Vectors",
    "Fault",
    "Faults",
    "MeshLayout",
    "ServiceError",
    "attach_client",
    "emulated_aws",
    "lexical_score",
    "output_problems",
    "validate_output",
]
