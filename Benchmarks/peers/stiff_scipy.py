#!/usr/bin/env python3
"""scipy's stiff solvers on the stiff test problems, for stiff-bench (run in the same benchmark).

Usage: stiff_scipy.py REQUEST.json  -> prints RESULT.json on stdout.

REQUEST: {"problems": [{"name", "reltols": [...], "abstol_per_reltol", "reference": [...]}],
          "methods": ["Radau", "BDF", "LSODA"], "repeats": 3}
RESULT:  {"versions": {...}, "results": [{"problem", "method", "reltol", "error", "seconds", "nfev",
          "njev", "nlu", "status"}]}

The problem definitions (right-hand sides and Jacobians) are written from the IVP test set
(F. Mazzia and C. Magherini, Test Set for IVP Solvers, release 2.4, 2008), with the same
parameters as Sources/ProblemLibrary. The error is the test set's mixed error: the largest
|y_i - ref_i| / (atol/rtol + |ref_i|) over the components.
"""
import json
import statistics
import sys
import time

import numpy as np
import scipy
from scipy.integrate import solve_ivp


def rober():
    k1, k2, k3 = 0.04, 3e7, 1e4

    def f(t, y):
        r1, r2, r3 = k1 * y[0], k2 * y[1] * y[1], k3 * y[1] * y[2]
        return np.array([r3 - r1, r1 - r2 - r3, r2])

    def jac(t, y):
        return np.array([
            [-k1, k3 * y[2], k3 * y[1]],
            [k1, -2 * k2 * y[1] - k3 * y[2], -k3 * y[1]],
            [0.0, 2 * k2 * y[1], 0.0],
        ])

    return f, jac, np.array([1.0, 0.0, 0.0]), (0.0, 1e11)


def hires():
    k1, k2, k3, k4, k5, k6 = 1.71, 0.43, 8.32, 0.69, 0.035, 8.32
    kp, km, ks, oks = 280.0, 0.69, 0.69, 0.0007

    def f(t, y):
        b = kp * y[5] * y[7]
        r = (k2 + km + ks) * y[6]
        return np.array([
            -k1 * y[0] + k2 * y[1] + k6 * y[2] + oks,
            k1 * y[0] - (k2 + k3) * y[1],
            -(k6 + k1) * y[2] + k2 * y[3] + k5 * y[4],
            k3 * y[1] + k1 * y[2] - (k4 + k2) * y[3],
            -(k5 + k1) * y[4] + k2 * (y[5] + y[6]),
            -b + k4 * y[3] + k1 * y[4] - k2 * y[5] + km * y[6],
            b - r,
            r - b,
        ])

    def jac(t, y):
        J = np.zeros((8, 8))
        J[0, 0], J[0, 1], J[0, 2] = -k1, k2, k6
        J[1, 0], J[1, 1] = k1, -(k2 + k3)
        J[2, 2], J[2, 3], J[2, 4] = -(k6 + k1), k2, k5
        J[3, 1], J[3, 2], J[3, 3] = k3, k1, -(k4 + k2)
        J[4, 4], J[4, 5], J[4, 6] = -(k5 + k1), k2, k2
        J[5, 3], J[5, 4], J[5, 5], J[5, 6], J[5, 7] = k4, k1, -kp * y[7] - k2, km, -kp * y[5]
        J[6, 5], J[6, 6], J[6, 7] = kp * y[7], -(k2 + km + ks), kp * y[5]
        J[7, 5], J[7, 6], J[7, 7] = -kp * y[7], k2 + km + ks, -kp * y[5]
        return J

    return f, jac, np.array([1.0, 0, 0, 0, 0, 0, 0, 0.0057]), (0.0, 321.8122)


# POLLU: reactions as (reactants, products) over the species y1..y20 (0-based), rates of Table II.2.2.
POLLU_K = [0.35, 0.266e2, 0.123e5, 0.86e-3, 0.82e-3, 0.15e5, 0.13e-3, 0.24e5, 0.165e5, 0.9e4,
           0.22e-1, 0.12e5, 0.188e1, 0.163e5, 0.48e7, 0.35e-3, 0.175e-1, 0.1e9, 0.444e12, 0.124e4,
           0.21e1, 0.578e1, 0.474e-1, 0.178e4, 0.312e1]
(NO2, NO, O3P, O3, HO2, OH, HCHO, CO, ALD, MEO2, C2O3, CO2, PAN, CH3O, HNO3, O1D, SO2, SO4, NO3,
 N2O5) = range(20)
POLLU_REACTIONS = [
    ([NO2], [NO, O3P]), ([NO, O3], [NO2]), ([HO2, NO], [NO2, OH]), ([HCHO], [HO2, HO2, CO]),
    ([HCHO], [CO]), ([HCHO, OH], [HO2, CO]), ([ALD], [MEO2, HO2, CO]), ([ALD, OH], [C2O3]),
    ([C2O3, NO], [NO2, MEO2, CO2]), ([C2O3, NO2], [PAN]), ([PAN], [C2O3, NO2]),
    ([MEO2, NO], [CH3O, NO2]), ([CH3O], [HCHO, HO2]), ([NO2, OH], [HNO3]), ([O3P], [O3]),
    ([O3], [O1D]), ([O3], [O3P]), ([O1D], [OH, OH]), ([O1D], [O3P]), ([SO2, OH], [SO4, HO2]),
    ([NO3], [NO]), ([NO3], [NO2, O3P]), ([NO2, O3], [NO3]), ([NO3, NO2], [N2O5]),
    ([N2O5], [NO3, NO2]),
]


def pollu():
    def f(t, y):
        dy = np.zeros(20)
        for k, (reac, prod) in zip(POLLU_K, POLLU_REACTIONS):
            r = k
            for a in reac:
                r *= y[a]
            for a in reac:
                dy[a] -= r
            for b in prod:
                dy[b] += r
        return dy

    def jac(t, y):
        J = np.zeros((20, 20))
        for k, (reac, prod) in zip(POLLU_K, POLLU_REACTIONS):
            for i, c in enumerate(reac):
                d = k * (y[reac[1 - i]] if len(reac) == 2 else 1.0)
                for a in reac:
                    J[a, c] -= d
                for b in prod:
                    J[b, c] += d
        return J

    y0 = np.zeros(20)
    y0[NO], y0[O3], y0[HCHO], y0[CO], y0[ALD], y0[SO2] = 0.2, 0.04, 0.1, 0.3, 0.01, 0.007
    return f, jac, y0, (0.0, 60.0)


def orego():
    s, q, w = 77.27, 8.375e-6, 0.161

    def f(t, y):
        return np.array([s * (y[1] - y[0] * y[1] + y[0] - q * y[0] ** 2),
                         (y[2] - y[1] - y[0] * y[1]) / s, w * (y[0] - y[2])])

    def jac(t, y):
        return np.array([[s * (1 - y[1] - 2 * q * y[0]), s * (1 - y[0]), 0.0],
                         [-y[1] / s, -(1 + y[0]) / s, 1 / s],
                         [w, 0.0, -w]])

    return f, jac, np.array([1.0, 2.0, 3.0]), (0.0, 360.0)


def vdpol():
    eps = 1e-6

    def f(t, y):
        return np.array([y[1], ((1 - y[0] ** 2) * y[1] - y[0]) / eps])

    def jac(t, y):
        return np.array([[0.0, 1.0], [(-2 * y[0] * y[1] - 1) / eps, (1 - y[0] ** 2) / eps]])

    return f, jac, np.array([2.0, 0.0]), (0.0, 2.0)


PROBLEMS = {"ROBER": rober, "HIRES": hires, "POLLU": pollu, "OREGO": orego, "VDPOL": vdpol}


def mixed_error(y, ref, rtol, atol):
    floor = atol / rtol
    return max(abs(a - b) / (floor + abs(b)) for a, b in zip(y, ref))


def main():
    request = json.load(open(sys.argv[1]))
    repeats = request.get("repeats", 3)
    out = {"versions": {"python": sys.version.split()[0], "numpy": np.__version__, "scipy": scipy.__version__},
           "results": []}
    for prob in request["problems"]:
        f, jac, y0, span = PROBLEMS[prob["name"]]()
        for method in request["methods"]:
            for rtol in prob["reltols"]:
                atol = rtol * prob["abstol_per_reltol"]
                kwargs = dict(method=method, rtol=rtol, atol=atol, t_eval=None, dense_output=False)
                if method != "RK45":
                    kwargs["jac"] = jac
                times = []
                sol = None
                for _ in range(repeats):
                    start = time.perf_counter()
                    sol = solve_ivp(f, span, y0, **kwargs)
                    times.append(time.perf_counter() - start)
                ok = sol.status == 0
                err = mixed_error(sol.y[:, -1], prob["reference"], rtol, atol) if ok else None
                out["results"].append({
                    "problem": prob["name"], "method": method, "reltol": rtol, "error": err,
                    "seconds": statistics.median(times), "nfev": int(sol.nfev), "njev": int(sol.njev),
                    "nlu": int(sol.nlu), "status": int(sol.status)})
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
