"""Curriculum bookkeeping as pure functions on :class:`~algorithms.checkpoint.TrainerState`.

Stages run the horizons of ``TrainerConfig.curriculum`` in order (Memory-R2: 8 -> 16 -> 32 sessions). Within a
stage, every validation either improves the stage's best value (its checkpoint becomes the warm start of the next
stage, unless ``load_best_model_at_end`` is False: then the stage's last weights are) or counts towards early
stopping. The trainer does the I/O; these functions only decide.
"""

from __future__ import annotations

from algorithms.checkpoint import TrainerState


def best_checkpoint_name(stage: int) -> str:
    """Directory name (under ``checkpoints/``) of a stage's best validation checkpoint."""
    return f"stage{stage}-best"


def handed_on_checkpoint_name(stage: int, load_best_model_at_end: bool) -> str:
    """Directory name of the weights a stage hands on (the next stage's warm start and KL reference): its best
    validation checkpoint, or with ``load_best_model_at_end`` False its last iteration's weights.

    >>> handed_on_checkpoint_name(0, True), handed_on_checkpoint_name(0, False)
    ('stage0-best', 'stage0-last')
    """
    return best_checkpoint_name(stage) if load_best_model_at_end else f"stage{stage}-last"


def record_validation(state: TrainerState, value: float, patience: int | None) -> bool:
    """Note a validation result; return True if it is the stage's new best. Sets ``stage_done`` on patience.

    >>> s = TrainerState()
    >>> record_validation(s, 0.5, 1), record_validation(s, 0.4, 1), s.stage_done
    (True, False, True)
    """
    if state.best_value is None or value > state.best_value:
        state.best_value, state.bad_evals = value, 0
        return True
    state.bad_evals += 1
    state.stage_done = patience is not None and state.bad_evals >= patience
    return False


def stage_finished(state: TrainerState, iterations: int) -> bool:
    """Whether the current stage has run its iterations or stopped early."""
    return state.stage_done or state.iteration >= iterations


def next_stage(state: TrainerState) -> None:
    """Move to the next stage with fresh per-stage counters.

    >>> s = TrainerState(stage=0, iteration=5, best_value=0.7, bad_evals=2, stage_done=True)
    >>> next_stage(s); (s.stage, s.iteration, s.best_value, s.bad_evals, s.stage_done)
    (1, 0, None, 0, False)
    """
    state.stage, state.iteration, state.best_value, state.bad_evals, state.stage_done = state.stage + 1, 0, None, 0, False
