"""The deployment config: every rule has an exact message, and one error lists every problem."""

from __future__ import annotations

import copy
import json

import pytest

from stacks.config import MAX_DECLARED_TENANTS, ConfigError, MeshConfig, derived_external_id
from stacks.mesh import sample_config_dict

TENANT_RULE = "must be 3-40 lowercase letters, digits and '-', starting and ending with a letter or digit"


def _sample():
    return copy.deepcopy(sample_config_dict())


def _problems(raw) -> list[str]:
    with pytest.raises(ConfigError) as err:
        MeshConfig.from_dict(raw)
    assert str(err.value).startswith(f"Invalid deployment config ({len(err.value.problems)} problem(s)):\n  - ")
    return err.value.problems


def test_sample_config_is_valid_and_typed():
    cfg = MeshConfig.from_dict(_sample())
    assert (cfg.supervisor.account, cfg.supervisor.agent.kind) == ("111111111111", "agentcore-runtime")
    assert [w.name for w in cfg.workers] == ["billing"] and cfg.workers[0].agent_memory_days == 30
    assert cfg.tenants == ("acme", "globex") and cfg.memory.isolation == "user"
    assert cfg.orchestrator_role_arn() == "arn:aws:iam::111111111111:role/memory-mesh-orchestrator"
    assert cfg.worker_role_arn(cfg.workers[0]) == "arn:aws:iam::222222222222:role/memory-mesh-worker-billing"
    assert cfg.worker_tvm_role_arn() == "arn:aws:iam::111111111111:role/memory-mesh-tvm-external"
    assert cfg.workers[0].agent_role_arn() == "arn:aws:iam::222222222222:role/billing-agent-tools"
    assert cfg.worker_external_id(cfg.workers[0], secret=None) == "memory-mesh-billing-2026"
    assert cfg.warnings == ()


def test_isolation_defaults_to_user_and_accepts_tenant():
    raw = _sample()
    del raw["memory"]["isolation"]
    assert MeshConfig.from_dict(raw).memory.isolation == "user"
    raw["memory"]["isolation"] = "tenant"
    assert MeshConfig.from_dict(raw).memory.isolation == "tenant"


def test_an_external_id_is_derived_from_the_deploy_time_secret_or_required():
    raw = _sample()
    del raw["workers"][0]["external_id"]
    cfg = MeshConfig.from_dict(raw)
    derived = cfg.worker_external_id(cfg.workers[0], secret="s3cret")
    assert derived == derived_external_id("s3cret", "memory-mesh", cfg.workers[0]) and len(derived) == 64
    assert derived != cfg.worker_external_id(cfg.workers[0], secret="other")
    with pytest.raises(ConfigError) as err:
        cfg.worker_external_id(cfg.workers[0], secret=None)
    assert err.value.problems == [
        "workers[0].external_id: is required when no deploy-time secret is given: set it, or set "
        "MESH_EXTERNAL_ID_SECRET (or -c memoryMesh:externalIdSecret=...) to derive one per worker"]


def test_a_bedrock_agent_keeping_memories_longer_than_the_retention_is_a_warning():
    raw = _sample()
    raw["workers"][0]["agent"]["memory_days"] = 120
    assert MeshConfig.from_dict(raw).warnings == (
        "workers[0].agent.memory_days=120 exceeds memory.retention_days=90: the Bedrock Agent keeps session summaries "
        "longer than the mesh keeps memories; set its memory storageDays to at most 90 (forget-me still erases them)",)


def test_create_agent_role_names_the_role_after_the_mesh_and_worker():
    raw = _sample()
    del raw["workers"][0]["agent_role_name"]
    raw["workers"][0]["create_agent_role"] = True
    worker = MeshConfig.from_dict(raw).workers[0]
    assert worker.agent_role_name == "memory-mesh-billing-agent" and worker.create_agent_role


def test_every_bad_field_is_listed_with_its_value_and_rule():
    raw = _sample()
    raw["supervisor"]["account"] = "12345"
    raw["supervisor"]["region"] = "useast1"
    raw["workers"].append(dict(raw["workers"][0], account="333333333333"))
    raw["tenants"] = ["acme", "ACME", "acme"]
    raw["memory"]["retention_days"] = 0
    raw["memory"]["distance_metric"] = "dot"
    assert _problems(raw) == [
        "memory.distance_metric='dot': must be one of 'cosine', 'euclidean'",
        "memory.retention_days=0: must be a whole number from 1 to 3650",
        "supervisor.account='12345': must be a 12-digit AWS account id",
        "supervisor.region='useast1': must be an AWS Region code such as 'us-east-1'",
        f"tenants[1]='ACME': {TENANT_RULE}",
        "tenants[2]='acme': must be declared once",
        "workers[1].name='billing': must be unique among the workers",
    ]


RUNTIME_ELSEWHERE = "arn:aws:bedrock-agentcore:us-east-1:999999999999:runtime/x_y-AbCdEf1234"


@pytest.mark.parametrize("mutate, expected", [
    (lambda r: r["workers"][0].update(account="1111"),
     "workers[0].account='1111': must be a 12-digit AWS account id"),
    (lambda r: r["workers"][0].update(account="111111111111"),
     "workers[0].account='111111111111': must be another account than the supervisor's"),
    (lambda r: r["workers"][0].update(region="mars-1"),
     "workers[0].region='mars-1': must be an AWS Region code such as 'us-east-1'"),
    (lambda r: r["workers"][0].update(name="billing-"),
     "workers[0].name='billing-': must be 1-24 lowercase letters, digits and single '-' between them, starting with "
     "a letter"),
    (lambda r: r["workers"][0].update(allowed_tenants=[]),
     "workers[0].allowed_tenants=[]: must be a non-empty list of tenant ids"),
    (lambda r: r["workers"][0].update(allowed_tenants=["ac*"]),
     f"workers[0].allowed_tenants[0]='ac*': {TENANT_RULE}"),
    (lambda r: r["workers"][0].update(external_id="x"),
     "workers[0].external_id=<redacted>: must be 2-1224 letters, digits and _+=,.@:/-"),
    (lambda r: r["workers"][0]["agent"].update(agent_id="short"),
     "workers[0].agent.agent_id='short': must be a Bedrock agent id (10 letters or digits)"),
    (lambda r: r["workers"][0]["agent"].update(type="lambda"),
     "workers[0].agent.type='lambda': must be 'bedrock-agent' or 'agentcore-runtime'"),
    (lambda r: r["workers"][0]["agent"].pop("memory_days"),
     "workers[0].agent.memory_days: is required: a number from 0 to 365 days"),
    (lambda r: r["workers"][0]["agent"].update(memory_days=400),
     "workers[0].agent.memory_days=400: must be a whole number from 0 to 365 days"),
    (lambda r: r["supervisor"]["agent"].update(memory_days=30),
     "supervisor.agent.memory_days=30: is not a field of an agentcore-runtime agent (its memory is the mesh's "
     "AgentCore Memory)"),
    (lambda r: r["supervisor"]["agent"].update(runtime_arn=RUNTIME_ELSEWHERE),
     f"supervisor.agent.runtime_arn='{RUNTIME_ELSEWHERE}': must be in the account 111111111111 of its stack"),
    (lambda r: r["workers"][0].update(tvm_principal_arn="arn:aws:iam::999999999999:role/agent", agent_role_name=None),
     "workers[0].tvm_principal_arn='arn:aws:iam::999999999999:role/agent': must be a role of the worker's account "
     "222222222222"),
    (lambda r: r["workers"][0].update(tvm_principal_arn="arn:aws:iam::222222222222:role/agent"),
     "workers[0].tvm_principal_arn='arn:aws:iam::222222222222:role/agent': must be omitted with agent_role_name or "
     "create_agent_role (it is their legacy form)"),
    (lambda r: r["workers"][0].update(create_agent_role="yes"),
     "workers[0].create_agent_role='yes': must be true or false"),
    (lambda r: r["workers"][0].update(agent_role_name="bad name"),
     "workers[0].agent_role_name='bad name': must be 1-64 letters, digits and +=,.@_-"),
    (lambda r: r.update(workers=[]), "workers=[]: must be a non-empty list of worker objects"),
    (lambda r: r.update(mesh_name="Mesh"),
     "mesh_name='Mesh': must be 3-24 lowercase letters, digits and '-', starting with a letter"),
    (lambda r: r.update(organization_id="org"),
     "organization_id='org': must be an AWS Organizations id such as 'o-a1b2c3d4e5'"),
    (lambda r: r["memory"].update(isolation="org"), "memory.isolation='org': must be one of 'tenant', 'user'"),
    (lambda r: r["memory"].update(index_prefix="Tenant_"),
     "memory.index_prefix='Tenant_': must be 1-20 lowercase letters, digits, '-' or '.', starting with a letter or "
     "digit"),
    (lambda r: r["memory"].update(kms_key_arn="arn:aws:kms:us-east-1:999999999999:key/"
                                              "11111111-2222-3333-4444-555555555555"),
     "memory.kms_key_arn='arn:aws:kms:us-east-1:999999999999:key/11111111-2222-3333-4444-555555555555': must be a "
     "key of the supervisor's account and Region (111111111111, us-east-1)"),
    (lambda r: r["memory"].update(embedding_dimension=384),
     "memory.embedding_dimension=384: amazon.titan-embed-text-v2:0 embeds at 256, 512, 1024"),
    (lambda r: r["memory"].update(embedding_model_id="cohere.embed-english-v3"),
     "memory.embedding_model_id='cohere.embed-english-v3': must be one of amazon.nova-2-multimodal-embeddings-v1:0, "
     "amazon.titan-embed-text-v2:0 (or an inference profile of one)"),
    (lambda r: r["memory"].update(colour="blue"),
     "memory.colour='blue': is not a field here; fields are isolation, retention_days, embedding_dimension, "
     "distance_metric, index_prefix, kms_key_arn, embedding_model_id, summary_model_id"),
    (lambda r: r["api"].update(jwt_issuer="http://insecure"),
     "api.jwt_issuer='http://insecure': must be an https:// URL with a host and no query or fragment, such as "
     "'https://cognito-idp.us-east-1.amazonaws.com/us-east-1_EXAMPLE01'"),
    (lambda r: r["api"].update(jwt_audience=[]),
     "api.jwt_audience=[]: must be a non-empty list of client ids / audiences"),
    (lambda r: r["supervisor"].pop("account"),
     "supervisor.account: is required: a 12-digit AWS account id"),
    (lambda r: r.update(operations={"alarm_email": "nobody"}),
     "operations.alarm_email='nobody': must be an e-mail address such as 'ops@example.com'"),
    (lambda r: r.update(operations={"retention_schedule": "daily"}),
     "operations.retention_schedule='daily': must be an EventBridge Scheduler expression such as "
     "'cron(15 3 * * ? *)', 'rate(1 day)' or 'at(2030-01-01T00:00:00)'"),
])
def test_each_rule_has_a_clear_message(mutate, expected):
    raw = _sample()
    mutate(raw)
    assert _problems(raw) == [expected]


def test_a_tenant_too_long_for_the_prefix_is_refused():
    raw = _sample()
    raw["memory"]["index_prefix"] = "p" * 20
    MeshConfig.from_dict(raw)  # the sample's short tenants still fit
    raw["tenants"] = ["t" * 40]
    assert _problems(raw) == [
        f"tenants[0]='{'t' * 40}': index_prefix 'pppppppppppppppppppp' and tenant id together must be at most 49 "
        "characters, so the index '<prefix><tenant>.<user>' fits S3 Vectors' 63 characters"]


def test_too_many_declared_tenants_are_refused():
    raw = _sample()
    raw["tenants"] = [f"t{i:05d}" for i in range(MAX_DECLARED_TENANTS + 1)]
    assert _problems(raw) == [
        f"tenants='<{MAX_DECLARED_TENANTS + 1} tenants>': must declare at most {MAX_DECLARED_TENANTS} tenants (a mesh "
        "bucket holds at most 10,000 user indexes)"]


def test_from_file_reports_missing_and_malformed_files(tmp_path):
    with pytest.raises(ConfigError, match=r"config='.*': must name an existing file"):
        MeshConfig.from_file(tmp_path / "nope.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ConfigError, match=r"must be valid JSON \(Expecting property name enclosed in double quotes "
                                          r"at line 1\)"):
        MeshConfig.from_file(bad)
    good = tmp_path / "good.json"
    good.write_text(json.dumps(_sample()))
    assert MeshConfig.from_file(good).mesh_name == "memory-mesh"


def test_config_errors_also_take_finished_lines():
    assert str(ConfigError(["config=None: pass -c config=path.json"])) == (
        "Invalid deployment config (1 problem(s)):\n  - config=None: pass -c config=path.json")
