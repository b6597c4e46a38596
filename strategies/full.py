"""Full fine-tuning: every parameter trains. The reference the other strategies are measured against."""

from strategies.base import Strategy


class Full(Strategy):
    name = "full"
    summary = "every parameter trains"
