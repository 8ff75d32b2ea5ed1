import DiffEqCore

/// Bogacki and Shampine's 3(2) pair: four stages, FSAL (three evaluations per step), with the cubic
/// Hermite interpolant on the step, which needs no extra stage.
///
/// P. Bogacki, L. F. Shampine, "A 3(2) pair of Runge-Kutta formulas", Applied Mathematics Letters 2
/// (1989) 321-325. (It is MATLAB's `ode23`.)
public struct BS3: ExplicitRKAlgorithm {
    public init() {}
    public var tableau: ButcherTableau { .bs3 }
}

extension ButcherTableau {
    /// Bogacki & Shampine (1989), rational coefficients. Because the fourth stage is
    /// `f(t + h, u_{n+1})`, the cubic Hermite interpolant through `u_n`, `h f(u_n)`, `u_{n+1}`,
    /// `h f(u_{n+1})` is a continuous extension over the stages (order 3):
    /// `b_i(θ) = (3θ² - 2θ³) b_i + (θ - 2θ² + θ³) δ_{i1} + (θ³ - θ²) δ_{i4}`.
    public static let bs3: ButcherTableau = {
        let c: [Double] = [0, 0.5, 0.75, 1]
        let a: [[Double]] = [
            [],
            [0.5],
            [0, 0.75],
            [2.0 / 9, 1.0 / 3, 4.0 / 9],
        ]
        let b: [Double] = a[3] + [0]
        let btilde: [Double] = [-5.0 / 72, 1.0 / 12, 1.0 / 9, -0.125]
        let interpolant = ContinuousExtension(
            order: 3,
            coefficients: [
                [1, -4.0 / 3, 5.0 / 9],
                [0, 1, -2.0 / 3],
                [0, 4.0 / 3, -8.0 / 9],
                [0, -1, 1],
            ])
        // Validated on construction; a failure here is a typo in the coefficients above.
        return try! ButcherTableau(
            name: "BS3", order: 3, embeddedOrder: 2, c: c, a: a, b: b, btilde: btilde, isFSAL: true,
            interpolant: interpolant)
    }()
}
