"""sde-bench's GBM ensemble solved by torchsde (PyTorch), for the side-by-side peer figures.

GBM du = mu u dt + sigma u dW (Ito), u0 = 1/2, mu = 1.01, sigma = 0.87 on [0, 1]; 100 paths as
one batch, 1000 Euler-Maruyama steps (method "euler", dt = 1e-3, fixed), float64 on the CPU.
Forward: the mean of u(1) over the paths (no gradient recorded). Gradient: d mean u(1) / d mu by
backpropagation through the solver's operations (torchsde.sdeint; sdeint_adjoint would solve an
adjoint SDE instead). The Brownian motion is torchsde's default BrownianInterval. Time: median of
5 runs after a first one. Usage: python sde_gbm_torchsde.py
Prints one JSON line: {"peer", "forward_ms", "gradient_ms", "mean", "gradient"}.
"""
import json, time

import torch
import torchsde

torch.set_default_dtype(torch.float64)
torch.manual_seed(0)
paths, steps, sigma, u0 = 100, 1000, 0.87, 0.5


class GBM(torch.nn.Module):
    noise_type = "diagonal"
    sde_type = "ito"

    def __init__(self, mu):
        super().__init__()
        self.mu = torch.nn.Parameter(torch.tensor(mu))

    def f(self, t, y):
        return self.mu * y

    def g(self, t, y):
        return sigma * y


sde = GBM(1.01)
y0 = torch.full((paths, 1), u0)
ts = torch.tensor([0.0, 1.0])


def forward():
    with torch.no_grad():
        return torchsde.sdeint(sde, y0, ts, method="euler", dt=1.0 / steps)[-1].mean()


def gradient():
    sde.zero_grad()
    loss = torchsde.sdeint(sde, y0, ts, method="euler", dt=1.0 / steps)[-1].mean()
    loss.backward()
    return loss, sde.mu.grad


def median_ms(fn):
    fn()
    times = []
    for _ in range(5):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    times.sort()
    return 1000 * times[len(times) // 2]


mean = float(forward())
grad = float(gradient()[1])
print(json.dumps({
    "peer": "torchsde " + getattr(torchsde, "__version__", "?"),
    "forward_ms": median_ms(forward), "gradient_ms": median_ms(gradient), "mean": mean, "gradient": grad}))
