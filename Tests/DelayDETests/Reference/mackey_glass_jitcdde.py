"""A third, independent check of the Mackey-Glass (DDETST A1) reference: JiTCDDE 1.8.3 (Ansmann 2018,
Bogacki-Shampine 3(2) with cubic Hermite history, https://github.com/neurophysik/jitcdde), run
offline once in a virtual environment (pip install jitcdde), atol = rtol = 1e-12 and 1e-13 with
first_step/max_step 0.01 (constant history 0.5; u(0) = 0.5). Prints u at t = 50, ..., 500.
"""
from jitcdde import jitcdde, y, t
import numpy as np

f = [0.2 * y(0, t - 14) / (1 + y(0, t - 14) ** 10) - 0.1 * y(0)]
for tol in (1e-12, 1e-13):
    dde = jitcdde(f, verbose=False)
    dde.constant_past([0.5])
    dde.compile_C(verbose=False)
    dde.set_integration_parameters(atol=tol, rtol=tol, first_step=0.01, max_step=0.01)
    dde.adjust_diff()
    out = [dde.integrate(T)[0] for T in range(50, 501, 50)]
    print("%g" % tol, " ".join("%.16e" % v for v in out))
