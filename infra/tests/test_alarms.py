"""The platform's alarms (issue 15), read from the templates.

Run by `make infra-lint` (`python -m unittest discover -s infra/tests`). It fails when:
  - a function (AWS::Serverless::Function or AWS::Lambda::Function, in any template) has no
    Errors alarm (AWS/Lambda Errors with FunctionName = the function, alone or inside a
    metric-math alarm) that notifies someone;
  - an alarm (AWS::CloudWatch::Alarm or CompositeAlarm, in any template) has no AlarmActions,
    a conditional one, ActionsEnabled false, or an action other than the AlarmTopicArn topic;
  - AlarmTopicArn can be left empty (a Default, no SNS ARN pattern), or a condition tests it;
  - one of the alarms that matter is missing: the HTTP API's 5xx rate (5xx over Count),
    throttled reads and writes on the table and on each of its indexes, FAILED workspaces
    (state-sync) and revocation failures (data-access);
  - an alarm on Atelier's own metrics (namespace Atelier, dimension Function) watches a metric
    that no function prints (`metric_line("<function>", "<metric>", …)` in functions/ and
    shared/, read as text), except the ones listed in PENDING_EMISSION.
"""

from __future__ import annotations

import re
import unittest
from pathlib import Path
from typing import Any, Iterator

from cfn import load, resources

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"
TEMPLATE = INFRA / "template.yaml"
ALL_TEMPLATES = sorted(INFRA.glob("*.yaml")) + sorted((INFRA / "products").glob("*.yaml"))
FUNCTION_TYPES = ("AWS::Serverless::Function", "AWS::Lambda::Function")
ALARM_TYPES = ("AWS::CloudWatch::Alarm", "AWS::CloudWatch::CompositeAlarm")
TOPIC = {"Ref": "AlarmTopicArn"}
# Alarms whose metric the Rust side has yet to print. Remove an entry once the function
# prints it: the test then fails, so that the list cannot go stale.
PENDING_EMISSION: set[tuple[str, str]] = set()


def metric_stats(alarm: dict) -> Iterator[tuple[str, str, list]]:
    """(namespace, metric name, dimensions) of every metric an alarm reads."""
    if "MetricName" in alarm:
        yield str(alarm.get("Namespace")), str(alarm["MetricName"]), list(alarm.get("Dimensions") or [])
    for query in alarm.get("Metrics") or []:
        metric = (query.get("MetricStat") or {}).get("Metric")
        if metric:
            yield str(metric.get("Namespace")), str(metric.get("MetricName")), list(metric.get("Dimensions") or [])


def dimension(dimensions: list, name: str) -> Any:
    return next((d["Value"] for d in dimensions if d.get("Name") == name), None)


def alarms(path: Path) -> dict[str, dict]:
    out = {}
    for kind in ALARM_TYPES:
        out |= {k: v["Properties"] for k, v in resources(path, kind).items()}
    return out


def emitted_metrics() -> set[tuple[str, str]]:
    """(Function, metric) of every metric_line call in the Rust sources."""
    found = set()
    for source in sorted(list((ROOT / "functions").rglob("*.rs")) + list((ROOT / "shared").rglob("*.rs"))):
        text = source.read_text(encoding="utf-8")
        found |= set(re.findall(r"\bmetric_line\(\s*\"([\w-]+)\"\s*,\s*\"(\w+)\"", text))
    return found


class AlarmsTest(unittest.TestCase):
    maxDiff = None

    def test_every_function_has_an_errors_alarm_that_notifies(self) -> None:
        problems = []
        count = 0
        for path in ALL_TEMPLATES:
            found = alarms(path)
            for kind in FUNCTION_TYPES:
                for function in resources(path, kind):
                    count += 1
                    errors = [
                        name for name, alarm in found.items()
                        if any(ns == "AWS/Lambda" and metric == "Errors" and dimension(dims, "FunctionName") == {"Ref": function}
                               for ns, metric, dims in metric_stats(alarm))
                    ]
                    if not errors:
                        problems.append(f"{path.name}: {function} has no Errors alarm")
                    elif not any(found[name].get("AlarmActions") for name in errors):
                        problems.append(f"{path.name}: {function}'s Errors alarm notifies nobody ({errors})")
        self.assertGreaterEqual(count, 6, "the six functions are found")
        self.assertEqual(problems, [])

    def test_every_alarm_notifies_the_alarm_topic(self) -> None:
        problems = []
        for path in ALL_TEMPLATES:
            for name, alarm in alarms(path).items():
                actions = alarm.get("AlarmActions")
                if not isinstance(actions, list) or not actions:
                    problems.append(f"{path.name}: {name} has no AlarmActions (or a conditional one: {actions})")
                elif any(action != TOPIC for action in actions):
                    problems.append(f"{path.name}: {name} notifies {actions}, not the AlarmTopicArn topic")
                if alarm.get("ActionsEnabled") is False or alarm.get("ActionsEnabled") == "false":
                    problems.append(f"{path.name}: {name} has its actions disabled")
                if isinstance(actions, list) and TOPIC in actions and "AlarmTopicArn" not in (load(path).get("Parameters") or {}):
                    problems.append(f"{path.name}: {name} names AlarmTopicArn, which is not a parameter here")
        self.assertEqual(problems, [])

    def test_the_alarm_topic_is_required(self) -> None:
        doc = load(TEMPLATE)
        topic = doc["Parameters"]["AlarmTopicArn"]
        self.assertNotIn("Default", topic, "an empty topic would silence every alarm")
        self.assertTrue(str(topic.get("AllowedPattern", "")).startswith("^arn:aws"), "AlarmTopicArn is an SNS topic ARN")
        self.assertIn(":sns:", topic["AllowedPattern"])
        for condition, body in (doc.get("Conditions") or {}).items():
            self.assertNotIn("AlarmTopicArn", str(body), f"condition {condition} tests the alarm topic")

    def test_the_api_5xx_rate_has_an_alarm(self) -> None:
        found = []
        for name, alarm in alarms(TEMPLATE).items():
            queries = {q["Id"]: q for q in alarm.get("Metrics") or []}
            stats = {
                q["MetricStat"]["Metric"]["MetricName"]: q_id for q_id, q in queries.items()
                if "MetricStat" in q and q["MetricStat"]["Metric"].get("Namespace") == "AWS/ApiGateway"
                and dimension(q["MetricStat"]["Metric"].get("Dimensions") or [], "ApiId") == {"Ref": "HttpApi"}
            }
            if {"5xx", "Count"} <= set(stats):
                returned = [q for q in queries.values() if q.get("ReturnData") is True or q.get("ReturnData") == "true"]
                self.assertEqual(len(returned), 1, f"{name}: one expression is the alarm's value")
                expression = str(returned[0].get("Expression", ""))
                # A rate: the errors divided by the requests.
                self.assertRegex(expression, rf"\b{stats['5xx']}\b.*/\s*{stats['Count']}\b", name)
                found.append(name)
        self.assertEqual(len(found), 1, "one alarm on the HTTP API's 5xx rate (5xx / Count, ApiId)")

    def test_throttling_on_the_table_and_every_index_has_an_alarm(self) -> None:
        table_id, table = next((k, v) for k, v in load(TEMPLATE)["Resources"].items() if v.get("Type") == "AWS::DynamoDB::Table")
        indexes = [None] + [gsi["IndexName"] for gsi in table["Properties"].get("GlobalSecondaryIndexes") or []]
        watched = set()
        for alarm in alarms(TEMPLATE).values():
            if not alarm.get("AlarmActions"):
                continue
            for namespace, metric, dims in metric_stats(alarm):
                if namespace == "AWS/DynamoDB" and dimension(dims, "TableName") == {"Ref": table_id}:
                    watched.add((metric, dimension(dims, "GlobalSecondaryIndexName")))
            # A metric-math alarm must add every throttle metric it reads.
            expressions = [q for q in alarm.get("Metrics") or [] if "Expression" in q]
            ids = [q["Id"] for q in alarm.get("Metrics") or [] if "MetricStat" in q]
            for q in expressions:
                for q_id in ids:
                    self.assertRegex(str(q["Expression"]), rf"\b{q_id}\b", f"{q_id} is read but not in {q['Expression']}")
        for index in indexes:
            for metric in ("ReadThrottleEvents", "WriteThrottleEvents"):
                self.assertIn((metric, index), watched, f"no alarm on {metric} of {index or 'the table'}")

    def test_failed_workspaces_and_revocation_failures_have_alarms(self) -> None:
        found = {}
        for name, alarm in alarms(TEMPLATE).items():
            for namespace, metric, dims in metric_stats(alarm):
                if namespace == "Atelier":
                    found[(dimension(dims, "Function"), metric)] = alarm
        for key in (("state-sync", "FailedWorkspaces"), ("data-access", "RevocationFailures")):
            self.assertIn(key, found, f"no alarm on {key[1]} of {key[0]}")
            alarm = found[key]
            self.assertEqual(alarm["Dimensions"], [{"Name": "Function", "Value": key[0]}], key)
            self.assertEqual((alarm["Statistic"], alarm["Threshold"], alarm["ComparisonOperator"], alarm["TreatMissingData"]),
                             ("Sum", 1, "GreaterThanOrEqualToThreshold", "notBreaching"), f"{key}: any one in a period")

    def test_every_atelier_metric_alarmed_on_is_emitted(self) -> None:
        emitted = emitted_metrics()
        self.assertIn(("data-access", "RevocationFailures"), emitted, "the reader finds the metric lines")
        problems = []
        for name, alarm in alarms(TEMPLATE).items():
            for namespace, metric, dims in metric_stats(alarm):
                if namespace != "Atelier":
                    continue
                key = (str(dimension(dims, "Function")), metric)
                if key in PENDING_EMISSION:
                    if key in emitted:
                        problems.append(f"{key} is emitted now: remove it from PENDING_EMISSION in infra/tests/test_alarms.py")
                elif key not in emitted:
                    problems.append(f"{name} watches {metric} of {key[0]}, which no metric_line call prints")
        self.assertEqual(problems, [])


if __name__ == "__main__":
    unittest.main()
