"""One module per escalation primitive; each exposes an edge source registered in `rbacmap.solver.registry`."""
