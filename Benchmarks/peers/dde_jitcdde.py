"""dde-bench's peer: JiTCDDE (Ansmann 2018, https://github.com/neurophysik/jitcdde; Bogacki-Shampine
3(2) on a cubic Hermite history, the right-hand side compiled to C) on the two problems of dde-bench's
work-precision table. Usage: dde_jitcdde.py unitlag|mackey TOL. Prints one JSON line: the seconds per
solve (median of 5, the C code compiled once before timing), the steps are not reported by JiTCDDE.

unitlag: u' = -u(t - 1), u = 1 for t <= 0, t in [0, 10]; error = max |u(k) - exact(k)|, k = 1..10
(exact piecewise polynomial, Paul 1994 eq. 1.1.1). mackey: DDETST A1, u' = 0.2u(t-14)/(1+u(t-14)^10)
- 0.1u, history 0.5, t in [0, 500]; error = max over t = 50, ..., 500 against the committed reference
(Tests/DelayDETests/DDETSTTests.swift, mackeyGlassReference).
"""
import json
import statistics
import sys
import time
from fractions import Fraction
from math import factorial

from jitcdde import jitcdde, t, y

problem, tol = sys.argv[1], float(sys.argv[2])


def exact_unit_lag(s):
    total = Fraction(0)
    for n in range(int(s) + 2):
        base = Fraction(s) - (n - 1)
        if base >= 0:
            total += (-1) ** n * base ** n / factorial(n)
    return float(total)


if problem == "unitlag":
    f = [-y(0, t - 1)]
    past, times = 1.0, list(range(1, 11))
    reference = [exact_unit_lag(k) for k in times]
else:
    f = [0.2 * y(0, t - 14) / (1 + y(0, t - 14) ** 10) - 0.1 * y(0)]
    past, times = 0.5, list(range(50, 501, 50))
    reference = [
        5.1220304575546460e-01, 8.2818774781057347e-01, 1.0328172042647590e+00, 1.2627331651569047e+00,
        1.0072183547168414e+00, 5.4388363752501157e-01, 8.1284582132974237e-01, 1.0338060918693914e+00,
        1.2638264848737757e+00, 1.0104431117001342e+00,
    ]

dde = jitcdde(f, verbose=False)
dde.compile_C(verbose=False)


def run():
    dde.purge_past()
    dde.constant_past([past], time=0.0)
    dde.set_integration_parameters(atol=tol, rtol=tol)
    dde.adjust_diff()
    return [dde.integrate(float(k))[0] for k in times]


values = run()
samples = []
for _ in range(5):
    start = time.perf_counter()
    run()
    samples.append(time.perf_counter() - start)
error = max(abs(a - b) for a, b in zip(values, reference))
print(json.dumps({"peer": "JiTCDDE", "problem": problem, "tolerance": tol, "seconds": statistics.median(samples), "error": error}))
