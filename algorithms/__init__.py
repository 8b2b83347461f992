"""algorithms: who learns. One trainer, interchangeable estimators (``grpo``, ``global``, ``logo``, ``local`` and
the GiGPO-style ``logo-sum``; or your own, docs/estimators.md), a curriculum over horizons, and exact-resume
checkpoints. Training runs on ``MemoryR2/Synthetic-v1`` by default.

>>> from algorithms.config import TrainerConfig
>>> TrainerConfig(estimator="logo", curriculum=[8]).local_num_generations
4
"""
