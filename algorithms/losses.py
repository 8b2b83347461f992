"""Policy-gradient loss pieces as pure torch functions (names as in PPO / GRPO / TRL).

Every tensor is per token: ``[B, T]`` with a 0/1 ``mask`` (for the FeaturePolicy a "token" is one discrete
decision; for an LLM it is one generated token). ``advantages`` are per row ``[B]`` and broadcast over tokens.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


def clipped_policy_loss(
    logp: torch.Tensor,
    old_logp: torch.Tensor,
    advantages: torch.Tensor,
    *,
    epsilon: float = 0.2,
    epsilon_high: float | None = None,
    dual_clip: float | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """PPO's clipped surrogate as a per-token loss, and whether each token was clipped.

    ``ratio = exp(logp - old_logp)``; ``pg_loss = -min(ratio * A, clip(ratio, 1 - eps, 1 + eps_high) * A)``.
    With ``dual_clip = c`` (Ye et al. 2020), tokens with ``A < 0`` are bounded by ``-c * A``.
    Shapes: logp, old_logp [B, T]; advantages [B] -> pg_loss [B, T], clipped [B, T] (bool).
    """
    epsilon_high = epsilon if epsilon_high is None else epsilon_high
    adv = advantages.unsqueeze(-1)  # [B, 1]
    ratio = torch.exp(logp - old_logp)  # [B, T]
    pg_losses1 = -ratio * adv
    pg_losses2 = -torch.clamp(ratio, 1.0 - epsilon, 1.0 + epsilon_high) * adv
    pg_loss = torch.maximum(pg_losses1, pg_losses2)  # [B, T]
    clipped = pg_losses2 > pg_losses1
    if dual_clip is not None:
        pg_losses3 = -dual_clip * adv  # [B, 1]
        dual = (adv < 0) & (pg_loss > pg_losses3)
        pg_loss = torch.where(adv < 0, torch.minimum(pg_loss, pg_losses3), pg_loss)
        clipped = clipped | dual
    return pg_loss, clipped


def k3_kl(logp: torch.Tensor, ref_logp: torch.Tensor) -> torch.Tensor:
    """Schulman's k3 estimator of KL(pi || pi_ref) per token: ``exp(r) - r - 1`` with ``r = ref_logp - logp``.

    Always >= 0 and unbiased under samples from pi. Shapes: [B, T] -> [B, T].
    """
    log_ratio = ref_logp - logp
    return torch.exp(log_ratio) - log_ratio - 1.0


def aggregate(
    per_token: torch.Tensor,
    mask: torch.Tensor,
    loss_type: str,
    max_completion_length: int | None = None,
    *,
    total_rows: int | None = None,
    total_tokens: float | None = None,
) -> torch.Tensor:
    """Reduce a per-token quantity ``[B, T]`` to a scalar as the paper of ``loss_type`` defines it.

    * ``grpo`` (Shao et al. 2024): mean over each row's tokens, then mean over rows (sequence-level).
    * ``dapo`` (Yu et al. 2025): sum over all tokens / number of tokens (token-level).
    * ``dr_grpo`` (Liu et al. 2025): sum over all tokens / (rows * max_completion_length) (a constant).

    ``total_rows`` / ``total_tokens`` replace this batch's own counts in the denominators, so that summing the
    losses of micro-batches gives exactly the loss of the whole batch (gradient accumulation).
    """
    mask = mask.to(per_token.dtype)
    rows = per_token.shape[0] if total_rows is None else total_rows
    if loss_type == "grpo":
        return ((per_token * mask).sum(-1) / mask.sum(-1).clamp(min=1.0)).sum() / max(rows, 1)
    if loss_type == "dapo":
        tokens = mask.sum() if total_tokens is None else torch.tensor(float(total_tokens))
        return (per_token * mask).sum() / tokens.clamp(min=1.0)
    if loss_type == "dr_grpo":
        length = per_token.shape[-1] if max_completion_length is None else max_completion_length
        return (per_token * mask).sum() / (max(rows, 1) * length)
    raise ValueError(f"loss_type={loss_type!r}: choose 'grpo', 'dr_grpo' or 'dapo'")


@dataclass
class LossOutput:
    """The scalar loss and what CleanRL/TRL log about it (detached floats)."""

    loss: torch.Tensor
    pg_loss: float
    kl: float
    entropy: float
    clipfrac: float
    approx_kl: float


def grpo_loss(
    logp: torch.Tensor,
    old_logp: torch.Tensor,
    advantages: torch.Tensor,
    mask: torch.Tensor,
    *,
    entropy: torch.Tensor | None = None,
    ref_logp: torch.Tensor | None = None,
    loss_type: str = "dapo",
    epsilon: float = 0.2,
    epsilon_high: float | None = None,
    dual_clip: float | None = None,
    beta: float = 0.0,
    entropy_coef: float = 0.0,
    max_completion_length: int | None = None,
    total_rows: int | None = None,
    total_tokens: float | None = None,
) -> LossOutput:
    """Clipped policy loss + ``beta`` * k3 KL - ``entropy_coef`` * entropy, aggregated by ``loss_type``.

    The logged statistics are token means over this batch.
    Shapes: logp, old_logp, mask, entropy, ref_logp [B, T]; advantages [B] -> scalar.
    """
    pg_loss, clipped = clipped_policy_loss(
        logp, old_logp, advantages, epsilon=epsilon, epsilon_high=epsilon_high, dual_clip=dual_clip
    )
    per_token = pg_loss
    kl = torch.zeros_like(logp)
    if beta > 0.0:
        if ref_logp is None:
            raise ValueError("beta > 0 needs ref_logp from the frozen reference policy")
        kl = k3_kl(logp, ref_logp)
        per_token = per_token + beta * kl
    ent = torch.zeros_like(logp) if entropy is None else entropy
    if entropy_coef > 0.0:
        per_token = per_token - entropy_coef * ent
    loss = aggregate(per_token, mask, loss_type, max_completion_length, total_rows=total_rows, total_tokens=total_tokens)
    with torch.no_grad():
        m = mask.to(logp.dtype)
        n = m.sum().clamp(min=1.0)
        log_ratio = logp - old_logp
        approx_kl = (((log_ratio.exp() - 1) - log_ratio) * m).sum() / n  # k3 of old vs new (CleanRL)
        return LossOutput(
            loss=loss,
            pg_loss=float((pg_loss * m).sum() / n),
            kl=float((kl * m).sum() / n),
            entropy=float((ent * m).sum() / n),
            clipfrac=float((clipped.to(m.dtype) * m).sum() / n),
            approx_kl=float(approx_kl),
        )
