"""The deployment config: every rule has an exact message, and one error lists every problem."""

from __future__ import annotations

import copy
import json

import pytest

from stacks.config import MAX_DECLARED_TENANTS, ConfigError, MeshConfig
from stacks.mesh import sample_config_dict


def _sample():
    return copy.deepcopy(sample_config_dict())


def _problems(raw) -> list[str]:
    with pytest.raises(ConfigError) as err:
        MeshConfig.from_dict(raw)
    assert str(err.value).startswith(f"Invalid deployment config ({len(err.value.problems)} problem(s)):\n  - ")
    return err.value.problems


def test_sample_config_is_valid_and_typed():
    cfg = MeshConfig.from_dict(_sample())
    assert cfg.supervisor.account == "111111111111"
    assert [w.name for w in cfg.workers] == ["billing"]
    assert cfg.tenants == ("acme", "globex")
    assert cfg.memory.index_prefix == "tenant-"
    assert cfg.orchestrator_role_arn() == "arn:aws:iam::111111111111:role/memory-mesh-orchestrator"
    assert cfg.worker_role_arn(cfg.workers[0]) == "arn:aws:iam::222222222222:role/memory-mesh-worker-billing"
    assert cfg.worker_external_id(cfg.workers[0]) == "memory-mesh-billing-2026"


def test_external_id_defaults_to_a_deterministic_value():
    raw = _sample()
    del raw["workers"][0]["external_id"]
    cfg = MeshConfig.from_dict(raw)
    assert cfg.worker_external_id(cfg.workers[0]) == "memory-mesh:billing"


def test_every_bad_field_is_listed_with_its_value_and_rule():
    raw = _sample()
    raw["supervisor"]["account"] = "12345"
    raw["supervisor"]["region"] = "useast1"
    raw["workers"].append(dict(raw["workers"][0]))
    raw["workers"][1]["account"] = "333333333333"
    raw["tenants"] = ["acme", "ACME", "acme"]
    raw["memory"]["retention_days"] = 0
    raw["memory"]["embedding_dimension"] = 5000
    raw["memory"]["distance_metric"] = "dot"
    assert _problems(raw) == [
        "memory.distance_metric='dot': must be one of cosine, euclidean",
        "memory.retention_days=0: must be a whole number from 1 to 3650",
        "memory.embedding_dimension=5000: must be a whole number from 1 to 4096",
        "supervisor.account='12345': must be a 12-digit AWS account id",
        "supervisor.region='useast1': must be an AWS region such as us-east-1",
        "tenants[1]='ACME': tenant ids are 3-40 lowercase letters, digits and '-', starting and ending with a letter "
        "or digit",
        "tenants[2]='acme': is declared twice",
        "workers[1].name='billing': duplicate worker name; names must be unique",
    ]


@pytest.mark.parametrize(
    "mutate, expected",
    [
        (lambda r: r["workers"][0].update(account="1111"),
         "workers[0].account='1111': must be a 12-digit AWS account id"),
        (lambda r: r["workers"][0].update(account="111111111111"),
         "workers[0].account='111111111111': a worker must be in another account than the supervisor"),
        (lambda r: r["workers"][0].update(region="mars-1"),
         "workers[0].region='mars-1': must be an AWS region such as us-east-1"),
        (lambda r: r["workers"][0].update(name="Billing_Team"),
         "workers[0].name='Billing_Team': 1-24 lowercase letters, digits and single '-' between them, starting with "
         "a letter"),
        (lambda r: r["workers"][0].update(name="billing-"),
         "workers[0].name='billing-': 1-24 lowercase letters, digits and single '-' between them, starting with a "
         "letter"),
        (lambda r: r["workers"][0].update(allowed_tenants=[]),
         "workers[0].allowed_tenants=[]: must be a non-empty list of tenant ids"),
        (lambda r: r["workers"][0].update(allowed_tenants=["ac*"]),
         "workers[0].allowed_tenants[0]='ac*': tenant ids are 3-40 lowercase letters, digits and '-', starting and "
         "ending with a letter or digit"),
        (lambda r: r["workers"][0].update(external_id="x"),
         "workers[0].external_id='x': 2-1224 characters of letters, digits and +=,.@:/-_"),
        (lambda r: r["workers"][0]["agent"].update(agent_id="short"),
         "workers[0].agent.agent_id='short': a Bedrock Agent id is 10 letters or digits"),
        (lambda r: r["workers"][0]["agent"].update(type="lambda"),
         "workers[0].agent.type='lambda': must be 'bedrock-agent' or 'agentcore-runtime'"),
        (lambda r: r["workers"][0].update(agent={"type": "agentcore-runtime", "runtime_arn":
                                                 "arn:aws:bedrock-agentcore:us-east-1:999999999999:runtime/x_y-AbCdEf1234"}),
         "workers[0].agent.runtime_arn='arn:aws:bedrock-agentcore:us-east-1:999999999999:runtime/x_y-AbCdEf1234': "
         "must be in the same account (222222222222) as its stack"),
        (lambda r: r["workers"][0].update(tvm_principal_arn="arn:aws:iam::999999999999:role/agent"),
         "workers[0].tvm_principal_arn='arn:aws:iam::999999999999:role/agent': must be a role in the worker's "
         "account 222222222222"),
        (lambda r: r.update(workers=[]), "workers=[]: must be a non-empty list of worker accounts"),
        (lambda r: r.update(mesh_name="Mesh"),
         "mesh_name='Mesh': 3-24 lowercase letters, digits and '-', starting with a letter"),
        (lambda r: r.update(organization_id="org"),
         "organization_id='org': must be an AWS Organizations id o-xxxxxxxxxx"),
        (lambda r: r["memory"].update(index_prefix="Tenant_"),
         "memory.index_prefix='Tenant_': 1-20 lowercase letters, digits, '-' or '.', starting with a letter or digit"),
        (lambda r: r["memory"].update(kms_key_arn="arn:aws:kms:us-east-1:999999999999:key/"
                                                  "11111111-2222-3333-4444-555555555555"),
         "memory.kms_key_arn='arn:aws:kms:us-east-1:999999999999:key/11111111-2222-3333-4444-555555555555': must be "
         "a key in the supervisor account and region (111111111111, us-east-1)"),
        (lambda r: r["memory"].update(embedding_dimension=384),
         "memory.embedding_dimension=384: amazon.titan-embed-text-v2:0 embeds at 256, 512, 1024"),
        (lambda r: r["memory"].update(embedding_model_id="cohere.embed-english-v3"),
         "memory.embedding_model_id='cohere.embed-english-v3': must be one of amazon.nova-2-multimodal-embeddings-v1:0, "
         "amazon.titan-embed-text-v2:0"),
        (lambda r: r["memory"].update(embedding_dimension=True),
         "memory.embedding_dimension=True: must be a whole number from 1 to 4096"),
        (lambda r: r["memory"].update(colour="blue"),
         "memory.colour='blue': unknown field; allowed: distance_metric, embedding_dimension, embedding_model_id, "
         "index_prefix, kms_key_arn, retention_days, summary_model_id"),
        (lambda r: r["api"].update(jwt_issuer="http://insecure"),
         "api.jwt_issuer='http://insecure': must be the https:// issuer URL"),
        (lambda r: r["api"].update(jwt_audience=[]),
         "api.jwt_audience=[]: must be a non-empty list of client ids / audiences"),
        (lambda r: r["supervisor"].pop("account"),
         "supervisor.account: is required; must be a 12-digit AWS account id"),
    ],
)
def test_each_rule_has_a_clear_message(mutate, expected):
    raw = _sample()
    mutate(raw)
    assert _problems(raw) == [expected]


def test_too_many_declared_tenants_points_to_runtime_onboarding():
    raw = _sample()
    raw["tenants"] = [f"t{i:04d}" for i in range(MAX_DECLARED_TENANTS + 1)]
    assert _problems(raw) == [
        f"tenants='<{MAX_DECLARED_TENANTS + 1} tenants>': at most {MAX_DECLARED_TENANTS} tenants can be declared at "
        "deploy time (each is one CloudFormation resource; a stack holds 500). Declare fewer and onboard the rest at "
        "run time with the tenant onboarding function (see docs/deploy.md#tenants)"]


def test_trust_policy_size_is_checked_for_direct_tvm_access():
    raw = _sample()
    base = raw["workers"][0]
    raw["workers"] = [dict(base, name=f"w{i}", account=f"{300000000000 + i}",
                           tvm_principal_arn=f"arn:aws:iam::{300000000000 + i}:role/agent-role",
                           allowed_tenants=["acme", "globex"]) for i in range(3)]
    (problem,) = _problems(raw)
    assert problem.startswith("workers[*].tvm_principal_arn='<3 roles>': the token vending machine's trust policy "
                              "would be about ")
    assert "IAM allows 2048 by default" in problem


def test_from_file_reports_missing_and_malformed_files(tmp_path):
    with pytest.raises(ConfigError, match=r"config='.*nope.json': file not found"):
        MeshConfig.from_file(tmp_path / "nope.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ConfigError, match=r"not valid JSON \(Expecting property name enclosed in double quotes at "
                                          r"line 1\)"):
        MeshConfig.from_file(bad)
    good = tmp_path / "good.json"
    good.write_text(json.dumps(_sample()))
    assert MeshConfig.from_file(good).mesh_name == "memory-mesh"


def test_config_naming_rules_match_the_runtime_validators():
    runtime_identity = pytest.importorskip("runtime.identity")
    from constructs_lib import naming

    for tenant in ["acme", "a-b", "abc", "x" * 40, "ab", "x" * 41, "-ab", "ab-", "A-b", "a_b", "a.b", "a*b"]:
        config_ok = bool(naming.TENANT_ID_PATTERN.match(tenant)) and naming.TENANT_ID_MIN <= len(tenant) <= \
            naming.TENANT_ID_MAX
        try:
            runtime_identity.validate_tenant_id(tenant)
            runtime_ok = True
        except ValueError:
            runtime_ok = False
        assert config_ok == runtime_ok, tenant
