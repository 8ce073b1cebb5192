#!/bin/sh
# The main job on the bundled demo cluster: import it, summarise it, answer real questions.
# Usage: sh scripts/demo.sh PATH/TO/rbacmap   (RBACMAP_DB names the database)
set -eu
rbacmap=${1:-rbacmap}
step() { printf '\n\033[1m$ rbacmap %s\033[0m\n' "$*"; }

step import files fixtures/demo --cluster demo
"$rbacmap" import files fixtures/demo --cluster demo
step snapshots
"$rbacmap" snapshots
step who-can get secrets -n payments
"$rbacmap" who-can get secrets -n payments
step can system:serviceaccount:ci:deployer create clusterrolebindings
"$rbacmap" can system:serviceaccount:ci:deployer create clusterrolebindings || true
step can user:dana@example.com get secrets -n payments
"$rbacmap" can dana@example.com get secrets -n payments || true
