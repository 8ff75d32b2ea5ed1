"""Reference for DDETST A1 (Mackey & Glass 1977): u'(t) = 0.2 u(t-14)/(1 + u(t-14)^10) - 0.1 u(t),
phi = 0.5 for t <= 0, t in [0, 500]; DDETST (Paul 1994) states the problem, not a value at 500.

An independent method of steps, not ours: classical RK4 with a fixed step h = 1/M (so every
delayed stage time t + c h - 14 and every output time falls on a grid point or a half step), the half-step values read
from the cubic Hermite interpolant of the stored grid (u, u'), error O(h^4) like the method.
Run offline once (python3 mackey_glass_rk4.py); prints u at t = 50, 100, ..., 500 for M = 64,
128, 256 and the Richardson-extrapolated values (error ratio 16 checked). Tests never run it.
"""
import sys


def solve(M, T=500.0, tau=14.0):
    h = 1.0 / M
    N = int(round(tau * M))
    steps = int(round(T / h))
    def g(y):
        return 0.2 * y / (1.0 + y ** 10)
    u = [0.5] * (steps + 1)
    du = [0.0] * (steps + 1)
    def delayed(k, half):
        # u at grid index k (+ 1/2 if half); k < 0 is the history.
        j = k - N
        if j < 0:
            return 0.5
        if not half:
            return u[j]
        # cubic Hermite at the midpoint of [j, j+1]
        return 0.5 * (u[j] + u[j + 1]) + h / 8.0 * (du[j] - du[j + 1])
    f0 = lambda y, yd: g(yd) - 0.1 * y
    du[0] = f0(u[0], 0.5)
    for k in range(steps):
        y = u[k]
        d0 = delayed(k, False)
        dm = delayed(k, True)
        k1 = f0(y, d0)
        k2 = f0(y + 0.5 * h * k1, dm)
        k3 = f0(y + 0.5 * h * k2, dm)
        # the delayed value at t + h is grid index k + 1 - N <= k: already computed
        d1 = delayed(k + 1, False)
        k4 = f0(y + h * k3, d1)
        u[k + 1] = y + h / 6.0 * (k1 + 2 * k2 + 2 * k3 + k4)
        du[k + 1] = f0(u[k + 1], d1)
    return [u[int(round(t / h))] for t in range(50, 501, 50)]


if __name__ == "__main__":
    Ns = [int(a) for a in sys.argv[1:]] or [64, 128, 256]
    results = {N: solve(N) for N in Ns}
    for N in Ns:
        print(N, " ".join("%.16e" % v for v in results[N]))
    a, b, c = (results[N] for N in Ns[-3:])
    for i, t in enumerate(range(50, 501, 50)):
        rich = c[i] + (c[i] - b[i]) / 15.0
        ratio = (b[i] - a[i]) / (c[i] - b[i]) if c[i] != b[i] else float("nan")
        print("t=%d richardson %.16e  diff %.2e  ratio %.1f" % (t, rich, c[i] - b[i], ratio))
