"""The packaged stack's functions: one per handler group on the one layer and code zip, each with its entry
module, memory, optional reserved concurrency and its own role, and each path sent to its group's function."""

from __future__ import annotations

from infra import package as pkg

pytest_plugins = ["tests.helpers_deploy"]  # the `built` stacks

GROUPS = ("enroll", "confirm", "verify", "delete", "policy", "settings")


def _functions(template: dict) -> dict[str, dict]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == "AWS::Serverless::Function"}


def test_one_function_per_handler_group_on_one_layer_and_one_zip(built):
    template = built.template()
    functions = _functions(template)
    assert sorted(functions) == sorted(f"{g.capitalize()}Function" for g in GROUPS)
    assert "APIHandler" not in template["Resources"]
    for group in GROUPS:
        props = functions[f"{group.capitalize()}Function"]["Properties"]
        assert props["Handler"] == f"functions.entry.{group}.app"
        assert props["Runtime"] == "python3.13"
        assert props["CodeUri"] == "./deployment.zip" and props["Layers"] == [{"Ref": "MfaCoreLayer"}]
        assert props["MemorySize"] == pkg.MEMORY_MB[group]
        assert props["LoggingConfig"]["LogGroup"] == {"Ref": "ApiHandlerLogGroup"}
    environments = {str(f["Properties"]["Environment"]) for f in functions.values()}
    assert len(environments) == 1  # the same settings everywhere


def test_reserved_concurrency_is_a_parameter_per_function_and_off_by_default(built):
    template = built.template()
    for group in GROUPS:
        name = f"{group.capitalize()}ReservedConcurrency"
        assert template["Parameters"][name]["Default"] == -1
        reserved = _functions(template)[f"{group.capitalize()}Function"]["Properties"]["ReservedConcurrentExecutions"]
        assert reserved == {"Fn::If": [f"{name}Set", {"Ref": name}, {"Ref": "AWS::NoValue"}]}
        assert template["Conditions"][f"{name}Set"] == {"Fn::Not": [{"Fn::Equals": [{"Ref": name}, -1]}]}


def test_each_function_has_its_own_role_with_exactly_its_grants(built):
    resources = built.template()["Resources"]
    roles = {k for k, v in resources.items() if v["Type"] == "AWS::IAM::Role"}
    assert roles == {f"{g.capitalize()}Role" for g in GROUPS}
    for group in GROUPS:
        function = resources[f"{group.capitalize()}Function"]["Properties"]
        role_name = function["Role"]["Fn::GetAtt"][0]
        role = resources[role_name]["Properties"]
        assert [p["PolicyDocument"] for p in role["Policies"]] == [pkg.role_policy(group)]
        assert "ManagedPolicyArns" not in role
        principal = role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]
        assert principal == {"Service": "lambda.amazonaws.com"}
        permission = resources[f"{group.capitalize()}FunctionInvokePermission"]["Properties"]
        assert permission["FunctionName"] == {"Ref": f"{group.capitalize()}Function"}
        assert permission["Principal"] == "apigateway.amazonaws.com"


def test_each_path_goes_to_the_function_of_its_group(built):
    paths = built.template()["Resources"]["RestAPI"]["Properties"]["DefinitionBody"]["paths"]

    def function_of(path: str, method: str) -> str:
        uri = paths[path][method]["x-amazon-apigateway-integration"]["uri"]["Fn::Sub"]
        return uri.split("/functions/${")[1].split(".Arn}")[0]

    expected = {
        ("/v1/logon/verify", "post"): "VerifyFunction",
        ("/v1/logon", "post"): "VerifyFunction",
        ("/v1/authenticator/enroll", "post"): "EnrollFunction",
        ("/v1/phone", "post"): "EnrollFunction",
        ("/v1/authenticator/confirm", "post"): "ConfirmFunction",
        ("/v1/authenticator", "delete"): "DeleteFunction",
        ("/v1/phone", "delete"): "DeleteFunction",
        ("/v1/policy", "put"): "PolicyFunction",
        ("/v1/admin/users/{user}/reset", "post"): "PolicyFunction",
        ("/v1/health", "get"): "SettingsFunction",
        ("/v1/app-passwords/check", "post"): "SettingsFunction",
        # A path two groups share: its preflight and wrong methods go to the first group's function.
        ("/v1/phone", "x-amazon-apigateway-any-method"): "EnrollFunction",
    }
    for (path, method), function in expected.items():
        assert function_of(path, method) == function, (path, method)
    functions = set(_functions(built.template()))
    for path, methods in paths.items():
        for method, operation in methods.items():
            if isinstance(operation, dict) and "x-amazon-apigateway-integration" in operation:
                assert function_of(path, method) in functions, (path, method)
