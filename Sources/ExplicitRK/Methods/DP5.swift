import DiffEqCore

/// Dormand and Prince's 5(4) pair (DOPRI5): seven stages, FSAL, with Shampine's free fourth-order
/// dense output. It is MATLAB's `ode45` and the `dopri5` code.
///
/// J. R. Dormand, P. J. Prince, "A family of embedded Runge-Kutta formulae", Journal of
/// Computational and Applied Mathematics 6 (1980) 19-26. Dense output: L. F. Shampine, "Some
/// practical Runge-Kutta formulas", Mathematics of Computation 46 (1986) 135-150, as given in
/// Hairer, Nørsett & Wanner, Solving ODEs I, 2nd ed. (1993), §II.6 and the code `dopri5`
/// (`CONTD5`). Step control as in `dopri5`: the stabilized PI controller with `β = 0.04`, exponent
/// `1/5 - 0.75β`, safety 0.9, step ratio in `[0.2, 10]` (Hairer & Wanner, Solving ODEs II, §IV.2).
public struct DP5: ExplicitRKAlgorithm {
    public init() {}
    public var tableau: ButcherTableau { .dp5 }
}

extension ButcherTableau {
    /// Dormand & Prince (1980), Table 2 (rational coefficients); `btilde = b - b̂` exactly. The
    /// dense output weights are `dopri5`'s `CONTD5`,
    /// `u + θ(Δ + (1-θ)(h k_1 - Δ + θ(2Δ - h(k_1 + k_7) + (1-θ) h Σ d_i k_i)))` with
    /// `Δ = u_{n+1} - u_n`, expanded exactly in powers of θ.
    public static let dp5: ButcherTableau = {
        let c: [Double] = [0, 0.2, 0.3, 0.8, 8.0 / 9, 1, 1]
        let a: [[Double]] = [
            [],
            [0.2],
            [0.075, 0.225],
            [44.0 / 45, -56.0 / 15, 32.0 / 9],
            [19372.0 / 6561, -25360.0 / 2187, 64448.0 / 6561, -212.0 / 729],
            [9017.0 / 3168, -355.0 / 33, 46732.0 / 5247, 49.0 / 176, -5103.0 / 18656],
            [35.0 / 384, 0, 500.0 / 1113, 125.0 / 192, -2187.0 / 6784, 11.0 / 84],
        ]
        let b: [Double] = a[6] + [0]
        let btilde: [Double] = [
            71.0 / 57600, 0, -71.0 / 16695, 71.0 / 1920, -17253.0 / 339200, 22.0 / 525, -0.025,
        ]
        let interpolant = ContinuousExtension(
            order: 4,
            coefficients: [
                [1, -8048581381.0 / 2820520608, 8663915743.0 / 2820520608, -12715105075.0 / 11282082432],
                [],
                [0, 131558114200.0 / 32700410799, -68118460800.0 / 10900136933, 87487479700.0 / 32700410799],
                [0, -1754552775.0 / 470086768, 14199869525.0 / 1410260304, -10690763975.0 / 1880347072],
                [0, 127303824393.0 / 49829197408, -318862633887.0 / 49829197408,
                 701980252875.0 / 199316789632],
                [0, -282668133.0 / 205662961, 2019193451.0 / 616988883, -1453857185.0 / 822651844],
                [0, 40617522.0 / 29380423, -110615467.0 / 29380423, 69997945.0 / 29380423],
            ])
        // dopri5.f defaults: BETA = 0.04, EXPO1 = 0.2 - 0.75 BETA, FAC1 = 0.2, FAC2 = 10, SAFE = 0.9.
        let controller = PIController(beta1: 0.2 - 0.75 * 0.04, beta2: 0.04, safety: 0.9, qmin: 0.2, qmax: 10)
        // Validated on construction; a failure here is a typo in the coefficients above.
        return try! ButcherTableau(
            name: "DP5", order: 5, embeddedOrder: 4, c: c, a: a, b: b, btilde: btilde, isFSAL: true,
            interpolant: interpolant, controller: controller)
    }()
}
