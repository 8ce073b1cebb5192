"""The SQLite schema, as an ordered list of forward migrations (documented in docs/schema.md)."""

from __future__ import annotations

# Versions are assigned per feature so parallel work does not collide: 1 core, 2 live import,
# 3 cloud IAM, 4 audit usage, 5 offboarding. Append; never edit a released migration.
# Every table that holds cluster objects carries snapshot_id; a snapshot's rows are written
# in the same transaction that marks it complete, so readers never see half an import.
MIGRATIONS: list[tuple[int, str]] = [
    (
        1,
        """
        CREATE TABLE clusters (
            name TEXT PRIMARY KEY,
            created_at TEXT NOT NULL
        );
        CREATE TABLE snapshots (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            cluster TEXT NOT NULL REFERENCES clusters(name),
            source TEXT NOT NULL,
            started_at TEXT NOT NULL,
            finished_at TEXT,
            status TEXT NOT NULL CHECK (status IN ('complete', 'failed')),
            object_counts TEXT NOT NULL DEFAULT '{}',
            skipped_counts TEXT NOT NULL DEFAULT '{}',
            error_count INTEGER NOT NULL DEFAULT 0,
            incomplete_kinds TEXT NOT NULL DEFAULT '[]',
            server_version TEXT,
            platform TEXT,
            message TEXT
        );
        CREATE INDEX snapshots_cluster ON snapshots(cluster, status, id);
        CREATE TABLE namespaces (
            snapshot_id INTEGER NOT NULL, name TEXT NOT NULL, labels TEXT NOT NULL,
            annotations TEXT NOT NULL, pss_enforce TEXT, pss_audit TEXT, pss_warn TEXT,
            PRIMARY KEY (snapshot_id, name)
        );
        CREATE TABLE roles (
            snapshot_id INTEGER NOT NULL, kind TEXT NOT NULL, namespace TEXT NOT NULL,
            name TEXT NOT NULL, labels TEXT NOT NULL, annotations TEXT NOT NULL,
            aggregation_selectors TEXT, created_at TEXT,
            PRIMARY KEY (snapshot_id, kind, namespace, name)
        );
        CREATE TABLE rules (
            snapshot_id INTEGER NOT NULL, role_kind TEXT NOT NULL, role_namespace TEXT NOT NULL,
            role_name TEXT NOT NULL, rule_index INTEGER NOT NULL, verbs TEXT NOT NULL,
            api_groups TEXT NOT NULL, resources TEXT NOT NULL, resource_names TEXT NOT NULL,
            non_resource_urls TEXT NOT NULL, aggregated_from TEXT,
            PRIMARY KEY (snapshot_id, role_kind, role_namespace, role_name, rule_index)
        );
        CREATE TABLE bindings (
            snapshot_id INTEGER NOT NULL, kind TEXT NOT NULL, namespace TEXT NOT NULL,
            name TEXT NOT NULL, role_kind TEXT NOT NULL, role_name TEXT NOT NULL,
            role_api_group TEXT NOT NULL, dangling INTEGER NOT NULL DEFAULT 0,
            labels TEXT NOT NULL, annotations TEXT NOT NULL, created_at TEXT,
            PRIMARY KEY (snapshot_id, kind, namespace, name)
        );
        CREATE TABLE binding_subjects (
            snapshot_id INTEGER NOT NULL, binding_kind TEXT NOT NULL,
            binding_namespace TEXT NOT NULL, binding_name TEXT NOT NULL,
            subject_index INTEGER NOT NULL, kind TEXT NOT NULL, api_group TEXT NOT NULL,
            name TEXT NOT NULL, namespace TEXT NOT NULL,
            PRIMARY KEY (snapshot_id, binding_kind, binding_namespace, binding_name, subject_index)
        );
        CREATE INDEX binding_subjects_subject ON binding_subjects(snapshot_id, kind, name);
        CREATE TABLE service_accounts (
            snapshot_id INTEGER NOT NULL, namespace TEXT NOT NULL, name TEXT NOT NULL,
            annotations TEXT NOT NULL, labels TEXT NOT NULL, automount_token INTEGER,
            secrets TEXT NOT NULL, created_at TEXT,
            PRIMARY KEY (snapshot_id, namespace, name)
        );
        CREATE TABLE workloads (
            snapshot_id INTEGER NOT NULL, kind TEXT NOT NULL, namespace TEXT NOT NULL,
            name TEXT NOT NULL, service_account TEXT NOT NULL, node TEXT,
            owner_kind TEXT, owner_name TEXT, privileged INTEGER NOT NULL,
            host_pid INTEGER NOT NULL, host_network INTEGER NOT NULL, host_ipc INTEGER NOT NULL,
            host_path_volumes TEXT NOT NULL, added_capabilities TEXT NOT NULL,
            automount_token INTEGER, images TEXT NOT NULL, labels TEXT NOT NULL,
            created_at TEXT, created_by TEXT,
            PRIMARY KEY (snapshot_id, kind, namespace, name)
        );
        CREATE TABLE secrets (
            snapshot_id INTEGER NOT NULL, namespace TEXT NOT NULL, name TEXT NOT NULL,
            type TEXT NOT NULL, service_account TEXT, labels TEXT NOT NULL, created_at TEXT,
            PRIMARY KEY (snapshot_id, namespace, name)
        );
        CREATE TABLE nodes (
            snapshot_id INTEGER NOT NULL, name TEXT NOT NULL, labels TEXT NOT NULL,
            provider_id TEXT, kubelet_version TEXT,
            PRIMARY KEY (snapshot_id, name)
        );
        CREATE TABLE webhooks (
            snapshot_id INTEGER NOT NULL, kind TEXT NOT NULL, name TEXT NOT NULL,
            webhooks TEXT NOT NULL,
            PRIMARY KEY (snapshot_id, kind, name)
        );
        CREATE TABLE csrs (
            snapshot_id INTEGER NOT NULL, name TEXT NOT NULL, signer_name TEXT NOT NULL,
            username TEXT, groups TEXT NOT NULL, usages TEXT NOT NULL, conditions TEXT NOT NULL,
            expiration_seconds INTEGER, created_at TEXT, issued INTEGER NOT NULL,
            PRIMARY KEY (snapshot_id, name)
        );
        CREATE TABLE config_maps (
            snapshot_id INTEGER NOT NULL, namespace TEXT NOT NULL, name TEXT NOT NULL,
            data TEXT NOT NULL,
            PRIMARY KEY (snapshot_id, namespace, name)
        );
        CREATE TABLE import_errors (
            snapshot_id INTEGER NOT NULL, source TEXT NOT NULL, document INTEGER,
            line INTEGER, kind TEXT, name TEXT, message TEXT NOT NULL
        );
        CREATE INDEX import_errors_snapshot ON import_errors(snapshot_id);
        """,
    ),
    (
        3,
        # Cloud IAM (EKS/GKE) is imported separately from the cluster's objects, so it has its
        # own import record; answers join the latest complete cloud import with the latest
        # snapshot of the same cluster (see docs/schema.md, "Cloud IAM").
        """
        CREATE TABLE cloud_imports (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            cluster TEXT NOT NULL REFERENCES clusters(name),
            provider TEXT NOT NULL CHECK (provider IN ('eks', 'gke')),
            cloud_cluster TEXT NOT NULL,
            started_at TEXT NOT NULL,
            finished_at TEXT,
            status TEXT NOT NULL CHECK (status IN ('complete', 'failed')),
            details TEXT NOT NULL DEFAULT '{}',
            notes TEXT NOT NULL DEFAULT '[]',
            message TEXT
        );
        CREATE INDEX cloud_imports_cluster ON cloud_imports(cluster, status);
        CREATE TABLE cloud_identity_mappings (
            cloud_import_id INTEGER NOT NULL, principal_kind TEXT NOT NULL, principal TEXT NOT NULL,
            username TEXT NOT NULL, groups TEXT NOT NULL, mechanism TEXT NOT NULL,
            live INTEGER NOT NULL, provenance TEXT NOT NULL
        );
        CREATE INDEX cloud_identity_mappings_import ON cloud_identity_mappings(cloud_import_id);
        CREATE TABLE cloud_k8s_grants (
            cloud_import_id INTEGER NOT NULL, principal_kind TEXT NOT NULL, principal TEXT NOT NULL,
            namespaces TEXT NOT NULL, rules TEXT NOT NULL, mechanism TEXT NOT NULL,
            live INTEGER NOT NULL, provenance TEXT NOT NULL
        );
        CREATE INDEX cloud_k8s_grants_import ON cloud_k8s_grants(cloud_import_id);
        CREATE TABLE cloud_edges (
            cloud_import_id INTEGER NOT NULL, source_kind TEXT NOT NULL, source TEXT NOT NULL,
            target_kind TEXT NOT NULL, target TEXT NOT NULL, mechanism TEXT NOT NULL,
            provenance TEXT NOT NULL
        );
        CREATE INDEX cloud_edges_import ON cloud_edges(cloud_import_id);
        CREATE TABLE cloud_powers (
            cloud_import_id INTEGER NOT NULL, principal_kind TEXT NOT NULL, principal TEXT NOT NULL,
            power TEXT NOT NULL, provenance TEXT NOT NULL
        );
        CREATE INDEX cloud_powers_import ON cloud_powers(cloud_import_id);
        """,
    ),
    (
        4,
        # Audit usage is keyed by cluster, not snapshot: logs are a record of requests over a
        # time window, not a picture of objects. Imports merge into the same aggregate rows.
        """
        CREATE TABLE audit_imports (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            cluster TEXT NOT NULL REFERENCES clusters(name),
            source TEXT NOT NULL, format TEXT NOT NULL,
            started_at TEXT NOT NULL, finished_at TEXT,
            lines INTEGER NOT NULL DEFAULT 0, events INTEGER NOT NULL DEFAULT 0,
            requests INTEGER NOT NULL DEFAULT 0, error_count INTEGER NOT NULL DEFAULT 0,
            window_start TEXT, window_end TEXT
        );
        CREATE INDEX audit_imports_cluster ON audit_imports(cluster);
        CREATE TABLE audit_import_errors (
            import_id INTEGER NOT NULL, source TEXT NOT NULL, line INTEGER, message TEXT NOT NULL
        );
        CREATE INDEX audit_import_errors_import ON audit_import_errors(import_id);
        CREATE TABLE audit_usage (
            cluster TEXT NOT NULL, username TEXT NOT NULL, verb TEXT NOT NULL,
            api_group TEXT NOT NULL, resource TEXT NOT NULL, subresource TEXT NOT NULL,
            namespace TEXT NOT NULL, name TEXT NOT NULL, non_resource_url TEXT NOT NULL,
            decision TEXT NOT NULL CHECK (decision IN ('allow', 'deny', 'unknown')),
            count INTEGER NOT NULL, first_seen TEXT NOT NULL, last_seen TEXT NOT NULL,
            PRIMARY KEY (cluster, username, verb, api_group, resource, subresource, namespace, name,
                         non_resource_url, decision)
        );
        CREATE INDEX audit_usage_last_seen ON audit_usage(cluster, last_seen);
        CREATE TABLE audit_user_groups (
            cluster TEXT NOT NULL, username TEXT NOT NULL, group_name TEXT NOT NULL,
            count INTEGER NOT NULL, first_seen TEXT NOT NULL, last_seen TEXT NOT NULL,
            PRIMARY KEY (cluster, username, group_name)
        );
        CREATE TABLE audit_impersonations (
            cluster TEXT NOT NULL, impersonator TEXT NOT NULL, username TEXT NOT NULL,
            count INTEGER NOT NULL, first_seen TEXT NOT NULL, last_seen TEXT NOT NULL,
            PRIMARY KEY (cluster, impersonator, username)
        );
        """,
    ),
    (
        5,
        # Offboarding: the user (CN) and groups (O) a CSR's certificate authenticates as,
        # decoded from the public spec.request at import time (the request itself is not kept).
        """
        ALTER TABLE csrs ADD COLUMN request_cn TEXT;
        ALTER TABLE csrs ADD COLUMN request_organizations TEXT NOT NULL DEFAULT '[]';
        """,
    ),
    (
        6,
        # Solver load (rbacmap/solver/context.py `_load_pods`): the first pod of each
        # (namespace, ServiceAccount, automountToken) and the ServiceAccounts of templates come
        # from this covering index in order, with no sort and no read of the wide rows; the
        # partial index holds just the pods that can reach their node (privileged, hostPID,
        # hostPath). Its WHERE must stay word for word the query's for SQLite to use it.
        """
        CREATE INDEX workloads_service_account
            ON workloads(snapshot_id, kind, namespace, service_account, automount_token, name);
        CREATE INDEX workloads_escaping ON workloads(snapshot_id, kind, namespace, name)
            WHERE privileged OR host_pid OR host_path_volumes != '[]';
        """,
    ),
    (
        8,
        # Audit usage keyed by one integer: key_hash, a stable hash of the 10 key columns
        # (rbacmap/usage_key.py), instead of a 10-column primary key that made upserts slow.
        # Existing rows are carried over displaced (key_hash = -rowid); the next import moves
        # them to their hash. The 10 columns stay plain columns for queries.
        """
        CREATE TABLE audit_usage_v8 (
            cluster TEXT NOT NULL, username TEXT NOT NULL, verb TEXT NOT NULL,
            api_group TEXT NOT NULL, resource TEXT NOT NULL, subresource TEXT NOT NULL,
            namespace TEXT NOT NULL, name TEXT NOT NULL, non_resource_url TEXT NOT NULL,
            decision TEXT NOT NULL CHECK (decision IN ('allow', 'deny', 'unknown')),
            count INTEGER NOT NULL, first_seen TEXT NOT NULL, last_seen TEXT NOT NULL,
            key_hash INTEGER PRIMARY KEY
        );
        INSERT INTO audit_usage_v8 (cluster, username, verb, api_group, resource, subresource, namespace, name,
                                    non_resource_url, decision, count, first_seen, last_seen, key_hash)
        SELECT cluster, username, verb, api_group, resource, subresource, namespace, name,
               non_resource_url, decision, count, first_seen, last_seen, -rowid
        FROM audit_usage;
        DROP TABLE audit_usage;
        ALTER TABLE audit_usage_v8 RENAME TO audit_usage;
        CREATE INDEX audit_usage_last_seen ON audit_usage(cluster, last_seen);
        """,
    ),
    (
        9,
        # Solver, exec into a pod that reaches its node (rbacmap/solver/context.py `pods_on_node`):
        # the pods of each node, one per (namespace, ServiceAccount, automountToken), come from this
        # covering index in order, with no sort and no read of the wide rows.
        """
        CREATE INDEX workloads_node
            ON workloads(snapshot_id, kind, node, namespace, service_account, automount_token, name);
        """,
    ),
    (
        10,
        # Solver: only scheduled pods that are not static pods carry a ServiceAccount token on a
        # node (rbacmap/solver/context.py TOKEN_POD_SQL). Both solver indexes also hold node and
        # owner_kind, after the columns they are ordered by, so that filter stays index-only.
        """
        DROP INDEX workloads_service_account;
        CREATE INDEX workloads_service_account
            ON workloads(snapshot_id, kind, namespace, service_account, automount_token, name, node, owner_kind);
        DROP INDEX workloads_node;
        CREATE INDEX workloads_node
            ON workloads(snapshot_id, kind, node, namespace, service_account, automount_token, name, owner_kind);
        """,
    ),
    (
        11,
        # A Pod's status.phase: a pod that has finished (Succeeded, Failed) runs no container to exec
        # into and its token volume is unmounted, so the solver leaves it out (TOKEN_POD_SQL). Both
        # solver indexes append `phase`, so that filter stays index-only. NULL: not known (older
        # snapshots, sources without status), counted as running.
        """
        ALTER TABLE workloads ADD COLUMN phase TEXT;
        DROP INDEX workloads_service_account;
        CREATE INDEX workloads_service_account
            ON workloads(snapshot_id, kind, namespace, service_account, automount_token, name, node, owner_kind,
                         phase);
        DROP INDEX workloads_node;
        CREATE INDEX workloads_node
            ON workloads(snapshot_id, kind, node, namespace, service_account, automount_token, name, owner_kind,
                         phase);
        """,
    ),
    (
        12,
        # The API server's PodSecurity admission configuration (rbacmap/pod_security_config.py), when an
        # import was given one: the level of namespaces without an enforce label, and the exemptions.
        # One per snapshot. Lists are JSON.
        """
        CREATE TABLE pod_security_config (
            snapshot_id INTEGER PRIMARY KEY, kind TEXT NOT NULL, default_enforce TEXT NOT NULL,
            default_enforce_version TEXT NOT NULL, exempt_usernames TEXT NOT NULL,
            exempt_namespaces TEXT NOT NULL, exempt_runtime_classes TEXT NOT NULL
        );
        """,
    ),
    (
        13,
        # A legacy token's claims carry its ServiceAccount's UID, which the authenticator compares with the
        # ServiceAccount's: a token Secret of an earlier ServiceAccount of the same name is refused. NULL:
        # not known (older snapshots, sources without metadata.uid), taken as matching.
        """
        ALTER TABLE service_accounts ADD COLUMN uid TEXT;
        ALTER TABLE secrets ADD COLUMN service_account_uid TEXT;
        """,
    ),
    (
        14,
        # ValidatingAdmissionPolicies and their bindings: a bound policy that denies may reject a privileged pod
        # (its CEL is not evaluated; the solver names it in a step's condition).
        """
        CREATE TABLE admission_policies (
            snapshot_id INTEGER NOT NULL, kind TEXT NOT NULL, name TEXT NOT NULL, spec TEXT NOT NULL,
            PRIMARY KEY (snapshot_id, kind, name)
        );
        """,
    ),
    (
        15,
        # RuntimeClasses (name -> CRI handler): Pod Security may exempt one, and only a sandbox's handler keeps a
        # privileged pod of it off the node.
        """
        CREATE TABLE runtime_classes (
            snapshot_id INTEGER NOT NULL, name TEXT NOT NULL, handler TEXT NOT NULL,
            PRIMARY KEY (snapshot_id, name)
        );
        """,
    ),
    (
        16,
        # A pod's RuntimeClass (an exempt one skips Pod Security, debug containers included) and a RuntimeClass's
        # scheduling.nodeSelector (its pods run only on matching nodes). NULL: none, or not known (older snapshots).
        """
        ALTER TABLE workloads ADD COLUMN runtime_class TEXT;
        ALTER TABLE runtime_classes ADD COLUMN node_selector TEXT;
        """,
    ),
    (
        17,
        # An import error inside a `kind: List` names the item ("items[2]"); its line is then the item's.
        """
        ALTER TABLE import_errors ADD COLUMN item TEXT;
        """,
    ),
    (
        18,
        # Audit imports count each request once across imports of a cluster: the auditIDs counted
        # (rbacmap/importers/audit_earlier.py). Only the IDs are kept, one row each, no event data.
        """
        CREATE TABLE audit_request_ids (
            cluster TEXT NOT NULL, audit_id TEXT NOT NULL,
            PRIMARY KEY (cluster, audit_id)
        ) WITHOUT ROWID;
        ALTER TABLE audit_imports ADD COLUMN already_imported INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE audit_imports ADD COLUMN without_audit_id INTEGER NOT NULL DEFAULT 0;
        """,
    ),
    (
        19,
        # The auditIDs are kept for a few days only (importers/audit_earlier.py prunes them): each row says which
        # import counted it, the IDs known so far are taken as the cluster's latest import's. An import whose IDs
        # were pruned still protects its window: a dated request inside it counts as already imported.
        """
        ALTER TABLE audit_request_ids ADD COLUMN import_id INTEGER NOT NULL DEFAULT 0;
        UPDATE audit_request_ids SET import_id = coalesce(
            (SELECT max(id) FROM audit_imports WHERE audit_imports.cluster = audit_request_ids.cluster), 0);
        ALTER TABLE audit_imports ADD COLUMN ids_pruned INTEGER NOT NULL DEFAULT 0;
        """,
    ),
    (
        22,
        # A cloud edge may hold only under a condition (an IAM condition key rbacmap cannot evaluate, an EKS
        # platform version it does not know): the solver shows it on the step and prefers proofs without one.
        """
        ALTER TABLE cloud_edges ADD COLUMN condition TEXT NOT NULL DEFAULT '';
        """,
    ),
]

# Tables whose rows belong to one snapshot; pruning a snapshot deletes from each.
SNAPSHOT_TABLES = [
    "namespaces",
    "roles",
    "rules",
    "bindings",
    "binding_subjects",
    "service_accounts",
    "workloads",
    "secrets",
    "nodes",
    "webhooks",
    "admission_policies",
    "runtime_classes",
    "csrs",
    "config_maps",
    "pod_security_config",
    "import_errors",
]

