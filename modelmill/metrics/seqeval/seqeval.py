"""Entity-level precision, recall and F1 for sequence labelling (offline copy of the Hub's `seqeval`): seqeval's
classification report over whole entities (a prediction counts only when its type, start and end all match),
plus the token accuracy."""

import datasets
import evaluate
from seqeval.metrics import accuracy_score, classification_report


class Seqeval(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=__doc__,
            citation="",
            inputs_description="predictions, references: lists of tag lists (IOB2, e.g. B-PER, I-PER, O); suffix, scheme, mode, sample_weight, zero_division: as in seqeval",
            features=datasets.Features({
                "predictions": datasets.Sequence(datasets.Value("string", id="label"), id="sequence"),
                "references": datasets.Sequence(datasets.Value("string", id="label"), id="sequence"),
            }),
        )

    def _compute(self, predictions, references, suffix=False, scheme=None, mode=None, sample_weight=None, zero_division="warn"):
        if scheme is not None:
            import importlib

            scheme = getattr(importlib.import_module("seqeval.scheme"), scheme)
        report = classification_report(
            y_true=references, y_pred=predictions, suffix=suffix, output_dict=True, scheme=scheme, mode=mode,
            sample_weight=sample_weight, zero_division=zero_division,
        )
        report.pop("macro avg")
        report.pop("weighted avg")
        overall = report.pop("micro avg")
        scores = {
            kind: {"precision": float(values["precision"]), "recall": float(values["recall"]),
                   "f1": float(values["f1-score"]), "number": int(values["support"])}
            for kind, values in report.items()
        }
        scores["overall_precision"] = float(overall["precision"])
        scores["overall_recall"] = float(overall["recall"])
        scores["overall_f1"] = float(overall["f1-score"])
        scores["overall_accuracy"] = float(accuracy_score(y_true=references, y_pred=predictions))
        return scores
