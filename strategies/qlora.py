"""QLoRA (Dettmers et al., 2023): the encoder is loaded in 4-bit NF4 by bitsandbytes, then LoRA trains.

bitsandbytes is imported only here, so a platform without it fails this strategy alone, in one line.
The pooler and classifier stay unquantised: bitsandbytes' CPU path asserts on them otherwise.
bitsandbytes also repacks 4-bit weights into a bf16 inference layout the first time a layer runs in
eval mode on an AVX512-BF16 CPU; a training step after that fails, and evaluation would compute a
different function from the one trained. We switch that repacking off so evaluation mid-training works.
"""

from __future__ import annotations

import torch

from core.errors import UserError
from core.strategy import Hyperparameter
from strategies.lora import Lora


class QLora(Lora):
    name = "qlora"
    groups = ("classic", "lora-family")
    family = "quantised"
    summary = "LoRA on a 4-bit NF4-quantised encoder (bitsandbytes)"
    hyperparameters = Lora.hyperparameters + (
        Hyperparameter("double_quant", True, choices=(True, False), help="quantise the quantisation constants too"),
    )

    def quantization(self):
        try:
            import bitsandbytes  # noqa: F401  (only to fail early with a clear message)
        except Exception as error:  # ImportError, or a RuntimeError from a missing native library
            raise UserError(f"strategy {self.name} needs bitsandbytes, which cannot load here ({type(error).__name__}: "
                            f"{str(error).splitlines()[0] if str(error) else ''}); pip install bitsandbytes>=0.47") from None
        from transformers import BitsAndBytesConfig

        compute = torch.bfloat16 if torch.cuda.is_available() and torch.cuda.is_bf16_supported() else torch.float32
        return BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type="nf4",
            bnb_4bit_use_double_quant=self.params["double_quant"],
            bnb_4bit_compute_dtype=compute,
            llm_int8_skip_modules=["classifier", "pooler"],
        )

    def prepare(self, model, total_steps):
        from peft import prepare_model_for_kbit_training

        model.encoder = prepare_model_for_kbit_training(model.encoder, use_gradient_checkpointing=False)
        for module in model.encoder.modules():
            if getattr(module, "support_avx512bf16_for_cpu", False):
                module.support_avx512bf16_for_cpu = False
        super().prepare(model, total_steps)
