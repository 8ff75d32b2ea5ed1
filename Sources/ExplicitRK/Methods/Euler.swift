import DiffEqCore

/// The explicit Euler method: one stage, order 1, fixed steps only (give `dt`).
///
/// L. Euler, Institutionum calculi integralis, vol. I (1768), §650; E. Hairer, S. P. Nørsett, G.
/// Wanner, Solving Ordinary Differential Equations I, 2nd ed., Springer (1993), §II.1. Its dense
/// output is linear interpolation between the step ends, which is exactly its own continuous
/// extension `b_1(θ) = θ`.
public struct Euler: ExplicitRKAlgorithm {
    public init() {}
    public var tableau: ButcherTableau { .euler }
}

extension ButcherTableau {
    /// Euler (1768): `u_{n+1} = u_n + h f(t_n, u_n)`.
    public static let euler: ButcherTableau = {
        let c: [Double] = [0]
        let a: [[Double]] = [
            [],
        ]
        let b: [Double] = [1]
        // Validated on construction; a failure here is a typo in the coefficients above.
        return try! ButcherTableau(
            name: "Euler", order: 1, c: c, a: a, b: b)
    }()
}
