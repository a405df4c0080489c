"""Optimizers with torch.optim's names, options, update rules and state_dict layout; learning-rate
schedules in lr_scheduler."""
from minigan.optim import lr_scheduler
from minigan.optim.adam import Adam, AdamW
from minigan.optim.optimizer import Optimizer
from minigan.optim.rmsprop import RMSprop
from minigan.optim.sgd import SGD

__all__ = ["Adam", "AdamW", "Optimizer", "RMSprop", "SGD", "lr_scheduler"]
