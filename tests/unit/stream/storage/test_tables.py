from __future__ import annotations

from stream.storage.tables import TEMPLATE_PATH, cloudformation_template, template_json


def test_deploy_template_matches_the_python_definitions() -> None:
    assert TEMPLATE_PATH.read_text() == template_json(), (
        "deploy/dynamodb/tables.json is stale: run python -m stream.storage.tables"
    )


def test_template_is_on_demand_with_ttl() -> None:
    resources = cloudformation_template()["Resources"]
    for res in resources.values():
        assert res["Properties"]["BillingMode"] == "PAY_PER_REQUEST"
    assert resources["ScoresTable"]["Properties"]["TimeToLiveSpecification"]["Enabled"]
    names = {
        i["IndexName"] for i in resources["AlertsTable"]["Properties"]["GlobalSecondaryIndexes"]
    }
    assert names == {"by-series", "by-time"}
