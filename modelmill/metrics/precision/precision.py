"""Precision score for classification (offline copy of the Hub's `precision`): sklearn's `precision_score`."""

import datasets
import evaluate
from sklearn.metrics import precision_score


class Precision(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=__doc__,
            citation="",
            inputs_description="predictions, references: lists of class ids; average, labels, pos_label, sample_weight, zero_division: as in sklearn",
            features=datasets.Features(
                {"predictions": datasets.Value("int32"), "references": datasets.Value("int32")}
            ),
        )

    def _compute(self, predictions, references, labels=None, pos_label=1, average="binary", sample_weight=None, zero_division="warn"):
        score = precision_score(
            references, predictions, labels=labels, pos_label=pos_label, average=average,
            sample_weight=sample_weight, zero_division=zero_division,
        )
        return {"precision": score.tolist() if hasattr(score, "tolist") and getattr(score, "ndim", 0) else float(score)}
