"""What a run keeps under the home: its record, and the collection of what no run needs any more (and, as it
moves here, artifacts, cache policies, locks and settings)."""
