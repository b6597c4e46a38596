"""Task metrics, from predictions and gold labels (plain numpy; no extra dependency)."""

from __future__ import annotations

import numpy as np

# Every task's primary metric is one where higher is better (never mse): the studies maximise it.
CLASSIFICATION_METRICS = ("accuracy", "macro_f1", "precision", "recall", "f1", "mcc")
REGRESSION_METRICS = ("pearson", "spearman", "mse")


def classification_metrics(predictions: np.ndarray, labels: np.ndarray, num_labels: int) -> dict[str, float]:
    """Accuracy, macro precision/recall/F1, MCC; for binary tasks also F1 of the positive class (1)."""
    confusion = np.zeros((num_labels, num_labels), dtype=np.int64)
    np.add.at(confusion, (labels, predictions), 1)
    true_positive = np.diag(confusion).astype(float)
    predicted = confusion.sum(0).astype(float)
    actual = confusion.sum(1).astype(float)
    precision = np.divide(true_positive, predicted, out=np.zeros_like(true_positive), where=predicted > 0)
    recall = np.divide(true_positive, actual, out=np.zeros_like(true_positive), where=actual > 0)
    denominator = precision + recall
    f1 = np.divide(2 * precision * recall, denominator, out=np.zeros_like(denominator), where=denominator > 0)
    result = {
        "accuracy": float(true_positive.sum() / max(confusion.sum(), 1)),
        "macro_f1": float(f1.mean()),
        "precision": float(precision.mean()),
        "recall": float(recall.mean()),
        "mcc": matthews_corrcoef(confusion),
    }
    if num_labels == 2:
        result["f1"] = float(f1[1])
    return result


def matthews_corrcoef(confusion: np.ndarray) -> float:
    """Multi-class MCC (Gorodkin 2004) from a confusion matrix; 0 where it is undefined."""
    confusion = confusion.astype(float)
    total = confusion.sum()
    correct = np.trace(confusion)
    predicted = confusion.sum(0)
    actual = confusion.sum(1)
    numerator = correct * total - predicted @ actual
    denominator = np.sqrt(total**2 - predicted @ predicted) * np.sqrt(total**2 - actual @ actual)
    return float(numerator / denominator) if denominator > 0 else 0.0


def regression_metrics(predictions: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    return {
        "pearson": _correlation(predictions, labels),
        "spearman": _correlation(_ranks(predictions), _ranks(labels)),
        "mse": float(np.mean((predictions - labels) ** 2)),
    }


def _correlation(a: np.ndarray, b: np.ndarray) -> float:
    if a.std() == 0 or b.std() == 0:
        return 0.0
    return float(np.corrcoef(a, b)[0, 1])


def _ranks(values: np.ndarray) -> np.ndarray:
    """Average ranks (ties share the mean of their positions), as Spearman's rho needs."""
    order = np.argsort(values, kind="stable")
    ranks = np.empty(len(values), dtype=float)
    ranks[order] = np.arange(len(values), dtype=float)
    _, inverse, counts = np.unique(values, return_inverse=True, return_counts=True)
    sums = np.bincount(inverse, weights=ranks)
    return sums[inverse] / counts[inverse]


def compute_metrics(outputs: np.ndarray, labels: np.ndarray, num_labels: int) -> dict[str, float]:
    """Metrics from raw model outputs (logits, or scores for regression)."""
    if num_labels == 1:
        return regression_metrics(outputs.reshape(-1), labels.astype(float))
    return classification_metrics(outputs.argmax(-1), labels.astype(np.int64), num_labels)
