from .novograd import NovoGrad
from .lr_policies import poly_decay, fixed_lr
from .optimize_loss import optimize_loss
