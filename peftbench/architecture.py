"""What strategies need to know about a transformer, found from its structure rather than its layer names.

Layer names differ by family (BERT ``encoder.layer.N.attention.output.dense``, GPT-2 ``h.N.attn.c_proj``,
Llama ``layers.N.self_attn.o_proj``, ModernBERT ``layers.N.attn.Wo``), so reading names breaks on the next
family. The structure does not:

- the **blocks** are the largest ``nn.ModuleList`` whose members are all of one class (its depth order is
  the stack's order; ALBERT's one shared layer shows up as fewer distinct blocks than layers);
- each block's **attention** is its outermost sub-module whose class is an attention class;
- linear layers inside the attention that read the hidden state are its **input projections** (query,
  key, value, or one fused ``Wqkv``/``c_attn``/``qkv_proj``), and the last one that writes it back is its
  **output projection**; the last linear of the block outside the attention that writes the hidden state
  back is the **feed-forward output projection** (``output.dense``, ``mlp.c_proj``, ``down_proj``, ``Wo``);
- parameters registered before the blocks, and every embedding table, are the **embeddings**; parameters
  registered after them (GPT-2's ``ln_f``, Llama's ``norm``) are the **top** (the final norm).

Where structure cannot tell which projections are the query and value, peft's own per-family table
(``TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING``) says; families it lacks get every input projection.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from peftbench.errors import UserError


def is_linear(module: nn.Module) -> bool:
    """A linear map in any of the forms transformers and bitsandbytes use (nn.Linear, GPT-2's Conv1D,
    bitsandbytes' Linear4bit/Linear8bitLt, which subclass nn.Linear)."""
    return isinstance(module, nn.Linear) or type(module).__name__ == "Conv1D"


def linear_shape(module: nn.Module) -> tuple[int, int]:
    """(in_features, out_features) of a linear-like module; Conv1D stores its weight transposed."""
    if isinstance(module, nn.Linear):
        return module.in_features, module.out_features
    return module.weight.shape[0], module.nf


def is_attention(module: nn.Module) -> bool:
    return "attention" in type(module).__name__.lower()


@dataclass
class Block:
    """One transformer block: its path, and the paths of the projections strategies attach to."""

    path: str
    attention_inputs: list[str]  # query/key/value (or fused) projections
    attention_output: str | None
    feedforward_output: str | None


@dataclass
class Architecture:
    """The structure of a bare encoder or decoder (``AutoModel``), as strategies need it."""

    model_class: str
    model_type: str
    hidden_size: int
    num_layers: int  # as configured; more than len(blocks) when blocks are shared (ALBERT)
    blocks_path: str
    blocks: list[Block]
    embeddings: list[str]  # parameter names below the blocks (and every embedding table)
    top: list[str]  # parameter names above the blocks (the final norm)

    @property
    def shared_layers(self) -> bool:
        return len(self.blocks) < self.num_layers

    def depth(self, parameter: str) -> int:
        """0 for the embeddings, i for a parameter of the i-th block (1-based), len(blocks) above them."""
        prefix = self.blocks_path + "."
        if parameter.startswith(prefix):
            return int(parameter[len(prefix):].split(".", 1)[0]) + 1
        return 0 if parameter in self.embeddings else len(self.blocks)


def find_architecture(model: nn.Module) -> Architecture:
    """The structure of a bare transformers model; one clear UserError when it has no block stack."""
    config = getattr(model, "config", None)
    name = type(model).__name__
    if config is None:
        raise UserError(f"{name} is not a transformers model (it has no config)")
    blocks_path, stack = _block_stack(model)
    hidden = _hidden_size(config)
    blocks = [_block(f"{blocks_path}.{index}", block, hidden) for index, block in enumerate(stack)]
    names = [n for n, _ in model.named_parameters()]
    first = next(i for i, n in enumerate(names) if n.startswith(blocks_path + "."))
    last = max(i for i, n in enumerate(names) if n.startswith(blocks_path + "."))
    tables = {f"{path}.weight" for path, module in model.named_modules() if isinstance(module, nn.Embedding)}
    embeddings = [n for i, n in enumerate(names) if i < first or (n in tables and i > last)]
    top = [n for i, n in enumerate(names) if i > last and n not in tables]
    layers = getattr(config, "num_hidden_layers", None) or getattr(config, "n_layer", None) or len(blocks)
    return Architecture(name, getattr(config, "model_type", "unknown"), hidden, layers, blocks_path, blocks,
                        embeddings, top)


def _hidden_size(config) -> int:
    for key in ("hidden_size", "n_embd", "d_model", "dim"):
        if isinstance(getattr(config, key, None), int):
            return getattr(config, key)
    raise UserError(f"{type(config).__name__} declares no hidden size")


def _block_stack(model: nn.Module) -> tuple[str, nn.ModuleList]:
    """The ModuleList of identical blocks holding the most parameters (the innermost on a tie, so
    ALBERT's group-of-layers nesting resolves to its layers)."""
    best: tuple[int, int, str, nn.ModuleList] | None = None
    for path, module in model.named_modules():
        if not isinstance(module, nn.ModuleList) or len(module) == 0:
            continue
        if len({type(child) for child in module}) != 1:
            continue
        size = sum(p.numel() for p in module.parameters())
        key = (size, path.count("."))
        if size and (best is None or key > best[:2]):
            best = (size, path.count("."), path, module)
    if best is None:
        raise UserError(f"{type(model).__name__} has no stack of transformer blocks that peftbench can find")
    return best[2], best[3]


def _block(path: str, block: nn.Module, hidden: int) -> Block:
    attention_path = next((p for p, m in block.named_modules() if p and is_attention(m)), None)
    linears = [(p, m) for p, m in block.named_modules() if is_linear(m)]
    inside = [(p, m) for p, m in linears if attention_path and p.startswith(attention_path + ".")]
    outside = [(p, m) for p, m in linears if not (attention_path and p.startswith(attention_path + "."))]
    writes_back = [p for p, m in inside if linear_shape(m)[1] == hidden]
    attention_output = writes_back[-1] if writes_back else None
    inputs = [p for p, m in inside if p != attention_output and linear_shape(m)[0] == hidden]
    feedforward = [p for p, m in outside if linear_shape(m)[1] == hidden]
    full = lambda p: f"{path}.{p}" if p else None  # noqa: E731
    return Block(path, [full(p) for p in inputs], full(attention_output),
                 full(feedforward[-1]) if feedforward else None)


def lora_attention_targets(model: nn.Module, arch: Architecture) -> list[str]:
    """Module paths of the attention projections LoRA adapts by default: peft's per-family choice where it
    has one (query and value, as in the LoRA paper), every attention input projection otherwise."""
    from peft.utils.constants import TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING as DEFAULTS

    inputs = [p for block in arch.blocks for p in block.attention_inputs]
    suffixes = DEFAULTS.get(arch.model_type)
    if suffixes:
        chosen = [p for p in inputs if any(p == s or p.endswith("." + s) for s in suffixes)]
        if chosen:
            return chosen
    return inputs


def all_linear_targets(model: nn.Module, arch: Architecture) -> list[str]:
    """Every linear layer inside the blocks."""
    prefix = arch.blocks_path + "."
    return [p for p, m in model.named_modules() if p.startswith(prefix) and is_linear(m)]


def norm_layers(model: nn.Module) -> list[str]:
    """Module paths of the normalisation layers that have parameters (LayerNorm, RMSNorm, LlamaRMSNorm, ...:
    transformers names every such class ``...Norm``)."""
    return [path for path, module in model.named_modules()
            if type(module).__name__.endswith("Norm") and any(True for _ in module.parameters(recurse=False))]


def bias_names(model: nn.Module) -> list[str]:
    return [n for n, p in model.named_parameters() if n.endswith("bias") and p.ndim == 1]


def is_causal(model: nn.Module) -> bool:
    """Whether the model's first position ignores later tokens, measured: change the last token of a short
    input and see whether the first position's output moves. Config flags and class names disagree across
    families (BERT has a causal-LM head class; GPT-2's config has no is_decoder); the model cannot."""
    embeddings = model.get_input_embeddings()
    ids = (torch.tensor([[1, 2, 3, 4], [1, 2, 3, 5]]) % embeddings.num_embeddings).to(embeddings.weight.device)
    was_training = model.training
    model.eval()
    with torch.inference_mode():
        hidden = model(input_ids=ids, attention_mask=torch.ones_like(ids)).last_hidden_state.float()
    model.train(was_training)
    return torch.allclose(hidden[0, 0], hidden[1, 0], rtol=0, atol=1e-6)
