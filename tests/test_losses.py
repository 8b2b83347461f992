"""Clipped policy loss, k3 KL, entropy bonus and the three loss normalisations, against hand-computed numbers."""

import math

import pytest
import torch

from algorithms.losses import aggregate, clipped_policy_loss, grpo_loss, k3_kl


def test_clipped_loss_hand_numbers():
    # ratios e^{0.5}=1.6487 (A=+1 -> clipped at 1.2), e^{-0.5}=0.6065 (A=-1 -> clipped at 0.8), 1 (A=+2)
    logp = torch.tensor([[0.5, -0.5, 0.0]])
    old = torch.zeros(1, 3)
    adv = torch.tensor([1.0])
    loss, clipped = clipped_policy_loss(logp, old, adv, epsilon=0.2)
    torch.testing.assert_close(loss, torch.tensor([[-1.2, -math.exp(-0.5), -1.0]]))
    assert clipped.tolist() == [[True, False, False]]
    loss_neg, clipped_neg = clipped_policy_loss(logp, old, torch.tensor([-1.0]), epsilon=0.2)
    torch.testing.assert_close(loss_neg, torch.tensor([[math.exp(0.5), 0.8, 1.0]]))
    assert clipped_neg.tolist() == [[False, True, False]]


def test_clip_higher_and_dual_clip():
    logp, old = torch.tensor([[0.5]]), torch.zeros(1, 1)
    loss, _ = clipped_policy_loss(logp, old, torch.tensor([1.0]), epsilon=0.2, epsilon_high=0.28)
    torch.testing.assert_close(loss, torch.tensor([[-1.28]]))
    # A = -1, ratio e^2 = 7.39: plain PPO loss 7.39, dual clip c = 3 bounds it at 3
    big = torch.tensor([[2.0]])
    plain, _ = clipped_policy_loss(big, old, torch.tensor([-1.0]))
    dual, clipped = clipped_policy_loss(big, old, torch.tensor([-1.0]), dual_clip=3.0)
    assert plain.item() == pytest.approx(math.exp(2.0), rel=1e-5)
    assert dual.item() == pytest.approx(3.0) and clipped.item()


def test_k3_kl():
    logp, ref = torch.tensor([0.0, -1.0]), torch.tensor([0.0, -0.5])
    # r = ref - logp = [0, 0.5]: exp(r) - r - 1 = [0, e^0.5 - 1.5]
    torch.testing.assert_close(k3_kl(logp, ref), torch.tensor([0.0, math.exp(0.5) - 1.5]))
    assert (k3_kl(torch.randn(50), torch.randn(50)) >= 0).all()


def test_aggregate_normalisations():
    x = torch.tensor([[1.0, 2.0, 3.0], [4.0, 0.0, 0.0]])
    mask = torch.tensor([[1.0, 1.0, 1.0], [1.0, 0.0, 0.0]])
    assert aggregate(x, mask, "grpo").item() == pytest.approx((2.0 + 4.0) / 2)  # per-sequence mean, then mean
    assert aggregate(x, mask, "dapo").item() == pytest.approx(10.0 / 4)  # token-level
    assert aggregate(x, mask, "dr_grpo", max_completion_length=5).item() == pytest.approx(10.0 / (2 * 5))
    assert aggregate(x, mask, "dr_grpo").item() == pytest.approx(10.0 / 6)
    with pytest.raises(ValueError, match="loss_type"):
        aggregate(x, mask, "ppo")


def test_grpo_loss_terms_and_gradient():
    logp = torch.tensor([[-1.0, -2.0]], requires_grad=True)
    ref = torch.tensor([[-1.5, -2.0]])
    ent = torch.tensor([[0.7, 0.3]])
    mask = torch.ones(1, 2)
    adv = torch.tensor([2.0])
    out = grpo_loss(logp, logp.detach(), adv, mask, entropy=ent, ref_logp=ref, beta=0.1, entropy_coef=0.01)
    kl = torch.tensor([math.exp(-0.5) + 0.5 - 1, 0.0])
    expected = (-2.0 + 0.1 * kl - 0.01 * ent[0]).mean()
    assert out.loss.item() == pytest.approx(expected.item(), rel=1e-6)
    assert out.kl == pytest.approx(kl.mean().item()) and out.entropy == pytest.approx(0.5)
    out.loss.backward()
    # d/dlogp of -ratio*A at ratio 1 is -A; KL term: beta * (1 - exp(ref - logp)) ; mean over 2 tokens
    grad = (-2.0 + 0.1 * (1 - torch.exp(ref - logp.detach()))) / 2
    torch.testing.assert_close(logp.grad, grad)
    with pytest.raises(ValueError, match="ref_logp"):
        grpo_loss(logp, logp.detach(), adv, mask, beta=0.1)


@pytest.mark.parametrize("loss_type", ["grpo", "dapo", "dr_grpo"])
def test_micro_batches_sum_to_the_full_batch_loss(loss_type):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(5, 4, generator=g)
    mask = torch.tensor([[1, 1, 1, 0], [1, 0, 0, 0], [1, 1, 1, 1], [1, 1, 0, 0], [1, 1, 1, 0]], dtype=torch.float32)
    full = aggregate(x, mask, loss_type, max_completion_length=4)
    parts = sum(
        aggregate(x[i : i + 2], mask[i : i + 2], loss_type, max_completion_length=4, total_rows=5, total_tokens=mask.sum().item())
        for i in range(0, 5, 2)
    )
    assert parts.item() == pytest.approx(full.item(), rel=1e-6)
