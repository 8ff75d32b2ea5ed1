import DiffEqCore

/// Heun's second-order method (the explicit trapezoidal rule): two stages, adaptive with the
/// embedded Euler step (`adaptive: false` with `dt` for fixed steps), as `Heun` in
/// DifferentialEquations.jl.
///
/// K. Heun, "Neue Methode zur approximativen Integration der Differentialgleichungen einer
/// unabhängigen Veränderlichen", Zeitschrift für Mathematik und Physik 45 (1900) 23-38; Hairer,
/// Nørsett & Wanner, Solving ODEs I (1993), §II.1. Dense output: linear interpolation between the
/// step ends, already of the method's order 2.
public struct Heun: ExplicitRKAlgorithm {
    public init() {}
    public var tableau: ButcherTableau { .heun }
}

extension ButcherTableau {
    /// Heun (1900): `k_2 = f(t + h, u + h k_1)`, `u_{n+1} = u_n + (h/2)(k_1 + k_2)`. The embedded
    /// solution is Euler's `u_n + h k_1` (weights `(1, 0)`, order 1), so `b − b̂ = (−1/2, 1/2)`.
    public static let heun: ButcherTableau = {
        let c: [Double] = [0, 1]
        let a: [[Double]] = [
            [],
            [1],
        ]
        let b: [Double] = [0.5, 0.5]
        // Validated on construction; a failure here is a typo in the coefficients above.
        let btilde: [Double] = [-0.5, 0.5]
        return try! ButcherTableau(
            name: "Heun", order: 2, embeddedOrder: 1, c: c, a: a, b: b, btilde: btilde)
    }()
}
