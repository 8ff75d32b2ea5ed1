import DiffEqCore

/// Kværnø's seven-stage ESDIRK 5(4) pair: fifth order, L-stable, stiffly accurate (γ = 0.26),
/// whose fourth-order embedded solution is its sixth stage (also at `c = 1`).
///
/// The paper publishes no dense output: this method uses the cubic Hermite interpolant through
/// the solution and its slope at both ends of the step (``SDIRKInterpolant/cubicHermite(b:)``,
/// third order), as DifferentialEquations.jl and diffrax do.
///
/// ```swift
/// let sol = try solve(TestProblems.orego(), Kvaerno5(), reltol: 1e-8, abstol: 1e-8)
/// ```
///
/// Reference: A. Kværnø, "Singly diagonally implicit Runge-Kutta methods with an explicit first
/// stage", BIT Numerical Mathematics 44 (2004) 489-502 (the 5(4) method, γ = 0.26).
public struct Kvaerno5: SDIRKAlgorithm {
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

    public var tableau: SDIRKTableau { .kvaerno5 }
}

extension SDIRKTableau {
    /// Kværnø (2004), the 5(4) method: coefficients to the 17 digits published. `b` is the last
    /// row of `A`; `b̂` is the sixth row (the embedded fourth-order solution) padded with 0.
    public static let kvaerno5: SDIRKTableau = {
        let g: Double = 0.26
        let c: [Double] = [0, 0.52, 1.230333209967908, 0.895765984350076, 0.436393609858648, 1, 1]
        let row3: [Double] = [0.13, 0.84033320996790809, g]
        let row4: [Double] = [0.22371961478320505, 0.47675532319799699, -0.06470895363112615, g]
        let row5: [Double] = [
            0.16648564323248321, 0.10450018841591720, 0.03631482272098715, -0.13090704451073998, g,
        ]
        let row6: [Double] = [
            0.13855640231268224, 0, -0.04245337201752043, 0.02446657898003141, 0.61943039072480676, g,
        ]
        let b: [Double] = [
            0.13659751177640291, 0, -0.05496908796538376, -0.04118626728321046, 0.62993304899016403,
            0.06962479448202728, g,
        ]
        let a: [[Double]] = [[0], [g, g], row3, row4, row5, row6, b]
        let bhat: [Double] = row6 + [0]
        // Validated on construction; a failure here is a typo above.
        return try! SDIRKTableau(
            name: "Kvaerno5", order: 5, embeddedOrder: 4, c: c, a: a, b: b, bhat: bhat,
            hasExplicitFirstStage: true, isStifflyAccurate: true, interpolant: .cubicHermite(b: b))
    }()
}
