"""rbacmap: who can really do what in your Kubernetes clusters."""

__version__ = "0.1.0"
