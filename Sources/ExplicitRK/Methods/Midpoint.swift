import DiffEqCore

/// The explicit midpoint rule: two stages, order 2, adaptive with the embedded Euler step
/// (`adaptive: false` with `dt` for fixed steps), as `Midpoint` in DifferentialEquations.jl.
///
/// C. Runge, "Über die numerische Auflösung von Differentialgleichungen", Mathematische Annalen 46
/// (1895) 167-178; Hairer, Nørsett & Wanner, Solving ODEs I (1993), §II.1, eq. (1.5). Dense output:
/// linear interpolation between the step ends, already of the method's order 2.
public struct Midpoint: ExplicitRKAlgorithm {
    public init() {}
    public var tableau: ButcherTableau { .midpoint }
}

extension ButcherTableau {
    /// Runge (1895): `k_2 = f(t + h/2, u + (h/2) k_1)`, `u_{n+1} = u_n + h k_2`. The embedded
    /// solution is Euler's `u_n + h k_1` (weights `(1, 0)`, order 1), so `b − b̂ = (−1, 1)`.
    public static let midpoint: ButcherTableau = {
        let c: [Double] = [0, 0.5]
        let a: [[Double]] = [
            [],
            [0.5],
        ]
        let b: [Double] = [0, 1]
        // Validated on construction; a failure here is a typo in the coefficients above.
        let btilde: [Double] = [-1, 1]
        return try! ButcherTableau(
            name: "Midpoint", order: 2, embeddedOrder: 1, c: c, a: a, b: b, btilde: btilde)
    }()
}
