class NPUDistributedOptimizer:
  def __init__(self, optimizer, name=None):
    self.wrapped_optimizer = optimizer
    self.name = name
