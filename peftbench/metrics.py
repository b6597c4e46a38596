"""Task metrics, from predictions and gold labels (plain numpy; no extra dependency).

Undefined is not zero. A metric that a split's gold labels cannot determine is ``None`` (null in the run
records and results.json, "n/a" in reports), never a number, and it never ranks a strategy. What each
metric needs from a split's gold labels (``undefined_reason`` says which is missing):

- ``accuracy``, ``mse``: at least one row.
- ``mcc``: at least two classes among the labels (with one class, MCC is 0/0 whatever the model predicts).
- ``f1`` (binary tasks: F1 of the positive class, label 1): at least one positive row (else its recall is 0/0).
- ``macro_f1``, ``precision``, ``recall`` (macro averages over the task's classes): a row of every class (a
  class without rows has no recall; counting it as 0 would blame the model for the data).
- ``pearson``, ``spearman``: at least 3 rows (any two distinct predictions correlate ±1 with two labels)
  and labels that are not all equal (0/0).

These depend only on the gold labels, so ``peftbench.tasks.load_task`` checks them when the task is loaded and
refuses a split on which the task's primary metric would be undefined: training never reaches a number
that means nothing. What the *model* does cannot make a metric undefined: a model whose predictions are
constant (one class for every row, one value for every row) scores 0 on MCC, Pearson and Spearman where
the labels vary — no skill, the value scikit-learn gives MCC — and a class it never predicts has precision 0
(scikit-learn's ``zero_division=0``).
"""

from __future__ import annotations

import numpy as np

# Every task's primary metric is one where higher is better (never mse): the studies maximise it.
CLASSIFICATION_METRICS = ("accuracy", "macro_f1", "precision", "recall", "f1", "mcc")
REGRESSION_METRICS = ("pearson", "spearman", "mse")
MIN_ROWS = {"pearson": 3, "spearman": 3}  # every other metric: 1
MACRO_METRICS = ("macro_f1", "precision", "recall")


def undefined_reason(metric: str, labels, num_labels: int, label_names: tuple[str, ...] = ()) -> str | None:
    """Why ``metric`` cannot be measured on a split with these gold labels (a phrase such as
    "pearson needs at least 3 rows"), or None when it can. ``label_names`` only words the answer."""
    labels = np.asarray(labels)
    rows = len(labels)
    needed = MIN_ROWS.get(metric, 1)
    if rows < needed:
        return f"{metric} needs at least {needed} row{'s' if needed > 1 else ''}"
    if metric in ("pearson", "spearman") and np.all(labels == labels[0]):
        return f"{metric} needs labels that are not all equal (every label is {labels[0]:g})"
    present = set(labels.tolist())
    if metric == "mcc" and len(present) < 2:
        return "mcc needs rows of at least 2 classes"
    if metric == "f1" and num_labels == 2 and 1 not in present:
        return f"f1 (of the positive class) needs a row of class {_class_name(1, label_names)}"
    if metric in MACRO_METRICS:
        missing = [_class_name(i, label_names) for i in range(num_labels) if i not in present]
        if missing:
            listed = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
            return f"{metric} needs a row of every class (none of {listed})"
    return None


def _class_name(index: int, label_names: tuple[str, ...]) -> str:
    return repr(label_names[index]) if index < len(label_names) else str(index)


def classification_metrics(predictions: np.ndarray, labels: np.ndarray, num_labels: int) -> dict[str, float | None]:
    """Accuracy, macro precision/recall/F1, MCC; for binary tasks also F1 of the positive class (1).
    A metric the labels cannot determine is None (see the module docstring)."""
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
        "accuracy": float(true_positive.sum() / confusion.sum()) if confusion.sum() else None,
        "macro_f1": float(f1.mean()),
        "precision": float(precision.mean()),
        "recall": float(recall.mean()),
        "mcc": matthews_corrcoef(confusion),
    }
    if num_labels == 2:
        result["f1"] = float(f1[1])
    return _without_undefined(result, labels, num_labels)


def matthews_corrcoef(confusion: np.ndarray) -> float:
    """Multi-class MCC (Gorodkin 2004) from a confusion matrix; 0 where the denominator is 0 (callers
    first rule out the case the labels make undefined: a single class)."""
    confusion = confusion.astype(float)
    total = confusion.sum()
    correct = np.trace(confusion)
    predicted = confusion.sum(0)
    actual = confusion.sum(1)
    numerator = correct * total - predicted @ actual
    denominator = np.sqrt(total**2 - predicted @ predicted) * np.sqrt(total**2 - actual @ actual)
    return float(numerator / denominator) if denominator > 0 else 0.0


def regression_metrics(predictions: np.ndarray, labels: np.ndarray) -> dict[str, float | None]:
    result = {
        "pearson": _correlation(predictions, labels),
        "spearman": _correlation(_ranks(predictions), _ranks(labels)),
        "mse": float(np.mean((predictions - labels) ** 2)) if len(labels) else None,
    }
    return _without_undefined(result, labels, 1)


def _without_undefined(result: dict[str, float | None], labels: np.ndarray, num_labels: int) -> dict[str, float | None]:
    return {name: None if value is None or undefined_reason(name, labels, num_labels) else value
            for name, value in result.items()}


def _correlation(a: np.ndarray, b: np.ndarray) -> float | None:
    if len(a) < 2:
        return None
    if np.ptp(a) == 0 or np.ptp(b) == 0:
        return 0.0  # constant predictions: no skill (constant labels are ruled undefined by the caller)
    return float(np.corrcoef(a, b)[0, 1])


def _ranks(values: np.ndarray) -> np.ndarray:
    """Average ranks (ties share the mean of their positions), as Spearman's rho needs."""
    order = np.argsort(values, kind="stable")
    ranks = np.empty(len(values), dtype=float)
    ranks[order] = np.arange(len(values), dtype=float)
    _, inverse, counts = np.unique(values, return_inverse=True, return_counts=True)
    sums = np.bincount(inverse, weights=ranks)
    return sums[inverse] / counts[inverse]


def compute_metrics(outputs: np.ndarray, labels: np.ndarray, num_labels: int) -> dict[str, float | None]:
    """Metrics from raw model outputs (logits, or scores for regression); None where undefined."""
    if num_labels == 1:
        return regression_metrics(outputs.reshape(-1), labels.astype(float))
    return classification_metrics(outputs.argmax(-1), labels.astype(np.int64), num_labels)
