"""QLoRA (Dettmers et al., 2023): the encoder is loaded in 4-bit NF4 by bitsandbytes, then LoRA trains.

bitsandbytes is imported only here (``requires``), so a platform without it loses this strategy alone: a
comparison skips it with one line, and asking for it by name is refused in one line.
The pooler and classifier stay unquantised: bitsandbytes' CPU path asserts on them otherwise.

**Never repack.** On a CPU with AVX512-BF16, bitsandbytes (0.50) repacks a ``Linear4bit`` weight into a bf16
inference layout the first time the layer runs in eval mode on an input without grad
(``Linear4bit.forward``, when ``support_avx512bf16_for_cpu``); from then on ``matmul_4bit`` takes the packed
``gemv_4bit`` path, whose in-place bias add fails under autograd, and which computes in bf16 a slightly
different function from the one trained. Our first eval-mode pass comes before training (``is_causal`` in
``peftbench.build``), so the flag is switched off in :meth:`loaded`, as the encoder is loaded and before it ever
runs; training, evaluation, inference timing, saving, reloading and export then all compute with the
layout that trained. The exported loading code does the same (``peftbench.models.keep_training_layout``).
"""

from __future__ import annotations

import torch

from peftbench.models import keep_training_layout
from peftbench.strategy import Hyperparameter
from strategies.lora import Lora


class QLora(Lora):
    name = "qlora"
    paper = """@inproceedings{dettmers2023qlora,
  author = {Dettmers, Tim and Pagnoni, Artidoro and Holtzman, Ari and Zettlemoyer, Luke},
  title = {{QLoRA}: Efficient Finetuning of Quantized {LLMs}},
  booktitle = {Advances in Neural Information Processing Systems (NeurIPS)},
  year = {2023}
}"""
    groups = ("classic", "lora-family")
    family = "quantised"
    summary = "LoRA on a 4-bit NF4-quantised encoder (bitsandbytes)"
    requires = ("bitsandbytes",)  # imported only here: a platform without it loses these strategies alone
    hyperparameters = Lora.hyperparameters + (
        Hyperparameter("double_quant", True, choices=(True, False), help="quantise the quantisation constants too"),
    )

    def quantization(self):
        from transformers import BitsAndBytesConfig

        compute = torch.bfloat16 if torch.cuda.is_available() and torch.cuda.is_bf16_supported() else torch.float32
        return BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type="nf4",
            bnb_4bit_use_double_quant=self.params["double_quant"],
            bnb_4bit_compute_dtype=compute,
            llm_int8_skip_modules=["classifier", "pooler"],
        )

    def loaded(self, encoder):
        keep_training_layout(encoder)

    def prepare(self, model, total_steps):
        from peft import prepare_model_for_kbit_training

        model.encoder = prepare_model_for_kbit_training(model.encoder, use_gradient_checkpointing=False)
        super().prepare(model, total_steps)
