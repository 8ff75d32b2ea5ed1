"""sde-bench's GBM ensemble solved by diffrax (JAX), for the side-by-side peer figures.

GBM du = mu u dt + sigma u dW (Ito), u0 = 1/2, mu = 1.01, sigma = 0.87 on [0, 1]; 100 paths,
1000 Euler-Maruyama steps (diffrax.Euler on a MultiTerm, dt = 1e-3, constant step size), float64
on the CPU. Forward: the mean of u(1) over the paths. Gradient: d mean u(1) / d mu, by
reverse mode through the solve (diffrax's default RecursiveCheckpointAdjoint) on the tree, by
forward mode (jax.jacfwd, adjoint=ForwardMode()) on UnsafeBrownianPath, which refuses reverse mode. Both jitted and
vmapped over the paths; the time is the median of 5 runs after the compiling one.
Usage: python sde_gbm_diffrax.py [tree|unsafe]   (the Brownian motion: VirtualBrownianTree with
tolerance 1e-4, or UnsafeBrownianPath, which draws each increment from the key and time alone)
Prints one JSON line: {"peer", "brownian", "forward_ms", "gradient_ms", "mean", "gradient"}.
"""
import json, sys, time

import jax
jax.config.update("jax_enable_x64", True)
jax.config.update("jax_platform_name", "cpu")
import jax.numpy as jnp
import diffrax

brownian = sys.argv[1] if len(sys.argv) > 1 else "tree"
paths, steps, sigma, u0 = 100, 1000, 0.87, 0.5
keys = jax.random.split(jax.random.PRNGKey(0), paths)


def end_value(mu, key):
    if brownian == "tree":
        bm = diffrax.VirtualBrownianTree(0.0, 1.0, tol=1e-4, shape=(), key=key)
    else:
        bm = diffrax.UnsafeBrownianPath(shape=(), key=key)
    terms = diffrax.MultiTerm(
        diffrax.ODETerm(lambda t, u, args: args * u),
        diffrax.ControlTerm(lambda t, u, args: sigma * u, bm))
    sol = diffrax.diffeqsolve(
        terms, diffrax.Euler(), t0=0.0, t1=1.0, dt0=1.0 / steps, y0=jnp.asarray(u0), args=mu,
        saveat=diffrax.SaveAt(t1=True), max_steps=steps + 10,
        adjoint=diffrax.RecursiveCheckpointAdjoint() if brownian == "tree" else diffrax.ForwardMode())
    return sol.ys[-1]


def mean_end(mu):
    return jnp.mean(jax.vmap(end_value, in_axes=(None, 0))(mu, keys))


forward = jax.jit(mean_end)
gradient = jax.jit(jax.grad(mean_end) if brownian == "tree" else jax.jacfwd(mean_end))


def median_ms(fn):
    fn(1.01).block_until_ready()
    times = []
    for _ in range(5):
        start = time.perf_counter()
        fn(1.01).block_until_ready()
        times.append(time.perf_counter() - start)
    times.sort()
    return 1000 * times[len(times) // 2]


print(json.dumps({
    "peer": "diffrax " + diffrax.__version__, "brownian": brownian,
    "gradient_mode": "reverse" if brownian == "tree" else "forward",
    "forward_ms": median_ms(forward), "gradient_ms": median_ms(gradient),
    "mean": float(forward(1.01)), "gradient": float(gradient(1.01))}))
