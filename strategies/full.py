"""Full fine-tuning: every parameter trains. The reference the other strategies are measured against."""

from core.strategy import Strategy


class Full(Strategy):
    name = "full"
    groups = ("classic",)
    family = "full"
    reference = True
    summary = "every parameter trains"
