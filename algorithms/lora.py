"""LoRA adapters (peft) on an LLM policy's model: a frozen base -- fp32, or bf16 to halve CPU time -- and
trainable fp32 low-rank adapters on every linear layer but the LM head.

:func:`add_lora` injects the adapters *into the given model* (peft replaces its linear layers in place), so the
backend that generates and scores with that model uses them with no other change; it returns the
``PeftModel`` wrapper, whose ``merge_and_unload()`` folds the adapters back into plain weights (what
``memr2 sft`` saves). Dropout is 0: a trainer recomputes the log-probs it sampled, and dropout would make them
differ.
"""

from __future__ import annotations

import warnings
from typing import Any

import torch

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16}


def torch_dtype(name: str) -> torch.dtype:
    """The torch dtype of a config name (``float32`` | ``bfloat16``)."""
    if name not in DTYPES:
        raise ValueError(f"llm_dtype={name!r}: choose one of {sorted(DTYPES)}")
    return DTYPES[name]


def add_lora(model: torch.nn.Module, r: int, alpha: int | None = None, *, seed: int) -> Any:
    """Freeze ``model`` and give every linear layer (not the LM head) a rank-``r`` fp32 adapter, scaled by
    ``alpha / r`` (default alpha = 2r); returns the peft wrapper. Needs ``peft`` (``pip install peft``, in the
    ``llm`` extra).

    peft draws the adapters' ``A`` matrices from torch's global generator, which torch seeds from the OS at start
    (a different ``A`` per process: the loss of the first step agrees, its gradient does not). ``seed`` fixes
    them, without touching the caller's global generator.
    """
    if r < 1:
        raise ValueError(f"lora_r={r}: a LoRA rank must be >= 1 (0 means: no adapters, train every weight)")
    try:
        from peft import LoraConfig, get_peft_model
    except ImportError as exc:
        raise ImportError("LoRA needs peft: pip install peft (or pip install -e '.[llm]')") from exc
    config = LoraConfig(r=r, lora_alpha=alpha or 2 * r, lora_dropout=0.0, target_modules="all-linear", bias="none")
    with torch.random.fork_rng(devices=[]), warnings.catch_warnings():
        # peft reads transformers' deprecated is_gradient_checkpointing: a FutureWarning no user can act on
        warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
        torch.manual_seed(seed)
        wrapped = get_peft_model(model, config, autocast_adapter_dtype=True)  # adapters in fp32 on a bf16 base
    for name, parameter in model.named_parameters():  # autocast covers bf16/fp16 bases; make it explicit
        if "lora_" in name:
            parameter.data = parameter.data.float()
    if hasattr(model, "enable_input_require_grads"):  # gradient checkpointing with a frozen embedding layer
        model.enable_input_require_grads()
    return wrapped


def trainable_parameters(model: torch.nn.Module) -> dict[str, torch.nn.Parameter]:
    """Name -> parameter of what an optimizer updates (with adapters: the adapters only)."""
    return {name: p for name, p in model.named_parameters() if p.requires_grad}
