"""The memory home split into a data stack and a compute stack: no reference cycle, deterministic TVM trust."""

from __future__ import annotations

import json

import pytest
from aws_cdk import Environment, Stack
from aws_cdk import aws_kms as kms

from constructs_lib import (
    AgentMemory,
    AgentRef,
    MemoryOrchestrator,
    MeshStateTable,
    PropsError,
    TokenVendingMachine,
    VectorMemoryStore,
)
from tests.constructs_lib.helpers import lid, memory_home, new_app, synth_report, trust_of, unacknowledged
from tests.constructs_lib.orchestrator_fixtures import API, WORKERS

DATA_ENV = Environment(account="111111111111", region="us-east-1")
BUCKET_ARN = "arn:aws:s3vectors:us-east-1:111111111111:bucket/mesh-vectors"
MEMORY_ARN = "arn:aws:bedrock-agentcore:us-east-1:111111111111:memory/mesh_memory-AbCdE12345"
TABLE_ARN = "arn:aws:dynamodb:us-east-1:111111111111:table/mesh-state"
KEY_ARN = "arn:aws:kms:us-east-1:111111111111:key/11111111-2222-3333-4444-555555555555"
TVM_ARN = "arn:aws:iam::111111111111:role/mesh-tvm"
SESSION_FUNCTIONS = ("orchestrator", "summarizer", "lifecycle")


def _supervisor(account, region):
    return AgentRef.agentcore_runtime(
        runtime_arn=f"arn:aws:bedrock-agentcore:{region}:{account}:runtime/supervisor_agent-AbCdEf1234")


def _templates(directory):
    return {name: json.loads((directory / f"{name}.template.json").read_text()) for name in ("Data", "Compute")}


@pytest.fixture(scope="module")
def same_environment():
    """Data and compute in one account and Region; the compute stack takes the data constructs themselves."""
    app = new_app()
    home = memory_home(Stack(app, "Data", env=DATA_ENV))
    tvm = TokenVendingMachine(home.stack, "Tvm", vector_store=home.store, agent_memory=home.memory,
                              state_table=home.table, role_name="mesh-tvm")
    compute = Stack(app, "Compute", env=DATA_ENV)
    MemoryOrchestrator(compute, "Orchestration", vector_store=home.store, agent_memory=home.memory,
                       state_table=home.table, token_vending_machine=tvm, supervisor_agent=_supervisor(
                           "111111111111", "us-east-1"), workers=WORKERS, api=API, role_name_prefix="mesh")
    directory, report = synth_report(app)
    return home, tvm, _templates(directory), report


def test_same_environment_split_has_no_cycle_and_references_go_one_way(same_environment):
    _, _, templates, report = same_environment
    assert unacknowledged(report) == []
    data, compute = json.dumps(templates["Data"]), json.dumps(templates["Compute"])
    assert "Fn::GetStackOutput" in compute  # compute reads the data stack's outputs
    assert "Fn::GetStackOutput" not in data and "Fn::ImportValue" not in data  # data never reads compute's


def test_same_environment_split_trusts_the_compute_roles_by_literal_arn(same_environment):
    _, tvm, templates, _ = same_environment
    (trust,) = trust_of(templates["Data"], tvm.role)
    assert trust["Condition"]["ArnEquals"]["aws:PrincipalArn"] == [
        f"arn:aws:iam::111111111111:role/mesh-{name}" for name in ("orchestrator", "lifecycle", "summarizer")]


@pytest.fixture(scope="module")
def other_region():
    """Compute in another Region of the memory's account: it imports the data side by ARN; the data side's TVM
    trusts the compute roles by their fixed names (deploy order: either; sessions work once both exist)."""
    app = new_app()
    data = Stack(app, "Data", env=DATA_ENV)
    key = kms.Key(data, "Key", enable_key_rotation=True)
    store = VectorMemoryStore(data, "Store", encryption_key=key, vector_bucket_name="mesh-vectors")
    memory = AgentMemory(data, "Memory", encryption_key=key)
    table = MeshStateTable(data, "State", encryption_key=key, table_name="mesh-state")
    tvm = TokenVendingMachine(data, "Tvm", vector_store=store, agent_memory=memory, state_table=table,
                              role_name="mesh-tvm")
    for name in SESSION_FUNCTIONS:
        tvm.trust(f"arn:aws:iam::111111111111:role/mesh-{name}")

    compute = Stack(app, "Compute", env=Environment(account="111111111111", region="us-west-2"))
    data_key = kms.Key.from_key_arn(compute, "DataKey", KEY_ARN)
    orchestration = MemoryOrchestrator(
        compute, "Orchestration",
        vector_store=VectorMemoryStore.from_vector_memory_store_attributes(
            compute, "Store", vector_bucket_arn=BUCKET_ARN, encryption_key=data_key),
        agent_memory=AgentMemory.from_agent_memory_attributes(compute, "Memory", memory_arn=MEMORY_ARN,
                                                              encryption_key=data_key),
        state_table=MeshStateTable.from_mesh_state_table_attributes(compute, "State", table_arn=TABLE_ARN,
                                                                    encryption_key=data_key),
        token_vending_machine=TokenVendingMachine.from_token_vending_machine_attributes(compute, "Tvm",
                                                                                       role_arn=TVM_ARN),
        supervisor_agent=_supervisor("111111111111", "us-west-2"), workers=WORKERS, api=API, role_name_prefix="mesh")
    directory, report = synth_report(app)
    return orchestration, _templates(directory), report


def test_other_region_split_synthesizes_without_references_or_findings(other_region):
    _, templates, report = other_region
    assert unacknowledged(report) == []
    for template in templates.values():
        text = json.dumps(template)
        assert "Fn::GetStackOutput" not in text and "Fn::ImportValue" not in text


def test_other_region_compute_names_the_memory_homes_region_and_keys(other_region):
    orchestration, templates, _ = other_region
    compute = templates["Compute"]
    env = compute["Resources"][lid(orchestration.orchestrator)]["Properties"]["Environment"]["Variables"]
    assert (env["MESH_REGION"], env["MESH_VECTOR_BUCKET"], env["MESH_STATE_TABLE"], env["MESH_TVM_ROLE_ARN"]) == (
        "us-east-1", "mesh-vectors", "mesh-state", TVM_ARN)
    # The data resources' key is used through their services in *their* Region...
    forget = [s for p in compute["Resources"].values() if p["Type"] == "AWS::IAM::Policy"
              and {"Ref": lid(orchestration.forget.function_role)} in p["Properties"]["Roles"]
              for s in p["Properties"]["PolicyDocument"]["Statement"] if s.get("Resource") == KEY_ARN]
    assert sorted(v for s in forget for v in s["Condition"]["StringEquals"]["kms:ViaService"]) == [
        "bedrock-agentcore.us-east-1.amazonaws.com", "dynamodb.us-east-1.amazonaws.com",
        "s3vectors.us-east-1.amazonaws.com"]
    # ...while logs, queues and environments use a key of the compute Region.
    assert orchestration.key is not None and lid(orchestration.key).startswith("OrchestrationKey")


def test_compute_in_another_account_cannot_reach_an_imported_memory():
    app = new_app()
    compute = Stack(app, "Compute", env=Environment(account="444444444444", region="us-east-1"))
    with pytest.raises(PropsError) as err:
        MemoryOrchestrator(
            compute, "Orchestration",
            vector_store=VectorMemoryStore.from_vector_memory_store_attributes(compute, "Store",
                                                                               vector_bucket_arn=BUCKET_ARN),
            agent_memory=AgentMemory.from_agent_memory_attributes(compute, "Memory", memory_arn=MEMORY_ARN),
            state_table=MeshStateTable.from_mesh_state_table_attributes(compute, "State", table_arn=TABLE_ARN),
            token_vending_machine=TokenVendingMachine.from_token_vending_machine_attributes(compute, "Tvm",
                                                                                           role_arn=TVM_ARN),
            supervisor_agent=_supervisor("444444444444", "us-east-1"), role_name_prefix="mesh")
    assert err.value.problems == [
        "grantee account='444444444444': must be the memory's account 111111111111: an imported memory's resource "
        "policy belongs to its owner; reach it through a TokenVendingMachine of the memory's account"]
