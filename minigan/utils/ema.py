"""An exponential moving average of a model's weights, the generator GAN papers sample from:

    ema = ExponentialMovingAverage(G, decay=0.999)
    ...after each optimizer step on G:  ema.update(G)
    samples = ema.model(z)

The averaged model is a copy of G whose parameters are views into one flat array, so an update
is one `lerp_` over every weight at once: w_avg ← w_avg + (1 - decay)·(w - w_avg). Its buffers
(BatchNorm's running statistics) are copied from G, not averaged, as torch's AveragedModel does
by default. The copy is an ordinary Module: checkpoint it with the others (its state_dict).
"""
import copy

from minigan.nn.utils import parameters_to_vector
from minigan.tensor import no_grad


class ExponentialMovingAverage:
    def __init__(self, model, decay):
        if not 0.0 <= decay < 1.0:
            raise ValueError(f"ExponentialMovingAverage: decay must be in [0, 1), got {decay}")
        self.decay = decay
        self.model = copy.deepcopy(model).requires_grad_(False)
        parameters = list(self.model.parameters())
        with no_grad():
            self.average = parameters_to_vector(parameters)
        start = 0
        for param in parameters:  # once: each parameter becomes a view of its slice of the average
            param.array = self.average.array[start:start + param.numel()].reshape(param.shape)
            start += param.numel()

    def update(self, model):
        with no_grad():
            self.average.lerp_(parameters_to_vector(model.parameters()), 1 - self.decay)
            for own, current in zip(self.model.buffers(), model.buffers()):
                own.copy_(current)
