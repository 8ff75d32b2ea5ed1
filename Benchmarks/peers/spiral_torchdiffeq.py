"""The neural-ODE spiral trained by torchdiffeq (PyTorch), under the protocol of
Data/peers/README.md: dopri5 with autograd through the solver, float64, one thread.

Prints one JSON line like spiral_diffrax.py. Usage: python spiral_torchdiffeq.py [tight|default]
"""
import json, sys, time, pathlib

import torch
from torchdiffeq import odeint

torch.set_num_threads(1)
torch.set_default_dtype(torch.float64)
root = pathlib.Path(__file__).resolve().parents[2] / "Data" / "peers"
data = json.loads((root / "spiral_data.json").read_text())
init = json.loads((root / "spiral_init_seed0.json").read_text())
tol = sys.argv[1] if len(sys.argv) > 1 else "tight"
rtol, atol = (1e-7, 1e-9) if tol == "tight" else (1e-3, 1e-6)
ts = torch.tensor(data["ts"])
target = torch.tensor(data["data"])
u0 = torch.tensor(data["u0"])
W1, b1, W2, b2 = (torch.tensor(init[k], requires_grad=True) for k in ("W1", "b1", "W2", "b2"))


def f(t, u):
    return W2 @ torch.tanh(W1 @ (u ** 3) + b1) + b2


opt = torch.optim.Adam([W1, b1, W2, b2], lr=0.1, betas=(0.9, 0.999), eps=1e-8)
times, losses = [], []
for k in range(301):
    start = time.perf_counter()
    opt.zero_grad()
    pred = odeint(f, u0, ts, rtol=rtol, atol=atol, method="dopri5")
    loss = ((pred - target) ** 2).sum()
    loss.backward()
    opt.step()
    times.append(time.perf_counter() - start)
    losses.append(float(loss))
print(json.dumps({
    "peer": "torchdiffeq (autograd)", "tolerances": tol,
    "ms_per_iteration": 1000 * sum(times[10:110]) / 100, "first_iteration_s": times[0],
    "loss_0": losses[0], "loss_300": losses[300]}))
