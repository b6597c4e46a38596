"""peftbench's shared training core: tasks and data, model loading, the training loop, metrics, costs.

Strategies (in ``strategies/``) decide *what* trains; everything here is the same for all of them.
"""
