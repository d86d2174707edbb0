from .novograd import NovoGrad
from .lr_policies import (cosine_decay, exp_decay, fixed_lr, inv_poly_decay, piecewise_constant, poly_decay,
                          transformer_policy)
from .automatic_loss_scaler import AutomaticLossScaler
from .mp_wrapper import MixedPrecisionOptimizerWrapper
from .ema import MovingAverageOptimizer
from .optimize_loss import optimize_loss
