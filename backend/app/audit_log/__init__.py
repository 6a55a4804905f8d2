"""The audit log as infrastructure: its table and the writer every domain uses."""
