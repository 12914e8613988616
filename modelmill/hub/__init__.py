"""The Hub as a model registry: timeouts and retries, versioned releases, the published champion."""
