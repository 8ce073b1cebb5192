"""Cloud IAM (EKS, GKE) in the same graph as RBAC: mappings, grants, edges and who-can answers."""
