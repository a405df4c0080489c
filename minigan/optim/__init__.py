"""Optimizers with torch.optim's names, options, update rules and state_dict layout."""
from minigan.optim.adam import Adam
from minigan.optim.optimizer import Optimizer
from minigan.optim.sgd import SGD

__all__ = ["Adam", "Optimizer", "SGD"]
