"""What a run needs around its stages: telemetry switched off, and (as they move here) preflight, retries, the
temporary server and errors."""
