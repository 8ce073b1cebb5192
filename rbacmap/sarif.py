"""SARIF 2.1.0 output for code-scanning dashboards: one rule per finding type, logical locations."""

from __future__ import annotations

from typing import Any

from rbacmap import __version__
from rbacmap.offboard_report import FINDING_TYPES, PersonReport

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
SARIF_VERSION = "2.1.0"


def offboard_sarif(reports: list[PersonReport]) -> dict[str, Any]:
    """A SARIF log with one run: every finding of every person in every cluster."""
    rule_ids = list(FINDING_TYPES)
    rules = [
        {
            "id": rule_id,
            "name": "".join(part.capitalize() for part in rule_id.split("-")),
            "shortDescription": {"text": text},
            "fullDescription": {"text": text},
            "defaultConfiguration": {"level": "note" if rule_id == "last-seen" else "error"},
        }
        for rule_id, text in FINDING_TYPES.items()
    ]
    results = []
    for report in reports:
        for cluster in report.clusters:
            for finding in cluster.findings:
                result: dict[str, Any] = {
                    "ruleId": finding.type,
                    "ruleIndex": rule_ids.index(finding.type),
                    "level": "error" if finding.remains else "note",
                    "message": {"text": f"{report.person.label}: {finding.message}"},
                    "properties": {
                        "person": report.person.label,
                        "cluster": cluster.cluster,
                        "snapshot": cluster.snapshot_id,
                        "remains": finding.remains,
                        "remediation": finding.remediation,
                        "provenance": finding.provenance,
                    },
                }
                logical = {"name": cluster.cluster, "kind": "module"}
                locations = [logical]
                if finding.location is not None:
                    locations.insert(0, {
                        "name": finding.location.name,
                        "fullyQualifiedName": f"{cluster.cluster}/{finding.location.logical_name()}",
                        "kind": "resource",
                    })
                result["locations"] = [{"logicalLocations": locations}]
                result["partialFingerprints"] = {
                    "offboard/v1": "|".join(
                        [report.person.label, cluster.cluster, finding.type,
                         finding.location.logical_name() if finding.location else ""]
                    )
                }
                results.append(result)
    return {
        "$schema": SARIF_SCHEMA,
        "version": SARIF_VERSION,
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "rbacmap",
                        "version": __version__,
                        "informationUri": "https://github.com/rbacmap/rbacmap",
                        "rules": rules,
                    }
                },
                "results": results,
            }
        ],
    }
