class NPUBroadcastGlobalVariablesHook:
  def __init__(self, root_rank=None, index=None):
    self.root_rank = root_rank
    self.index = index
