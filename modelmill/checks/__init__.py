"""Built-in data checks (leakage, duplicates, empty texts, class balance, label sets and shift)."""
