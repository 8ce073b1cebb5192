#!/bin/sh
# The main job on the bundled demo cluster: import it, summarise it, answer real questions.
# Usage: sh scripts/demo.sh PATH/TO/rbacmap   (RBACMAP_DB names the database)
set -eu
rbacmap=${1:-rbacmap}
step() { printf '\n\033[1m$ rbacmap %s\033[0m\n' "$*"; }
# `can` exits 1 for "no": that is an answer, not a failure of the demo.
ask() { step "$@"; "$rbacmap" "$@" || [ $? -eq 1 ]; }

step import files fixtures/demo --cluster demo
"$rbacmap" import files fixtures/demo --cluster demo
step snapshots
"$rbacmap" snapshots

printf '\n# Who can read the payments secrets? (aggregated edit, the CI deployer, cluster admins)\n'
ask who-can get secrets -n payments
printf '\n# Dana is on call with view: no secrets ... unless her IdP puts her in payments-devs.\n'
ask can dana@example.com get secrets -n payments
ask can dana@example.com get secrets -n payments --group payments-devs
printf '\n# The CI deployer can create ClusterRoleBindings and bind any ClusterRole: cluster-admin in two steps.\n'
ask can system:serviceaccount:ci:deployer create clusterrolebindings
ask can sa:ci/deployer bind clusterroles cluster-admin
printf '\n# Every ci service account can exec into web pods (a Group binding on system:serviceaccounts:ci).\n'
ask who-can create pods/exec -A
printf '\n# Frank is bound to a Role that does not exist (yet): dangling.\n'
ask can frank@example.com get pods -n web

printf '\n# Escalation paths: every subject, shortest proof to cluster-admin, secrets or exec.\n'
ask paths
ask paths --subject sa:ci/deployer --target cluster-admin --explain
printf '\n# Risks that are not (yet) a full path.\n'
ask risks

printf '\n# Two weeks of audit logs: what was really used, and the CI role cut down to it.\n'
ask import audit fixtures/demo-audit/audit.jsonl --cluster demo
ask usage --user system:serviceaccount:ci:deployer
ask trim --role ci-deployer -o diff

printf '\n# Erin left the company: what can she still do, and what do we delete? (exit 1: access remains)\n'
ask offboard erin@example.com --export-fix "${TMPDIR:-/tmp}/rbacmap-demo-offboard-erin.yaml"
printf '\nThe fix to review and apply was written to %s\n' "${TMPDIR:-/tmp}/rbacmap-demo-offboard-erin.yaml"
