"""The container.* permissions of GCP's predefined roles that matter to GKE, as documented.

Sources:
- Google Cloud, "IAM roles and permissions index - Google Kubernetes Engine roles and permissions",
  https://cloud.google.com/iam/docs/roles-permissions/container (roles/container.admin =
  `container.*`; clusterAdmin, clusterViewer, developer, viewer with their permission lists),
  transcribed from the role definitions as published by the IAM API (`roles.get`), mirrored in
  github.com/iann0036/iam-dataset gcp/roles/container.{developer,viewer,clusterAdmin,clusterViewer}.json.
- Google Cloud, "Create IAM allow policies" (GKE): roles/container.clusterAdmin "Provides
  access to management of clusters", roles/container.developer "Provides access to Kubernetes
  API objects inside clusters", https://cloud.google.com/kubernetes-engine/docs/how-to/iam
- Basic roles (roles/owner, roles/editor, roles/viewer) against the GKE roles: a diff of the
  documented lists, github gist rbrto/dd375ca2089ab6f9860d842953e2b900 ("Project Editor" has
  developer's Kubernetes permissions plus controllerRevisions writes and cluster management,
  but not the (local)subjectAccessReviews creation; "Project Owner" = GKE Admin + more;
  "Project Viewer" = GKE Viewer + pods.getLogs and access-review permissions).
Only the container.* permissions are kept, one line per resource: `resource: verb verb …`.
"""

from __future__ import annotations


def _expand(table: str) -> tuple[str, ...]:
    out: list[str] = []
    for line in table.strip().splitlines():
        resource, _, verbs = line.partition(":")
        out.extend(f"container.{resource.strip()}.{verb}" for verb in verbs.split())
    return tuple(out)


CLUSTER_ADMIN_PERMISSIONS = _expand("""
clusters: create delete get list update
operations: get list
""")

CLUSTER_VIEWER_PERMISSIONS = _expand("""
clusters: get list
""")

DEVELOPER_PERMISSIONS = _expand("""
apiServices: create delete get getStatus list update updateStatus
auditSinks: create delete get list update
backendConfigs: create delete get list update
bindings: create delete get list update
certificateSigningRequests: create delete get list update updateStatus
clusterRoleBindings: get list
clusterRoles: get list
clusters: connect get list
componentStatuses: get list
configMaps: create delete get list update
controllerRevisions: get list
cronJobs: create delete get getStatus list update updateStatus
csiDrivers: create delete get list update
csiNodeInfos: create delete get list update
csiNodes: create delete get list update
customResourceDefinitions: create delete get getStatus list update updateStatus
daemonSets: create delete get getStatus list update updateStatus
deployments: create delete get getScale getStatus list rollback update updateScale updateStatus
endpointSlices: create delete get list update
endpoints: create delete get list update
events: create delete get list update
frontendConfigs: create delete get list update
horizontalPodAutoscalers: create delete get getStatus list update updateStatus
ingresses: create delete get getStatus list update updateStatus
initializerConfigurations: create delete get list update
jobs: create delete get getStatus list update updateStatus
leases: create delete get list update
limitRanges: create delete get list update
localSubjectAccessReviews: create list
managedCertificates: create delete get list update
mutatingWebhookConfigurations: get list
namespaces: create delete finalize get getStatus list update updateStatus
networkPolicies: create delete get list update
nodes: create delete get getStatus list proxy update updateStatus
persistentVolumeClaims: create delete get getStatus list update updateStatus
persistentVolumes: create delete get getStatus list update updateStatus
petSets: create delete get list update updateStatus
podDisruptionBudgets: create delete get getStatus list update updateStatus
podPresets: create delete get list update
podSecurityPolicies: get list
podTemplates: create delete get list update
pods: attach create delete evict exec get getLogs getStatus initialize list portForward proxy update updateStatus
priorityClasses: create delete get list update
replicaSets: create delete get getScale getStatus list update updateScale updateStatus
replicationControllers: create delete get getScale getStatus list update updateScale updateStatus
resourceQuotas: create delete get getStatus list update updateStatus
roleBindings: get list
roles: get list
runtimeClasses: create delete get list update
scheduledJobs: create delete get list update updateStatus
secrets: create delete get list update
selfSubjectAccessReviews: create list
selfSubjectRulesReviews: create
serviceAccounts: create createToken delete get list update
services: create delete get getStatus list proxy update updateStatus
statefulSets: create delete get getScale getStatus list update updateScale updateStatus
storageClasses: create delete get list update
storageStates: create delete get getStatus list update updateStatus
storageVersionMigrations: create delete get getStatus list update updateStatus
subjectAccessReviews: create list
thirdPartyObjects: create delete get list update
thirdPartyResources: create delete get list update
tokenReviews: create
updateInfos: create delete get list update
validatingWebhookConfigurations: get list
volumeAttachments: create delete get getStatus list update updateStatus
volumeSnapshotClasses: create delete get list update
volumeSnapshotContents: create delete get getStatus list update updateStatus
volumeSnapshots: create delete get getStatus list update updateStatus
""")

VIEWER_PERMISSIONS = _expand("""
apiServices: get getStatus list
auditSinks: get list
backendConfigs: get list
bindings: get list
certificateSigningRequests: get getStatus list
clusterRoleBindings: get list
clusterRoles: get list
clusters: get list
componentStatuses: get list
configMaps: get list
controllerRevisions: get list
cronJobs: get getStatus list
csiDrivers: get list
csiNodeInfos: get list
csiNodes: get list
customResourceDefinitions: get getStatus list
daemonSets: get getStatus list
deployments: get getScale getStatus list
endpointSlices: get list
endpoints: get list
events: get list
frontendConfigs: get list
horizontalPodAutoscalers: get getStatus list
ingresses: get getStatus list
initializerConfigurations: get list
jobs: get getStatus list
leases: get list
limitRanges: get list
managedCertificates: get list
mutatingWebhookConfigurations: get list
namespaces: get getStatus list
networkPolicies: get list
nodes: get getStatus list
operations: get list
persistentVolumeClaims: get getStatus list
persistentVolumes: get getStatus list
petSets: get list
podDisruptionBudgets: get getStatus list
podPresets: get list
podSecurityPolicies: get list
podTemplates: get list
pods: get getStatus list
priorityClasses: get list
replicaSets: get getScale getStatus list
replicationControllers: get getScale getStatus list
resourceQuotas: get getStatus list
roleBindings: get list
roles: get list
runtimeClasses: get list
scheduledJobs: get list
serviceAccounts: get list
services: get getStatus list
statefulSets: get getScale getStatus list
storageClasses: get list
storageStates: get getStatus list
storageVersionMigrations: get getStatus list
thirdPartyObjects: get list
thirdPartyResources: get list
tokenReviews: create
updateInfos: get list
validatingWebhookConfigurations: get list
volumeAttachments: get getStatus list
volumeSnapshotClasses: get list
volumeSnapshotContents: get getStatus list
volumeSnapshots: get list
""")

# roles/editor: developer's Kubernetes permissions, plus controllerRevisions writes and
# cluster management, minus the creation of (local)subjectAccessReviews (gist diff above).
EDITOR_PERMISSIONS = tuple(
    p for p in DEVELOPER_PERMISSIONS
    if p not in ("container.localSubjectAccessReviews.create", "container.subjectAccessReviews.create")
) + _expand("""
controllerRevisions: create delete update
clusters: create delete getCredentials update
""")

# roles/viewer: GKE Viewer plus pod logs and access reviews (gist diff above).
PROJECT_VIEWER_PERMISSIONS = VIEWER_PERMISSIONS + _expand("""
pods: getLogs
localSubjectAccessReviews: list
selfSubjectAccessReviews: create list
subjectAccessReviews: list
""")

# Roles that hold `container.*` (every Kubernetes API permission GKE defines).
ALL_CONTAINER_PERMISSIONS_ROLES = ("roles/container.admin", "roles/owner")

PREDEFINED_ROLE_PERMISSIONS: dict[str, tuple[str, ...]] = {
    "roles/container.developer": DEVELOPER_PERMISSIONS,
    "roles/container.viewer": VIEWER_PERMISSIONS,
    "roles/container.clusterAdmin": CLUSTER_ADMIN_PERMISSIONS,
    "roles/container.clusterViewer": CLUSTER_VIEWER_PERMISSIONS,
    "roles/editor": EDITOR_PERMISSIONS,
    "roles/viewer": PROJECT_VIEWER_PERMISSIONS,
}
