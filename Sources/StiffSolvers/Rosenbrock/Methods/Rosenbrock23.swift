import DiffEqCore

/// Shampine and Reichelt's ode23s pair: a three-stage, L-stable Rosenbrock method of order 2
/// (order 2 also with an inexact Jacobian, a W-method) with a third-order error estimate, a
/// second-order continuous extension, and its last stage evaluated at the new solution (FSAL):
/// MATLAB's `ode23s`, `Rosenbrock23` in DifferentialEquations.jl. Cheap per step; for loose
/// tolerances.
///
/// ```swift
/// let sol = try solve(TestProblems.vanDerPol(), Rosenbrock23(), reltol: 1e-3, abstol: 1e-6)
/// ```
///
/// Reference: L. F. Shampine and M. W. Reichelt, "The MATLAB ODE suite", SIAM J. Sci. Comput.
/// 18 (1997) 1-22, §3.1 (the formulas with `d = 1/(2 + √2)`, `e32 = 6 + √2`, the error estimate
/// `h/6 (k1 − 2k2 + k3)` and the interpolant `y0 + h(θ(1−θ)/(1−2d) k1 + θ(θ−2d)/(1−2d) k2)`).
public struct Rosenbrock23: RosenbrockAlgorithm, Sendable {
    public var jacobian: JacobianSource
    public var linearSolver: LinearSolver
    public init(jacobian: JacobianSource = .automatic, linearSolver: LinearSolver = .automatic) {
        self.jacobian = jacobian
        self.linearSolver = linearSolver
    }
    public var tableau: RosenbrockTableau { .rosenbrock23 }
}

extension RosenbrockTableau {
    /// Shampine & Reichelt (1997), written in the standard form of HW II (7.4). With
    /// `W = I − hdJ` their stages are `W k1 = F0 + hdT`, `W(k2 − k1) = F1 − k1`,
    /// `W k3 = F2 − e32(k2 − F1) − 2(k1 − F0) + hdT`; substituting `W kᵢ` gives
    /// `γ = d`, `α21 = 1/2`, `α32 = 1`, `γ21 = −d`, `γ31 = d(e32 − 2)`, `γ32 = −e32·d`,
    /// `b = (0, 1, 0)` and the third-order `b̂ = b + (1/6, −1/3, 1/6)`. The interpolant is
    /// `(1−θ)u + θ(u_new + (1−θ)(k1 − k2)/(1 − 2d))` in the Rodas form.
    public static let rosenbrock23: RosenbrockTableau = {
        let d = 1 / (2 + 2.0.squareRoot())
        let e32 = 6 + 2.0.squareRoot()
        let w = 1 / (1 - 2 * d)
        // The error of the second-order solution is O(h³): Gustafsson's PI gains with k = 3; the
        // safety factor 0.8 and growth limit 5 of ode23s.
        let controller = PIController(beta1: 0.7 / 3, beta2: 0.4 / 3, safety: 0.8, qmin: 0.2, qmax: 5)
        return try! RosenbrockTableau.fromStandardForm(
            name: "Rosenbrock23", order: 2, embeddedOrder: 3, gamma: d,
            alpha: [[], [0.5], [0, 1]], gammaBelow: [[], [-d], [d * (e32 - 2), -e32 * d]],
            b: [0, 1, 0], bhat: [1.0 / 6, 2.0 / 3, 1.0 / 6], dense: [[w, -w, 0]], isFSAL: true, isLStable: true,
            controller: controller)
    }()
}
