"""Neural-network building blocks: modules, layers, initialisation and the functional forms."""
from minigan.nn import functional
