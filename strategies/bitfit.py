"""BitFit (Ben Zaken et al., 2022): only the bias terms of the encoder (and the head) train."""

from strategies.base import Hyperparameter, Strategy


class BitFit(Strategy):
    name = "bitfit"
    summary = "only biases and the head train"
    learning_rate = Hyperparameter("lr", 3e-3, 3e-4, 3e-2, log=True, help="peak learning rate")

    def prepare(self, model, params):
        for name, parameter in model.encoder.named_parameters():
            parameter.requires_grad = name.endswith("bias")
