"""algorithms: who learns. One trainer, three interchangeable estimators (``grpo``, ``global``, ``logo``; plus
``local``), a curriculum over horizons, and exact-resume checkpoints.

>>> from algorithms.config import TrainerConfig
>>> TrainerConfig(estimator="logo", curriculum=[8]).local_num_generations
4
"""
