"""ROUGE for summaries (offline copy of the Hub's `rouge`): Google's `rouge_score` F-measures of ROUGE-1, ROUGE-2,
ROUGE-L and ROUGE-Lsum (summary-level LCS over newline-separated sentences) between each prediction and its
reference; aggregated with rouge_score's bootstrap (the median), or one score per pair (use_aggregator=False)."""

import datasets
import evaluate
from rouge_score import rouge_scorer, scoring


class Rouge(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=__doc__,
            citation="",
            inputs_description="predictions, references: lists of strings; rouge_types, use_aggregator, use_stemmer, tokenizer: as the Hub's rouge",
            features=datasets.Features(
                {"predictions": datasets.Value("string", id="sequence"),
                 "references": datasets.Value("string", id="sequence")}
            ),
        )

    def _compute(self, predictions, references, rouge_types=None, use_aggregator=True, use_stemmer=False, tokenizer=None):
        rouge_types = rouge_types or ["rouge1", "rouge2", "rougeL", "rougeLsum"]
        scorer = rouge_scorer.RougeScorer(rouge_types=rouge_types, use_stemmer=use_stemmer, tokenizer=tokenizer)
        aggregator = scoring.BootstrapAggregator() if use_aggregator else None
        scores = []
        for reference, prediction in zip(references, predictions, strict=True):
            score = scorer.score(reference, prediction)
            if aggregator is not None:
                aggregator.add_scores(score)
            else:
                scores.append(score)
        if aggregator is not None:
            return {key: float(value.mid.fmeasure) for key, value in aggregator.aggregate().items()}
        return {key: [float(score[key].fmeasure) for score in scores] for key in rouge_types}
