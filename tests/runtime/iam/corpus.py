"""IAM decisions whose outcome the AWS documentation states, as data, each citing the page that states it.

A case gives the request (identity policies, optional resource policy and principal, context) and the
documented outcome. ``source`` is the page URL plus the section (``#anchor``) or the example it comes from.
"""

from __future__ import annotations

from typing import Any

UG = "https://docs.aws.amazon.com/IAM/latest/UserGuide/"
EVAL = UG + "reference_policies_evaluation-logic.html"
CROSS = UG + "reference_policies_evaluation-logic-cross-account.html"
OPS = UG + "reference_policies_elements_condition_operators.html"
LOGIC = UG + "reference_policies_condition-logic-multiple-context-keys-or-values.html"
MULTI = UG + "reference_policies_condition-single-vs-multi-valued-context-keys.html"
MULTI_EX = UG + "reference_policies_condition_examples-multi-valued-context-keys.html"
VARS = UG + "reference_policies_variables.html"
NOTACTION = UG + "reference_policies_elements_notaction.html"
NOTRESOURCE = UG + "reference_policies_elements_notresource.html"
RESOURCE = UG + "reference_policies_elements_resource.html"
ACTION = UG + "reference_policies_elements_action.html"
PRINCIPAL = UG + "reference_policies_elements_principal.html"
NOTPRINCIPAL = UG + "reference_policies_elements_notprincipal.html"
GLOBAL_KEYS = UG + "reference_policies_condition-keys.html"
SESSION_TAGS = UG + "id_session-tags.html"
SOURCE_ID = UG + "id_credentials_temp_control-access_monitor.html"
ASSUME_ROLE = "https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html"
KMS_POLICIES = "https://docs.aws.amazon.com/kms/latest/developerguide/key-policies.html"
KMS_DEFAULT = "https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html"
KMS_CROSS = "https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-modifying-external-accounts.html"

ACCOUNT = "123456789012"
OTHER = "444455556666"


def policy(*statements: dict[str, Any], version: str | None = "2012-10-17") -> dict[str, Any]:
    document: dict[str, Any] = {"Statement": list(statements)}
    if version:
        document["Version"] = version
    return document


def allow(action: Any, resource: Any = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def deny(action: Any, resource: Any = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Deny", "Action": action, "Resource": resource, **extra}


def user(name: str, account: str = ACCOUNT) -> dict[str, str]:
    return {"arn": f"arn:aws:iam::{account}:user/{name}"}


def session(role: str, name: str, account: str = ACCOUNT) -> dict[str, str]:
    return {
        "arn": f"arn:aws:sts::{account}:assumed-role/{role}/{name}",
        "role_arn": f"arn:aws:iam::{account}:role/{role}",
    }


def case(name: str, source: str, expect: str, **request: Any) -> dict[str, Any]:
    """``expect`` is the documented Reason: ALLOW, IMPLICIT_DENY or EXPLICIT_DENY."""
    return {"name": name, "source": source, "expect": expect, "request": request}


# --- Evaluation logic ---------------------------------------------------------------------------------------

CARLOS_POLICY = policy(
    allow(["s3:GetBucketLocation", "s3:ListAllMyBuckets"], "arn:aws:s3:::*", Sid="AllowS3ListRead"),
    allow("s3:*", ["arn:aws:s3:::carlossalazar/*", "arn:aws:s3:::carlossalazar"], Sid="AllowS3Self"),
    deny("s3:*", "arn:aws:s3:::*log*", Sid="DenyS3Logs"),
)
CARLOS_BUCKET = policy(
    {
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:user/carlossalazar"},
        "Action": "s3:*",
        "Resource": ["arn:aws:s3:::carlossalazar/*", "arn:aws:s3:::carlossalazar"],
    }
)
GET_LIST_REPORTS = policy(
    allow(["iam:Get*", "iam:List*"], Sid="AllowGetList"),
    deny("iam:*Report", Sid="DenyReports"),
)

EVALUATION = [
    case("no policy: implicit deny", EVAL + "#policy-eval-denyallow", "IMPLICIT_DENY",
         action="s3:GetObject", resource="arn:aws:s3:::bucket/key"),
    case("Carlos: DenyS3Logs beats AllowS3Self on the logs bucket", EVAL + "#policies_evaluation_example",
         "EXPLICIT_DENY", action="s3:PutObject", resource="arn:aws:s3:::carlossalazar-logs/file.txt",
         identity_policies=[CARLOS_POLICY], principal=user("carlossalazar"), resource_policy=CARLOS_BUCKET,
         resource_account=ACCOUNT),
    case("Carlos: identity and bucket policy both allow his own bucket", EVAL + "#policies_evaluation_example",
         "ALLOW", action="s3:PutObject", resource="arn:aws:s3:::carlossalazar/file.txt",
         identity_policies=[CARLOS_POLICY], principal=user("carlossalazar"), resource_policy=CARLOS_BUCKET,
         resource_account=ACCOUNT),
    case("same account: the resource-based policy alone allows", EVAL + "#policies_evaluation_example",
         "ALLOW", action="s3:GetObject", resource="arn:aws:s3:::carlossalazar/file.txt",
         principal=user("carlossalazar"), resource_policy=CARLOS_BUCKET, resource_account=ACCOUNT),
    case("same account: an explicit deny in the resource-based policy overrides the identity allow",
         EVAL + "#policy-eval-basics-id-rdp", "EXPLICIT_DENY", action="s3:GetObject",
         resource="arn:aws:s3:::carlossalazar/file.txt", identity_policies=[CARLOS_POLICY],
         principal=user("carlossalazar"), resource_account=ACCOUNT,
         resource_policy=policy({"Effect": "Deny", "Principal": "*", "Action": "s3:GetObject",
                                 "Resource": "arn:aws:s3:::carlossalazar/*"})),
    case("AllowGetList allows iam:GetUser", EVAL + "#AccessPolicyLanguage_Interplay", "ALLOW",
         action="iam:GetUser", resource=f"arn:aws:iam::{ACCOUNT}:user/bob", identity_policies=[GET_LIST_REPORTS]),
    case("actions not listed are implicitly denied", EVAL + "#AccessPolicyLanguage_Interplay",
         "IMPLICIT_DENY", action="iam:CreatePolicy", resource="*", identity_policies=[GET_LIST_REPORTS]),
    case("DenyReports still denies a report action another policy allows", EVAL + "#AccessPolicyLanguage_Interplay",
         "EXPLICIT_DENY", action="iam:GetOrganizationsAccessReport", resource="*",
         identity_policies=[GET_LIST_REPORTS, policy(allow("iam:GetOrganizationsAccessReport"))]),
    case("role session: a resource policy naming the role ARN grants without identity policy",
         EVAL + "#policy-eval-denyallow", "ALLOW", action="sqs:SendMessage",
         resource=f"arn:aws:sqs:us-east-1:{ACCOUNT}:jobs", principal=session("examplerole", "s1"),
         resource_policy=policy({"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:role/examplerole"},
                                 "Action": "sqs:SendMessage", "Resource": f"arn:aws:sqs:us-east-1:{ACCOUNT}:jobs"})),
    case("role session: a resource policy naming the session ARN grants it directly", EVAL + "#policy-eval-denyallow",
         "ALLOW", action="sqs:SendMessage", resource=f"arn:aws:sqs:us-east-1:{ACCOUNT}:jobs",
         principal=session("examplerole", "examplerolesessionname"),
         resource_policy=policy({"Effect": "Allow",
                                 "Principal": {"AWS": f"arn:aws:sts::{ACCOUNT}:assumed-role/examplerole/examplerolesessionname"},
                                 "Action": "sqs:SendMessage"})),
]

# --- Cross-account ------------------------------------------------------------------------------------------

QUEUE_B = f"arn:aws:sqs:us-east-1:{OTHER}:shared"
QUEUE_POLICY_TRUSTS_A = policy({"Effect": "Allow", "Principal": {"AWS": ACCOUNT}, "Action": "sqs:SendMessage",
                                "Resource": QUEUE_B})
CROSS_ACCOUNT = [
    case("cross-account: identity policy and resource policy both allow", CROSS + "#policy-eval-cross-account",
         "ALLOW", action="sqs:SendMessage", resource=QUEUE_B, principal=user("alice"),
         identity_policies=[policy(allow("sqs:SendMessage", QUEUE_B))], resource_policy=QUEUE_POLICY_TRUSTS_A),
    case("cross-account: the resource policy does not name the caller's account", CROSS + "#policy-eval-cross-account",
         "IMPLICIT_DENY", action="sqs:SendMessage", resource=QUEUE_B, principal=user("alice"),
         identity_policies=[policy(allow("sqs:SendMessage", QUEUE_B))],
         resource_policy=policy({"Effect": "Allow", "Principal": {"AWS": "999999999999"},
                                 "Action": "sqs:SendMessage", "Resource": QUEUE_B})),
    case("cross-account: the resource policy allows but no identity policy does", CROSS + "#policy-eval-cross-account",
         "IMPLICIT_DENY", action="sqs:SendMessage", resource=QUEUE_B, principal=user("alice"),
         resource_policy=QUEUE_POLICY_TRUSTS_A),
    case("an account principal delegates: identities still need an identity policy", PRINCIPAL + "#principal-accounts",
         "IMPLICIT_DENY", action="sqs:SendMessage", resource=f"arn:aws:sqs:us-east-1:{ACCOUNT}:jobs",
         principal=user("alice"),
         resource_policy=policy({"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                                 "Action": "sqs:SendMessage"})),
    case("aws:PrincipalOrgID admits a caller from the organization", GLOBAL_KEYS + "#condition-keys-principalorgid",
         "ALLOW", action="sqs:SendMessage", resource=QUEUE_B, principal=user("alice"),
         context={"aws:PrincipalOrgID": "o-a1b2c3d4e5"}, identity_policies=[policy(allow("sqs:SendMessage"))],
         resource_policy=policy({"Effect": "Allow", "Principal": "*", "Action": "sqs:SendMessage",
                                 "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-a1b2c3d4e5"}}})),
    case("aws:PrincipalOrgID refuses a caller from another organization", GLOBAL_KEYS + "#condition-keys-principalorgid",
         "IMPLICIT_DENY", action="sqs:SendMessage", resource=QUEUE_B, principal=user("alice"),
         context={"aws:PrincipalOrgID": "o-zzzzzzzzzz"}, identity_policies=[policy(allow("sqs:SendMessage"))],
         resource_policy=policy({"Effect": "Allow", "Principal": "*", "Action": "sqs:SendMessage",
                                 "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-a1b2c3d4e5"}}})),
    case("NotPrincipal Deny naming Bob without his account denies Bob", NOTPRINCIPAL + "#specifying-notprincipal",
         "EXPLICIT_DENY", action="s3:GetObject", resource="arn:aws:s3:::BUCKETNAME/k",
         principal=user("Bob", OTHER), identity_policies=[policy(allow("s3:GetObject"))], resource_account=ACCOUNT,
         resource_policy=policy(
             {"Effect": "Allow", "Principal": {"AWS": OTHER}, "Action": "s3:*", "Resource": "arn:aws:s3:::BUCKETNAME/*"},
             {"Effect": "Deny", "NotPrincipal": {"AWS": [f"arn:aws:iam::{OTHER}:user/Bob"]}, "Action": "s3:*",
              "Resource": ["arn:aws:s3:::BUCKETNAME", "arn:aws:s3:::BUCKETNAME/*"]})),
    case("NotPrincipal Deny naming Bob and his account spares Bob", NOTPRINCIPAL + "#specifying-notprincipal",
         "ALLOW", action="s3:GetObject", resource="arn:aws:s3:::BUCKETNAME/k",
         principal=user("Bob", OTHER), identity_policies=[policy(allow("s3:GetObject"))], resource_account=ACCOUNT,
         resource_policy=policy(
             {"Effect": "Allow", "Principal": {"AWS": OTHER}, "Action": "s3:*", "Resource": "arn:aws:s3:::BUCKETNAME/*"},
             {"Effect": "Deny", "NotPrincipal": {"AWS": [f"arn:aws:iam::{OTHER}:user/Bob", f"arn:aws:iam::{OTHER}:root"]},
              "Action": "s3:*", "Resource": ["arn:aws:s3:::BUCKETNAME", "arn:aws:s3:::BUCKETNAME/*"]})),
]

# --- Role trust policies: sts:AssumeRole, session tags, source identity --------------------------------------

ROLE = f"arn:aws:iam::{ACCOUNT}:role/my-role-example"
SESSION_TAG_TRUST = policy(
    {"Sid": "AllowIamUserAssumeRole", "Effect": "Allow", "Action": "sts:AssumeRole",
     "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:user/test-session-tags"},
     "Condition": {"StringLike": {"aws:RequestTag/Project": "*", "aws:RequestTag/CostCenter": "*",
                                  "aws:RequestTag/Department": "*"},
                   "StringEquals": {"sts:ExternalId": "Example987"}}},
    {"Sid": "AllowPassSessionTagsAndTransitive", "Effect": "Allow", "Action": "sts:TagSession",
     "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:user/test-session-tags"},
     "Condition": {"StringLike": {"aws:RequestTag/Project": "*", "aws:RequestTag/CostCenter": "*"},
                   "StringEquals": {"aws:RequestTag/Department": ["Engineering", "Marketing"]},
                   "ForAllValues:StringEquals": {"sts:TransitiveTagKeys": ["Project", "Department"]}}},
)
TAGS = {"aws:RequestTag/Project": "Automation", "aws:RequestTag/CostCenter": "12345",
        "aws:RequestTag/Department": "Engineering", "aws:TagKeys": ["Project", "CostCenter", "Department"],
        "sts:ExternalId": "Example987"}


def trust(source: str, expect: str, action: str, context: dict[str, Any], name: str, **extra: Any) -> dict[str, Any]:
    request = {"action": action, "resource": ROLE, "principal": user("test-session-tags"), "context": context,
               "resource_policy": SESSION_TAG_TRUST, "resource_policy_kind": "ROLE_TRUST", **extra}
    return case(name, source, expect, **request)


DEV_ROLE = f"arn:aws:iam::{ACCOUNT}:role/Developer_Role"
DEV_TRUST = policy({"Sid": "AllowDevUserAssumeRole", "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:user/DevUser"},
                    "Action": ["sts:AssumeRole", "sts:SetSourceIdentity"],
                    "Condition": {"StringEquals": {"sts:SourceIdentity": "DevUser"}}})
DEV_IDENTITY = policy(
    allow("sts:AssumeRole", DEV_ROLE, Sid="AssumeRole"),
    allow("sts:SetSourceIdentity", DEV_ROLE, Sid="SetAwsUserNameAsSourceIdentity",
          Condition={"StringLike": {"sts:SourceIdentity": "${aws:username}"}}),
)
ACCOUNT_TRUST = policy({"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                        "Action": "sts:AssumeRole"})

TRUST = [
    trust(SESSION_TAGS + "#id_session-tags_permissions-required", "ALLOW", "sts:AssumeRole", TAGS,
          "trust policy: the three required session tags and the external ID"),
    trust(SESSION_TAGS + "#id_session-tags_permissions-required", "IMPLICIT_DENY", "sts:AssumeRole",
          {key: value for key, value in TAGS.items() if "CostCenter" not in key},
          "trust policy: a required session tag (CostCenter) is missing"),
    trust(SESSION_TAGS + "#id_session-tags_permissions-required", "IMPLICIT_DENY", "sts:AssumeRole",
          {**TAGS, "sts:ExternalId": "Wrong"}, "trust policy: wrong sts:ExternalId"),
    trust(SESSION_TAGS + "#id_session-tags_permissions-required", "ALLOW", "sts:TagSession",
          {**TAGS, "sts:TransitiveTagKeys": ["Project", "Department"]},
          "sts:TagSession: Department Engineering, Project and Department transitive"),
    trust(SESSION_TAGS + "#id_session-tags_permissions-required", "IMPLICIT_DENY", "sts:TagSession",
          {**TAGS, "aws:RequestTag/Department": "Sales"}, "sts:TagSession: Department must be Engineering or Marketing"),
    trust(SESSION_TAGS + "#id_session-tags_permissions-required", "IMPLICIT_DENY", "sts:TagSession",
          {**TAGS, "sts:TransitiveTagKeys": ["Project", "CostCenter"]},
          "sts:TagSession: CostCenter may not be set transitive"),
    trust(SESSION_TAGS + "#id_session-tags_permissions-required", "ALLOW", "sts:TagSession", TAGS,
          "sts:TagSession: setting no transitive tags is allowed (ForAllValues, key absent)"),
    case("trust policy without an sts:TagSession statement: passing tags fails",
         SESSION_TAGS + "#id_session-tags_permissions-required", "IMPLICIT_DENY", action="sts:TagSession",
         resource=ROLE, principal=user("test-session-tags"), context=TAGS, resource_policy_kind="ROLE_TRUST",
         resource_policy=policy(SESSION_TAG_TRUST["Statement"][0])),
    case("source identity: trust policy accepts sts:SourceIdentity DevUser", SOURCE_ID + "#id_credentials_temp_control-access_monitor-perms",
         "ALLOW", action="sts:SetSourceIdentity", resource=DEV_ROLE, principal=user("DevUser"),
         context={"sts:SourceIdentity": "DevUser"}, resource_policy=DEV_TRUST, resource_policy_kind="ROLE_TRUST"),
    case("source identity: trust policy refuses another value", SOURCE_ID + "#id_credentials_temp_control-access_monitor-perms",
         "IMPLICIT_DENY", action="sts:SetSourceIdentity", resource=DEV_ROLE, principal=user("DevUser"),
         context={"sts:SourceIdentity": "Admin"}, resource_policy=DEV_TRUST, resource_policy_kind="ROLE_TRUST"),
    case("source identity: identity policy requires ${aws:username} as the source identity",
         SOURCE_ID + "#id_credentials_temp_control-access_monitor-perms", "IMPLICIT_DENY",
         action="sts:SetSourceIdentity", resource=DEV_ROLE, identity_policies=[DEV_IDENTITY],
         context={"aws:username": "DevUser", "sts:SourceIdentity": "SomeoneElse"}),
    case("same account: trust policy naming the user needs no identity policy", ASSUME_ROLE, "ALLOW",
         action="sts:AssumeRole", resource=DEV_ROLE, principal=user("DevUser"), resource_policy_kind="ROLE_TRUST",
         resource_policy=policy({"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:user/DevUser"},
                                 "Action": "sts:AssumeRole"})),
    case("same account: trust policy trusting the account plus an identity policy", ASSUME_ROLE, "ALLOW",
         action="sts:AssumeRole", resource=DEV_ROLE, principal=user("DevUser"), resource_policy=ACCOUNT_TRUST,
         resource_policy_kind="ROLE_TRUST", identity_policies=[policy(allow("sts:AssumeRole", DEV_ROLE))]),
    case("same account: trust policy trusting the account, no identity policy", ASSUME_ROLE, "IMPLICIT_DENY",
         action="sts:AssumeRole", resource=DEV_ROLE, principal=user("DevUser"), resource_policy=ACCOUNT_TRUST,
         resource_policy_kind="ROLE_TRUST"),
    case("same account: identity policy alone cannot assume a role whose trust policy does not trust it",
         EVAL + "#policy-eval-denyallow", "IMPLICIT_DENY", action="sts:AssumeRole", resource=DEV_ROLE,
         principal=user("DevUser"), resource_policy_kind="ROLE_TRUST", identity_policies=[policy(allow("sts:AssumeRole"))],
         resource_policy=policy({"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                                 "Action": "sts:AssumeRole"})),
    case("cross-account: trust policy names the account and aws:PrincipalArn matches ArnLike",
         PRINCIPAL + "#principal-roles", "ALLOW", action="sts:AssumeRole", resource=DEV_ROLE,
         principal=session("DevOps", "ci", OTHER), resource_policy_kind="ROLE_TRUST",
         identity_policies=[policy(allow("sts:AssumeRole", DEV_ROLE))],
         resource_policy=policy({"Effect": "Allow", "Principal": {"AWS": OTHER}, "Action": "sts:AssumeRole",
                                 "Condition": {"ArnLike": {"aws:PrincipalArn": f"arn:aws:iam::{OTHER}:role/Dev*"}}})),
    case("cross-account: aws:PrincipalArn is the role, and role Prod does not match Dev*",
         GLOBAL_KEYS + "#condition-keys-principalarn", "IMPLICIT_DENY", action="sts:AssumeRole", resource=DEV_ROLE,
         principal=session("Prod", "ci", OTHER), resource_policy_kind="ROLE_TRUST",
         identity_policies=[policy(allow("sts:AssumeRole", DEV_ROLE))],
         resource_policy=policy({"Effect": "Allow", "Principal": {"AWS": OTHER}, "Action": "sts:AssumeRole",
                                 "Condition": {"ArnLike": {"aws:PrincipalArn": f"arn:aws:iam::{OTHER}:role/Dev*"}}})),
]

# --- KMS key policies ---------------------------------------------------------------------------------------

KEY = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
ENABLE_IAM = {"Sid": "Enable IAM User Permissions", "Effect": "Allow",
              "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "kms:*", "Resource": "*"}
KEY_FOR_ROLE = {"Sid": "Allow use of the key", "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:role/ExampleRole"},
                "Action": ["kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey*"], "Resource": "*"}


def kms(name: str, source: str, expect: str, key_policy: dict[str, Any], principal: dict[str, str],
        identity: list[dict[str, Any]] | None = None, action: str = "kms:Decrypt") -> dict[str, Any]:
    return case(name, source, expect, action=action, resource=KEY, principal=principal,
                identity_policies=identity or [], resource_policy=key_policy, resource_policy_kind="KMS_KEY")


KMS = [
    kms("default key policy enables IAM policies: an IAM allow works", KMS_DEFAULT + "#key-policy-default-allow-root-enable-iam",
        "ALLOW", policy(ENABLE_IAM), session("ExampleRole", "s"), [policy(allow("kms:Decrypt", KEY))]),
    kms("default key policy alone grants nothing to an IAM role", KMS_DEFAULT + "#key-policy-default-allow-root-enable-iam",
        "IMPLICIT_DENY", policy(ENABLE_IAM), session("ExampleRole", "s")),
    kms("without the enabling statement IAM policies have no effect", KMS_POLICIES, "IMPLICIT_DENY",
        policy(KEY_FOR_ROLE), session("OtherRole", "s"), [policy(allow("kms:Decrypt"))]),
    kms("a key policy naming the role grants it without an IAM policy", KMS_POLICIES, "ALLOW",
        policy(KEY_FOR_ROLE), session("ExampleRole", "s")),
    kms("an IAM policy can deny without permission from the key policy", KMS_POLICIES, "EXPLICIT_DENY",
        policy(KEY_FOR_ROLE), session("ExampleRole", "s"), [policy(deny("kms:Decrypt"))]),
    kms("cross-account: key policy names the external account and its IAM policy allows",
        KMS_CROSS, "ALLOW",
        policy({"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{OTHER}:root"}, "Action": "kms:Decrypt",
                "Resource": "*"}),
        session("Consumer", "s", OTHER), [policy(allow("kms:Decrypt", KEY))]),
    kms("cross-account: key policy names the external account but no IAM policy allows", KMS_CROSS, "IMPLICIT_DENY",
        policy({"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{OTHER}:root"}, "Action": "kms:Decrypt",
                "Resource": "*"}),
        session("Consumer", "s", OTHER)),
]

# --- Action, NotAction, Resource, NotResource ---------------------------------------------------------------

BUCKET_TEST = "arn:aws:s3:::amzn-s3-demo-bucket/*/test/*"
ELEMENTS = [
    case("action names are case-insensitive", ACTION, "ALLOW", action="iam:ListAccessKeys",
         resource="*", identity_policies=[policy(allow("IAM:listaccesskeys"))]),
    case("NotAction iam:* with Allow allows another service", NOTACTION, "ALLOW", action="s3vectors:QueryVectors",
         resource="arn:aws:s3vectors:us-east-1:123456789012:bucket/b/index/i",
         identity_policies=[policy({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"})]),
    case("NotAction iam:* with Allow does not allow IAM", NOTACTION, "IMPLICIT_DENY", action="iam:CreateUser",
         resource="*", identity_policies=[policy({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"})]),
    case("NotAction s3:DeleteBucket on arn:aws:s3:::* does not cover ListAllMyBuckets (needs \"*\")", NOTACTION,
         "IMPLICIT_DENY", action="s3:ListAllMyBuckets", resource="*",
         identity_policies=[policy({"Effect": "Allow", "NotAction": "s3:DeleteBucket", "Resource": "arn:aws:s3:::*"})]),
    case("NotAction with Deny: non-IAM actions denied without MFA (BoolIfExists, key absent)", NOTACTION,
         "EXPLICIT_DENY", action="s3:GetObject", resource="arn:aws:s3:::b/k",
         identity_policies=[policy(allow("*"), {"Sid": "DenyAllUsersNotUsingMFA", "Effect": "Deny", "NotAction": "iam:*",
                                                "Resource": "*",
                                                "Condition": {"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}}})]),
    case("NotAction with Deny: signed in with MFA, the deny does not apply", NOTACTION, "ALLOW",
         action="s3:GetObject", resource="arn:aws:s3:::b/k", context={"aws:MultiFactorAuthPresent": "true"},
         identity_policies=[policy(allow("*"), {"Effect": "Deny", "NotAction": "iam:*", "Resource": "*",
                                                "Condition": {"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}}})]),
    case("NotResource with Deny spares the Payroll folder", NOTRESOURCE, "ALLOW", action="s3:GetObject",
         resource="arn:aws:s3:::HRBucket/Payroll/march.csv",
         identity_policies=[policy(allow("s3:*"), {"Effect": "Deny", "Action": "s3:*", "NotResource": [
             "arn:aws:s3:::HRBucket/Payroll", "arn:aws:s3:::HRBucket/Payroll/*"]})]),
    case("NotResource with Deny denies every other S3 resource", NOTRESOURCE, "EXPLICIT_DENY", action="s3:GetObject",
         resource="arn:aws:s3:::HRBucket/Other/file",
         identity_policies=[policy(allow("s3:*"), {"Effect": "Deny", "Action": "s3:*", "NotResource": [
             "arn:aws:s3:::HRBucket/Payroll", "arn:aws:s3:::HRBucket/Payroll/*"]})]),
    case("resource wildcard spans slashes: bucket/*/test/* matches 1/2/3/test/4/object.jpg",
         RESOURCE + "#reference_policies_elements_resource_wildcards", "ALLOW", action="s3:GetObject",
         resource="arn:aws:s3:::amzn-s3-demo-bucket/1/2/3/test/4/object.jpg",
         identity_policies=[policy(allow("s3:GetObject", BUCKET_TEST))]),
    case("resource wildcard: bucket/*/test/* does not match 1/2/test.jpg",
         RESOURCE + "#reference_policies_elements_resource_wildcards", "IMPLICIT_DENY", action="s3:GetObject",
         resource="arn:aws:s3:::amzn-s3-demo-bucket/1/2/test.jpg",
         identity_policies=[policy(allow("s3:GetObject", BUCKET_TEST))]),
    case("resource wildcard: a * ending a segment expands beyond the colon boundaries",
         RESOURCE + "#reference_policies_elements_resource_wildcards", "ALLOW", action="logs:PutLogEvents",
         resource=f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:app:log-stream:s1",
         identity_policies=[policy(allow("logs:PutLogEvents", f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:app*"))]),
    case("resource wildcard: a * inside a segment stays within that segment",
         RESOURCE + "#reference_policies_elements_resource_wildcards", "IMPLICIT_DENY", action="logs:PutLogEvents",
         resource=f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:app:log-stream:s1",
         identity_policies=[policy(allow("logs:PutLogEvents", f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:app*s1"))]),
    case("resource: the IAM user name is case sensitive", RESOURCE, "IMPLICIT_DENY", action="iam:GetUser",
         resource=f"arn:aws:iam::{ACCOUNT}:user/bob",
         identity_policies=[policy(allow("iam:GetUser", f"arn:aws:iam::{ACCOUNT}:user/Bob"))]),
]

# --- Condition operators ------------------------------------------------------------------------------------

JOB = policy(allow("iam:*AccessKey*", f"arn:aws:iam::{ACCOUNT}:user/*",
                   Condition={"StringEquals": {"aws:PrincipalTag/job-category": "iamuser-admin"}}))
HOME = policy(allow("s3:ListBucket", "arn:aws:s3:::BUCKET-NAME",
                    Condition={"StringLike": {"s3:prefix": ["", "home/", "home/${aws:username}/"]}}))
MAX_KEYS = policy(allow("s3:ListBucket", "arn:aws:s3:::example_bucket",
                        Condition={"NumericLessThanEquals": {"s3:max-keys": "10"}}))
TOKEN = policy(allow("iam:*AccessKey*", "*", Condition={"DateGreaterThan": {"aws:TokenIssueTime": "2020-01-01T00:00:01Z"}}))
SECURE = policy(allow("s3:*"), {"Sid": "BooleanExample", "Effect": "Deny", "Action": "s3:*",
                                "Resource": ["arn:aws:s3:::DOC-EXAMPLE-BUCKET", "arn:aws:s3:::DOC-EXAMPLE-BUCKET/*"],
                                "Condition": {"Bool": {"aws:SecureTransport": "false"}}})
SOURCE_IP = policy(allow("someservice:*", Condition={"IpAddress": {"aws:SourceIp": ["203.0.113.0/24",
                                                                                     "2001:DB8:1234:5678::/64"]}}))
SOME_ARN = "arn:aws:someservice:*:111122223333:finance/*"
ODD_ARN = "arn:aws:someservice:us-east-2:999999999999:store/abc:111122223333:finance/document.txt"
INSTANCE_TYPES = policy(allow("ec2:RunInstances", Condition={"StringLikeIfExists": {"ec2:InstanceType": ["t1.*", "t2.*", "m3.*"]}}))


def operator_case(name: str, expect: str, document: dict[str, Any], action: str, context: dict[str, Any],
                  resource: str = "*", source: str = OPS) -> dict[str, Any]:
    return case(name, source, expect, action=action, resource=resource, context=context, identity_policies=[document])


CONDITIONS = [
    operator_case("StringEquals on a principal tag that matches", "ALLOW", JOB, "iam:CreateAccessKey",
                  {"aws:PrincipalTag/job-category": "iamuser-admin"}, f"arn:aws:iam::{ACCOUNT}:user/x",
                  OPS + "#Conditions_String"),
    operator_case("StringEquals: a user without the tag is implicitly denied", "IMPLICIT_DENY", JOB,
                  "iam:CreateAccessKey", {}, f"arn:aws:iam::{ACCOUNT}:user/x", OPS + "#Conditions_String"),
    operator_case("StringLike with ${aws:username}: own home prefix", "ALLOW", HOME, "s3:ListBucket",
                  {"aws:username": "David", "s3:prefix": "home/David/"}, "arn:aws:s3:::BUCKET-NAME",
                  OPS + "#Conditions_String"),
    operator_case("StringLike with ${aws:username}: someone else's home prefix", "IMPLICIT_DENY", HOME,
                  "s3:ListBucket", {"aws:username": "David", "s3:prefix": "home/Adele/"}, "arn:aws:s3:::BUCKET-NAME",
                  OPS + "#Conditions_String"),
    operator_case("NumericLessThanEquals: max-keys 10 is allowed", "ALLOW", MAX_KEYS, "s3:ListBucket",
                  {"s3:max-keys": "10"}, "arn:aws:s3:::example_bucket", OPS + "#Conditions_Numeric"),
    operator_case("NumericLessThanEquals: max-keys 11 is not", "IMPLICIT_DENY", MAX_KEYS, "s3:ListBucket",
                  {"s3:max-keys": "11"}, "arn:aws:s3:::example_bucket", OPS + "#Conditions_Numeric"),
    operator_case("DateGreaterThan: credentials issued after the date", "ALLOW", TOKEN, "iam:ListAccessKeys",
                  {"aws:TokenIssueTime": "2020-06-01T12:00:00Z"}, source=OPS + "#Conditions_Date"),
    operator_case("DateGreaterThan: access keys carry no aws:TokenIssueTime, so denied", "IMPLICIT_DENY", TOKEN,
                  "iam:ListAccessKeys", {}, source=OPS + "#Conditions_Date"),
    operator_case("Bool: deny over plain HTTP", "EXPLICIT_DENY", SECURE, "s3:GetObject",
                  {"aws:SecureTransport": "false"}, "arn:aws:s3:::DOC-EXAMPLE-BUCKET/k", OPS + "#Conditions_Boolean"),
    operator_case("Bool: TLS requests are not denied", "ALLOW", SECURE, "s3:GetObject",
                  {"aws:SecureTransport": True}, "arn:aws:s3:::DOC-EXAMPLE-BUCKET/k", OPS + "#Conditions_Boolean"),
    operator_case("BinaryEquals compares the bytes of the base-64 value", "ALLOW",
                  policy(allow("someservice:Do", Condition={"BinaryEquals": {"someservice:key": "QmluYXJ5VmFsdWVJbkJhc2U2NA=="}})),
                  "someservice:Do", {"someservice:key": "QmluYXJ5VmFsdWVJbkJhc2U2NA=="}, source=OPS + "#Conditions_BinaryEquals"),
    operator_case("IpAddress: inside 203.0.113.0/24", "ALLOW", SOURCE_IP, "someservice:Do",
                  {"aws:SourceIp": "203.0.113.77"}, source=OPS + "#Conditions_IPAddress"),
    operator_case("IpAddress: an IPv6 address inside 2001:DB8:1234:5678::/64", "ALLOW", SOURCE_IP, "someservice:Do",
                  {"aws:SourceIp": "2001:db8:1234:5678::10"}, source=OPS + "#Conditions_IPAddress"),
    operator_case("IpAddress: via a VPC endpoint aws:SourceIp is absent and the condition is false",
                  "IMPLICIT_DENY", SOURCE_IP, "someservice:Do", {}, source=OPS + "#Conditions_IPAddress"),
    operator_case("StringLike lets * cross ARN colons", "ALLOW",
                  policy(allow("someservice:Do", Condition={"StringLike": {"aws:SourceArn": SOME_ARN}})),
                  "someservice:Do", {"aws:SourceArn": ODD_ARN}, source=OPS + "#Conditions_ARN"),
    operator_case("ArnLike matches component by component, so the same value fails", "IMPLICIT_DENY",
                  policy(allow("someservice:Do", Condition={"ArnLike": {"aws:SourceArn": SOME_ARN}})),
                  "someservice:Do", {"aws:SourceArn": ODD_ARN}, source=OPS + "#Conditions_ARN"),
    operator_case("ArnEquals: called directly, aws:SourceArn is absent and the condition is false", "IMPLICIT_DENY",
                  policy(allow("sqs:SendMessage", Condition={"ArnEquals": {"aws:SourceArn": "arn:aws:sns:us-east-2:123456789012:topic"}})),
                  "sqs:SendMessage", {}, source=OPS + "#Conditions_ARN"),
    operator_case("ArnEquals accepts wildcards like ArnLike", "ALLOW",
                  policy(allow("sqs:SendMessage", Condition={"ArnEquals": {"aws:SourceArn": "arn:aws:sns:*:123456789012:topic-?"}})),
                  "sqs:SendMessage", {"aws:SourceArn": "arn:aws:sns:us-east-2:123456789012:topic-a"},
                  source=OPS + "#Conditions_ARN"),
    operator_case("StringLikeIfExists: a resource without ec2:InstanceType passes", "ALLOW", INSTANCE_TYPES,
                  "ec2:RunInstances", {}, "arn:aws:ec2:us-east-1::image/ami-1", OPS + "#Conditions_IfExists"),
    operator_case("StringLikeIfExists: a present key is still checked", "IMPLICIT_DENY", INSTANCE_TYPES,
                  "ec2:RunInstances", {"ec2:InstanceType": "m5.large"}, source=OPS + "#Conditions_IfExists"),
    operator_case("Deny with StringNotEqualsIfExists still denies when the tag is missing", "EXPLICIT_DENY",
                  policy(allow("*"), deny("*", Condition={"StringNotEqualsIfExists": {"aws:PrincipalTag/dept": "eng"}})),
                  "s3:GetObject", {}, source=OPS + "#Conditions_IfExists"),
    operator_case("Null true: the key must be absent (long-term credentials)", "ALLOW",
                  policy(allow("ec2:*", Condition={"Null": {"aws:TokenIssueTime": "true"}})), "ec2:DescribeVpcs", {},
                  source=OPS + "#Conditions_Null"),
    operator_case("Null true: temporary credentials carry the key, so no match", "IMPLICIT_DENY",
                  policy(allow("ec2:*", Condition={"Null": {"aws:TokenIssueTime": "true"}})), "ec2:DescribeVpcs",
                  {"aws:TokenIssueTime": "2024-01-01T00:00:00Z"}, source=OPS + "#Conditions_Null"),
    operator_case("StringNotLike with the key absent is true", "ALLOW",
                  policy(allow("s3:GetObject", Condition={"StringNotLike": {"s3:prefix": "private/*"}})),
                  "s3:GetObject", {}, source=OPS + "#reference_policies_elements_condition_operators"),
    operator_case("ArnNotLike with the key absent is true", "ALLOW",
                  policy(allow("sqs:SendMessage", Condition={"ArnNotLike": {"aws:SourceArn": "arn:aws:sns:*:*:*"}})),
                  "sqs:SendMessage", {}, source=OPS + "#reference_policies_elements_condition_operators"),
    operator_case("key names are case-insensitive (AWS:currenttime)", "ALLOW",
                  policy(allow("s3:GetObject", Condition={"DateLessThan": {"AWS:currenttime": "2099-01-01T00:00:00Z"}})),
                  "s3:GetObject", {"aws:CurrentTime": "2026-11-02T10:00:00Z"}, source=VARS + "#policy-vars-using-variables"),
    operator_case("several values for one key are ORed", "ALLOW",
                  policy(allow("s3:GetObject", Condition={"StringEquals": {"aws:PrincipalTag/department": ["finance", "hr", "legal"]}})),
                  "s3:GetObject", {"aws:PrincipalTag/department": "hr"}, source=LOGIC + "#reference_policies_multiple-conditions-eval"),
    operator_case("several keys under one operator are ANDed", "IMPLICIT_DENY",
                  policy(allow("s3:GetObject", Condition={"StringEquals": {"aws:PrincipalTag/department": "hr",
                                                                           "aws:PrincipalTag/role": "audit"}})),
                  "s3:GetObject", {"aws:PrincipalTag/department": "hr", "aws:PrincipalTag/role": "dev"},
                  source=LOGIC + "#reference_policies_multiple-conditions-eval"),
    operator_case("several operators are ANDed", "IMPLICIT_DENY",
                  policy(allow("s3:GetObject", Condition={"StringEquals": {"aws:PrincipalTag/department": "hr"},
                                                          "ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/Audit*"}})),
                  "s3:GetObject", {"aws:PrincipalTag/department": "hr", "aws:PrincipalArn": f"arn:aws:iam::{ACCOUNT}:role/Dev"},
                  source=LOGIC + "#reference_policies_multiple-conditions-eval"),
    operator_case("a negated operator NORs its values: hr is listed, so no deny", "ALLOW",
                  policy(allow("*"), deny("*", Condition={"StringNotEquals": {"aws:PrincipalTag/department": ["finance", "hr"]}})),
                  "s3:GetObject", {"aws:PrincipalTag/department": "hr"}, source=LOGIC + "#reference_policies_multiple-conditions-eval"),
    operator_case("a negated operator NORs its values: legal is in neither, so denied", "EXPLICIT_DENY",
                  policy(allow("*"), deny("*", Condition={"StringNotEquals": {"aws:PrincipalTag/department": ["finance", "hr"]}})),
                  "s3:GetObject", {"aws:PrincipalTag/department": "legal"}, source=LOGIC + "#reference_policies_multiple-conditions-eval"),
    operator_case("StringEqualsIgnoreCase ignores case", "ALLOW",
                  policy(allow("s3:GetObject", Condition={"StringEqualsIgnoreCase": {"aws:PrincipalTag/team": "Blue"}})),
                  "s3:GetObject", {"aws:PrincipalTag/team": "BLUE"}, source=OPS + "#Conditions_String"),
    operator_case("StringEquals is case sensitive", "IMPLICIT_DENY",
                  policy(allow("s3:GetObject", Condition={"StringEquals": {"aws:PrincipalTag/team": "Blue"}})),
                  "s3:GetObject", {"aws:PrincipalTag/team": "BLUE"}, source=OPS + "#Conditions_String"),
]

# --- Multivalued context keys -------------------------------------------------------------------------------

DENY_NOT_KEY1 = policy(allow("*"), {"Sid": "DenyRestrictedTags", "Effect": "Deny", "Action": ["iam:Tag*", "iam:UnTag*"],
                                    "Resource": ["*"], "Condition": {"ForAllValues:StringNotLike": {"aws:TagKeys": "key1*"}}})
DENY_SNAPSHOT_TAGS = policy(allow("*"), {"Effect": "Deny", "Action": "ec2:CreateSnapshot", "Resource": "*",
                                         "Condition": {"ForAnyValue:StringEquals": {"aws:TagKeys": ["environment", "webserver"]}}})
DENY_WITH_NULL = policy(allow("*"), {"Effect": "Deny", "Action": ["iam:Tag*", "iam:UnTag*"], "Resource": ["*"],
                                     "Condition": {"Null": {"aws:TagKeys": "false"},
                                                   "ForAllValues:StringLike": {"aws:TagKeys": ["key1*", "key2*", "key3*"]}}})
ALLOW_ONLY = policy(allow("iam:TagUser", Condition={"ForAllValues:StringEquals": {"aws:TagKeys": ["DataClass", "Owner"]}}))


def multi_case(name: str, expect: str, document: dict[str, Any], action: str, tag_keys: Any,
               source: str = MULTI_EX) -> dict[str, Any]:
    context = {} if tag_keys is None else {"aws:TagKeys": tag_keys}
    return case(name, source, expect, action=action, resource="*", context=context, identity_policies=[document])


MULTIVALUED = [
    multi_case("ForAllValues:StringNotLike key1*: key1:legal only, no match", "ALLOW", DENY_NOT_KEY1, "iam:TagUser",
               ["key1:legal"]),
    multi_case("ForAllValues:StringNotLike key1*: key1:hr and key1:personnel, no match", "ALLOW", DENY_NOT_KEY1,
               "iam:TagUser", ["key1:hr", "key1:personnel"]),
    multi_case("ForAllValues:StringNotLike key1*: key2:audit matches, denied", "EXPLICIT_DENY", DENY_NOT_KEY1,
               "iam:TagUser", ["key2:audit"]),
    multi_case("ForAllValues with aws:TagKeys absent from the request matches, denied", "EXPLICIT_DENY", DENY_NOT_KEY1,
               "iam:TagUser", None),
    multi_case("ForAllValues with an empty-string dataset is true", "EXPLICIT_DENY", DENY_NOT_KEY1, "iam:TagUser", ""),
    multi_case("Null false guards ForAllValues: no aws:TagKeys, no deny", "ALLOW", DENY_WITH_NULL, "iam:TagUser", None),
    multi_case("Null false and ForAllValues:StringLike: key2-x matches, denied", "EXPLICIT_DENY", DENY_WITH_NULL,
               "iam:TagUser", ["key2-x"]),
    multi_case("ForAnyValue: one requested tag key is listed, denied", "EXPLICIT_DENY", DENY_SNAPSHOT_TAGS,
               "ec2:CreateSnapshot", ["environment", "costcenter"]),
    multi_case("ForAnyValue: no requested tag key is listed, not denied", "ALLOW", DENY_SNAPSHOT_TAGS,
               "ec2:CreateSnapshot", ["costcenter"]),
    multi_case("ForAnyValue with aws:TagKeys absent is false, not denied", "ALLOW", DENY_SNAPSHOT_TAGS,
               "ec2:CreateSnapshot", None, MULTI + "#reference_policies_condition-multi-valued-context-keys"),
    multi_case("ForAllValues:StringEquals: every requested key is allowed", "ALLOW", ALLOW_ONLY, "iam:TagUser",
               ["DataClass", "Owner"], MULTI + "#reference_policies_condition-multi-valued-context-keys"),
    multi_case("ForAllValues:StringEquals: one requested key is not allowed", "IMPLICIT_DENY", ALLOW_ONLY, "iam:TagUser",
               ["DataClass", "Dept"], MULTI + "#reference_policies_condition-multi-valued-context-keys"),
]

# --- Policy variables ---------------------------------------------------------------------------------------

TEAM_PREFIX = policy(allow(["s3:GetObject", "s3:PutObject"], "arn:aws:s3:::amzn-s3-demo-bucket/${aws:PrincipalTag/team}/*"))
TEAM_DEFAULT = policy(allow("s3:*", "arn:aws:s3:::amzn-s3-demo-bucket-${aws:PrincipalTag/team, 'company-wide'}"))
TEAM_DENY = policy(allow("s3:GetObject"), deny("s3:GetObject", "arn:aws:s3:::amzn-s3-demo-bucket/*", Condition={
    "StringNotEquals": {"s3:ExistingObjectTag/Team": "${aws:PrincipalTag/Team}"}}))


def variable_case(name: str, expect: str, document: dict[str, Any], resource: str, context: dict[str, Any],
                  anchor: str, action: str = "s3:GetObject") -> dict[str, Any]:
    return case(name, VARS + anchor, expect, action=action, resource=resource, context=context,
                identity_policies=[document])


VARIABLES = [
    variable_case("${aws:PrincipalTag/team} in Resource: the team's prefix", "ALLOW", TEAM_PREFIX,
                  "arn:aws:s3:::amzn-s3-demo-bucket/yellow/plan.txt", {"aws:PrincipalTag/team": "yellow"},
                  "#policy-vars-using-variables"),
    variable_case("${aws:PrincipalTag/team} in Resource: another team's prefix", "IMPLICIT_DENY", TEAM_PREFIX,
                  "arn:aws:s3:::amzn-s3-demo-bucket/blue/plan.txt", {"aws:PrincipalTag/team": "yellow"},
                  "#policy-vars-using-variables"),
    variable_case("a Resource whose variable has no value matches no resource", "IMPLICIT_DENY", TEAM_PREFIX,
                  "arn:aws:s3:::amzn-s3-demo-bucket//plan.txt", {}, "#policy-vars-no-value"),
    variable_case("default value: untagged users get the company-wide bucket", "ALLOW", TEAM_DEFAULT,
                  "arn:aws:s3:::amzn-s3-demo-bucket-company-wide", {}, "#policy-vars-default-values"),
    variable_case("default value: a tagged user gets the team bucket, not the default", "IMPLICIT_DENY", TEAM_DEFAULT,
                  "arn:aws:s3:::amzn-s3-demo-bucket-company-wide", {"aws:PrincipalTag/team": "yellow"},
                  "#policy-vars-default-values"),
    variable_case("StringNotEquals against a variable with no value matches: explicitly denied", "EXPLICIT_DENY",
                  TEAM_DENY, "arn:aws:s3:::amzn-s3-demo-bucket/doc", {"s3:ExistingObjectTag/Team": "red"},
                  "#policy-vars-no-value"),
    variable_case("StringNotEquals against the principal's own team tag does not deny", "ALLOW", TEAM_DENY,
                  "arn:aws:s3:::amzn-s3-demo-bucket/doc",
                  {"s3:ExistingObjectTag/Team": "red", "aws:PrincipalTag/Team": "red"}, "#policy-vars-no-value"),
    variable_case("without Version 2012-10-17 a variable is literal text", "IMPLICIT_DENY",
                  policy(allow("s3:GetObject", "arn:aws:s3:::mybucket/${aws:username}/*"), version=None),
                  "arn:aws:s3:::mybucket/David/file", {"aws:username": "David"}, "#policy-vars-using-variables"),
    variable_case("${*} stands for a literal asterisk, not a wildcard", "IMPLICIT_DENY",
                  policy(allow("s3:GetObject", "arn:aws:s3:::mybucket/star${*}file")),
                  "arn:aws:s3:::mybucket/starXfile", {}, "#policy-vars-specialchars"),
    variable_case("${*} matches a literal asterisk", "ALLOW",
                  policy(allow("s3:GetObject", "arn:aws:s3:::mybucket/star${*}file")),
                  "arn:aws:s3:::mybucket/star*file", {}, "#policy-vars-specialchars"),
    variable_case("a multivalued key cannot be a variable", "IMPLICIT_DENY",
                  policy(allow("s3:GetObject", Condition={"StringEquals": {"s3:prefix": "${aws:TagKeys}"}})),
                  "arn:aws:s3:::b/k", {"aws:TagKeys": ["a", "b"], "s3:prefix": "a"}, "#policy-vars-using-variables"),
    variable_case("${aws:SourceIdentity} in a condition value", "ALLOW",
                  policy(allow("s3:GetObject", Condition={"StringEquals": {"aws:ResourceTag/owner": "${aws:SourceIdentity}"}})),
                  "arn:aws:s3:::b/k", {"aws:SourceIdentity": "DevUser", "aws:ResourceTag/owner": "DevUser"},
                  "#policy-vars-conditionelement"),
    variable_case("${aws:PrincipalAccount} in a condition value", "IMPLICIT_DENY",
                  policy(allow("s3:GetObject", Condition={"StringEquals": {"aws:ResourceAccount": "${aws:PrincipalAccount}"}})),
                  "arn:aws:s3:::b/k", {"aws:PrincipalAccount": ACCOUNT, "aws:ResourceAccount": OTHER},
                  "#policy-vars-conditionelement"),
]

CASES: list[dict[str, Any]] = (
    EVALUATION + CROSS_ACCOUNT + TRUST + KMS + ELEMENTS + CONDITIONS + MULTIVALUED + VARIABLES
)
