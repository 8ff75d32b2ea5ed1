"""The neural-ODE spiral trained by diffrax (JAX), under the protocol of Data/peers/README.md.

Prints one JSON line: {"peer", "tolerances", "ms_per_iteration", "first_iteration_s",
"loss_0", "loss_300"}. Same data and seed-0 initial weights as the Swift benchmark; float64;
Tsit5; the loss is the sum of squared errors over all 30 x 2 values; Adam(0.1) with
beta = (0.9, 0.999), eps = 1e-8; time per iteration = mean over iterations 10 to 109.
Usage: python spiral_diffrax.py [tight|default] [checkpointed|backsolve]
"""
import json, sys, time, pathlib

import jax
jax.config.update("jax_enable_x64", True)
jax.config.update("jax_platform_name", "cpu")
import jax.numpy as jnp
import diffrax
import optax

root = pathlib.Path(__file__).resolve().parents[2] / "Data" / "peers"
data = json.loads((root / "spiral_data.json").read_text())
init = json.loads((root / "spiral_init_seed0.json").read_text())
tol = sys.argv[1] if len(sys.argv) > 1 else "tight"
adjoint_name = sys.argv[2] if len(sys.argv) > 2 else "checkpointed"
rtol, atol = (1e-7, 1e-9) if tol == "tight" else (1e-3, 1e-6)
ts = jnp.array(data["ts"])
target = jnp.array(data["data"])
u0 = jnp.array(data["u0"])
params = {k: jnp.array(init[k]) for k in ("W1", "b1", "W2", "b2")}


def f(t, u, p):
    h = jnp.tanh(p["W1"] @ (u ** 3) + p["b1"])
    return p["W2"] @ h + p["b2"]


adjoint = diffrax.BacksolveAdjoint() if adjoint_name == "backsolve" else diffrax.RecursiveCheckpointAdjoint()


def loss(p):
    sol = diffrax.diffeqsolve(
        diffrax.ODETerm(f), diffrax.Tsit5(), t0=0.0, t1=1.5, dt0=None, y0=u0, args=p,
        saveat=diffrax.SaveAt(ts=ts), stepsize_controller=diffrax.PIDController(rtol=rtol, atol=atol),
        adjoint=adjoint, max_steps=100000)
    return jnp.sum((sol.ys - target) ** 2)


opt = optax.adam(0.1, b1=0.9, b2=0.999, eps=1e-8)
state = opt.init(params)


@jax.jit
def step(p, s):
    value, g = jax.value_and_grad(loss)(p)
    updates, s = opt.update(g, s, p)
    return optax.apply_updates(p, updates), s, value


times, losses = [], []
for k in range(301):
    start = time.perf_counter()
    params, state, value = step(params, state)
    value.block_until_ready()
    times.append(time.perf_counter() - start)
    losses.append(float(value))
print(json.dumps({
    "peer": f"diffrax ({adjoint_name})", "tolerances": tol,
    "ms_per_iteration": 1000 * sum(times[10:110]) / 100, "first_iteration_s": times[0],
    "loss_0": losses[0], "loss_300": losses[300]}))
