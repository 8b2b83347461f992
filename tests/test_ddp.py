"""Two CPU processes (gloo) train under accelerate's DDP: gradients are averaged, parameters stay identical."""

import json
import os
import socket

import torch
import torch.multiprocessing as mp


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(rank: int, world: int, port: int, out_dir: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(world),
                      LOCAL_RANK=str(rank), LOCAL_WORLD_SIZE=str(world))
    torch.set_num_threads(1)
    import torch.distributed as dist

    from algorithms.config import TrainerConfig
    from algorithms.estimators import assign_advantages, build_rows
    from algorithms.losses import grpo_loss
    from algorithms.trainer import Trainer

    cfg = TrainerConfig(curriculum=[2], iterations=1, num_generations=3, local_num_generations=2, local_prob=1.0,
                        conversations_per_iteration=1, eval_seeds=[900], max_grad_norm=1e9)
    trainer = Trainer(cfg)
    params = list(trainer.policy.model.parameters())
    rows = build_rows(trainer.collect(2), "logo")
    assign_advantages(rows)
    # this rank's own gradient, without DDP (the unwrapped module does not synchronise)
    ev = trainer.policy.evaluate(trainer.policy.model, [r.sample for r in rows])
    adv = torch.tensor([r.advantage for r in rows])
    loss = grpo_loss(ev.logp, ev.logp.detach(), adv, ev.mask, loss_type=cfg.loss_type).loss
    local = torch.autograd.grad(loss, params, allow_unused=True)
    local = torch.cat([(g if g is not None else torch.zeros_like(p)).flatten() for g, p in zip(local, params)])
    trainer.update(rows)  # through DDP: leaves the synchronised gradient in .grad
    synced = torch.cat([(p.grad if p.grad is not None else torch.zeros_like(p)).flatten() for p in params])
    flat = torch.cat([p.detach().flatten() for p in params])
    gathered = [torch.zeros_like(flat) for _ in range(world)]
    dist.all_gather(gathered, flat)
    local_all = [torch.zeros_like(local) for _ in range(world)]
    dist.all_gather(local_all, local)
    report = {
        "distributed": trainer.world == world and dist.is_initialized(),
        "params_identical": all(torch.equal(gathered[0], g) for g in gathered),
        "grad_is_mean": torch.allclose(synced, torch.stack(local_all).mean(0), atol=1e-6, rtol=1e-5),
        "local_grads_differ": not torch.allclose(local_all[0], local_all[1]),
        "seeds": trainer.train_seeds(),
    }
    with open(os.path.join(out_dir, f"rank{rank}.json"), "w") as handle:
        json.dump(report, handle)
    dist.destroy_process_group()


def test_two_process_ddp_averages_gradients(tmp_path):
    mp.spawn(_worker, args=(2, _free_port(), str(tmp_path)), nprocs=2, join=True)
    reports = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in range(2)]
    for report in reports:
        assert report["distributed"]
        assert report["params_identical"]
        assert report["grad_is_mean"]
        assert report["local_grads_differ"]
    assert reports[0]["seeds"] != reports[1]["seeds"], "each rank rolls out its own conversations"
