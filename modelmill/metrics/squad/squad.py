"""Exact match and F1 for extractive question answering (offline copy of the Hub's `squad` / `squad_v2`
definitions): answers are compared after lower-casing and removing punctuation, articles (a, an, the) and extra
spaces; each prediction takes its best score over the gold answers; a question without a gold answer is right only
when the prediction is empty (SQuAD 2.0). Scores are percentages, as the Hub module gives them."""

import collections
import re
import string

import datasets
import evaluate


def normalize_answer(text):
    text = text.lower()
    text = "".join(character for character in text if character not in set(string.punctuation))
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return " ".join(text.split())


def exact_match_score(prediction, truth):
    return float(normalize_answer(prediction) == normalize_answer(truth))


def f1_score(prediction, truth):
    predicted, true = normalize_answer(prediction).split(), normalize_answer(truth).split()
    if not predicted or not true:  # an empty answer matches only an empty answer
        return float(predicted == true)
    common = collections.Counter(predicted) & collections.Counter(true)
    same = sum(common.values())
    if same == 0:
        return 0.0
    precision, recall = same / len(predicted), same / len(true)
    return 2 * precision * recall / (precision + recall)


class Squad(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=__doc__,
            citation="",
            inputs_description="predictions: [{id, prediction_text}]; references: [{id, answers: {text: [...], answer_start: [...]}}]",
            features=datasets.Features({
                "predictions": {"id": datasets.Value("string"), "prediction_text": datasets.Value("string")},
                "references": {
                    "id": datasets.Value("string"),
                    "answers": datasets.features.Sequence(
                        {"text": datasets.Value("string"), "answer_start": datasets.Value("int32")}),
                },
            }),
        )

    def _compute(self, predictions, references):
        predicted = {prediction["id"]: prediction["prediction_text"] for prediction in predictions}
        exact, f1 = 0.0, 0.0
        for reference in references:
            answers = reference["answers"]["text"] or [""]
            prediction = predicted[reference["id"]]
            exact += max(exact_match_score(prediction, answer) for answer in answers)
            f1 += max(f1_score(prediction, answer) for answer in answers)
        count = max(len(references), 1)
        return {"exact_match": 100.0 * exact / count, "f1": 100.0 * f1 / count}
