"""The reload sidecar: connection ConfigMap -> rendered templates -> SIGHUP to the function."""
