import DiffEqCore

/// TR-BDF2: a trapezoidal-rule stage to `t + γh` followed by a BDF2 stage to `t + h`, written as
/// a three-stage ESDIRK (explicit first stage, constant diagonal `d = γ/2`, stiffly accurate,
/// L-stable), with Hosea and Shampine's third-order companion formula for the error estimate.
/// Second order; its dense output is the quadratic through `u_n`, `u_{n+γ}` and `u_{n+1}`.
///
/// ```swift
/// let sol = try solve(TestProblems.vanDerPol(), TRBDF2(), reltol: 1e-4, abstol: 1e-6)
/// ```
///
/// Reference: M. E. Hosea and L. F. Shampine, "Analysis and implementation of TR-BDF2", Applied
/// Numerical Mathematics 20 (1996) 21-37 (γ = 2 − √2, the ESDIRK form, the embedded estimate).
public struct TRBDF2: SDIRKAlgorithm {
    public var jacobian: JacobianSource
    public var newton: SDIRKNewtonOptions
    public var linearSolver: LinearSolver

    public init(
        jacobian: JacobianSource = .automatic, newton: SDIRKNewtonOptions = .init(), linearSolver: LinearSolver = .automatic
    ) {
        self.jacobian = jacobian
        self.newton = newton
        self.linearSolver = linearSolver
    }

    public var tableau: SDIRKTableau { .trbdf2 }
}

extension SDIRKTableau {
    /// Hosea & Shampine (1996): `c = (0, γ, 1)`, `A = [0; d d; ω ω d]`, `b = (ω, ω, d)` and the
    /// companion `b̂ = ((1 − ω)/3, (3ω + 1)/3, d/3)`, with `γ = 2 − √2`, `d = γ/2 = 1 − √2/2`,
    /// `ω = √2/4`.
    ///
    /// Dense output: the quadratic interpolating the step's three solution values,
    /// `u(θ) = u_n + (u_γ − u_n) L_γ(θ) + (u_{n+1} − u_n) L_1(θ)` with the Lagrange polynomials
    /// `L_γ = θ(θ − 1)/(γ(γ − 1))`, `L_1 = θ(θ − γ)/(1 − γ)` of the nodes `0, γ, 1`: the
    /// interpolant of Hosea and Shampine's own implementation (MATLAB's `ode23tb`, `ntrp23tb`).
    /// With `u_γ − u_n = h d (k₁ + k₂)` and `u_{n+1} − u_n = h (ω k₁ + ω k₂ + d k₃)` it is in the
    /// stage form `b_i(θ)`. Second order (the method's own order).
    public static let trbdf2: SDIRKTableau = {
        let root2: Double = 2.0.squareRoot()
        let g: Double = 2 - root2
        let d: Double = 1 - root2 / 2
        let w: Double = root2 / 4
        let c: [Double] = [0, g, 1]
        let a: [[Double]] = [[0], [d, d], [w, w, d]]
        let b: [Double] = [w, w, d]
        let bhat: [Double] = [(1 - w) / 3, (3 * w + 1) / 3, d / 3]
        // θ and θ² coefficients of L_γ and L_1.
        let lg: [Double] = [-1 / (g * (g - 1)), 1 / (g * (g - 1))]
        let l1: [Double] = [-g / (1 - g), 1 / (1 - g)]
        let k12: [Double] = [d * lg[0] + w * l1[0], d * lg[1] + w * l1[1]]
        let k3: [Double] = [d * l1[0], d * l1[1]]
        let interpolant = SDIRKInterpolant(
            order: 2, coefficients: [k12, k12, k3],
            source: "quadratic through u_n, u_{n+γ}, u_{n+1} (Hosea & Shampine's ode23tb interpolant)")
        // Validated on construction; a failure here is a typo above, which the tableau tests
        // report with the failing check.
        return try! SDIRKTableau(
            name: "TRBDF2", order: 2, embeddedOrder: 3, c: c, a: a, b: b, bhat: bhat,
            hasExplicitFirstStage: true, isStifflyAccurate: true, interpolant: interpolant)
    }()
}
