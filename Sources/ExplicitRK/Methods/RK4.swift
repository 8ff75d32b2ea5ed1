import DiffEqCore

/// The classical fourth-order Runge-Kutta method: four stages with its third-order continuous
/// extension; adaptive with a residual error estimate (``ResidualErrorEstimate/twoGaussPoints``:
/// three more evaluations of `f` per step, one of them reused as the next step's first stage), as
/// `RK4` in DifferentialEquations.jl; `adaptive: false` with `dt` takes fixed steps at four
/// evaluations each.
///
/// W. Kutta, "Beitrag zur näherungsweisen Integration totaler Differentialgleichungen", Zeitschrift
/// für Mathematik und Physik 46 (1901) 435-453. Dense output: Hairer, Nørsett & Wanner, Solving
/// ODEs I (1993), §II.6, the continuous extension of order 3 that needs no extra stage:
/// `b_1(θ) = θ - 3θ²/2 + 2θ³/3`, `b_2(θ) = b_3(θ) = θ² - 2θ³/3`, `b_4(θ) = -θ²/2 + 2θ³/3` (better
/// than linear interpolation, which is only of order 2).
public struct RK4: ExplicitRKAlgorithm {
    public init() {}
    public var tableau: ButcherTableau { .rk4 }
}

extension ButcherTableau {
    /// Kutta (1901), the tableau with `c = (0, 1/2, 1/2, 1)` and `b = (1/6, 1/3, 1/3, 1/6)`.
    public static let rk4: ButcherTableau = {
        let c: [Double] = [0, 0.5, 0.5, 1]
        let a: [[Double]] = [
            [],
            [0.5],
            [0, 0.5],
            [0, 0, 1],
        ]
        let b: [Double] = [1.0 / 6, 1.0 / 3, 1.0 / 3, 1.0 / 6]
        let interpolant = ContinuousExtension(
            order: 3,
            coefficients: [
                [1, -1.5, 2.0 / 3],
                [0, 1, -2.0 / 3],
                [0, 1, -2.0 / 3],
                [0, -0.5, 2.0 / 3],
            ])
        // Validated on construction; a failure here is a typo in the coefficients above.
        return try! ButcherTableau(
            name: "RK4", order: 4, embeddedOrder: 3, c: c, a: a, b: b, residualEstimate: .twoGaussPoints,
            interpolant: interpolant)
    }()
}
