"""What a reviewer checks before a release: baselines, decision cut-off, slices, extra sets, gates and figures."""
