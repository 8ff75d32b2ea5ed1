import DiffEqCore

/// Euler–Maruyama: `u⁺ = u + f(u, t) h + g(u, t) ΔW`. Itô; strong order 0.5 (1 for additive
/// noise), weak order 1; every noise kind. Maruyama, "Continuous Markov processes and stochastic
/// equations", Rend. Circ. Mat. Palermo 4 (1955); Kloeden & Platen (1992) §10.2.
public struct EM: SDEAlgorithm {
    public init() {}
    public var scheme: SDEScheme { .eulerMaruyama }
}

extension SDEStepper {
    @inlinable
    mutating func eulerMaruyamaStep(_ u: inout [Scalar], t: Double, dt: Double, dW: [Double]) {
        let ts = Scalar(t)
        f.drift(&k[0], u, p, ts)
        f.diffusion(&gs[0], u, p, ts)
        // Diagonal and scalar noise in one pass over `u`: per component the same two additions
        // as the drift pass followed by `addNoise`, so the same bits, without the second pass
        // (its uniqueness check and the retained `gs[0]`).
        switch noise {
        case .diagonal, .additive:
            for i in 0..<stateCount {
                u[i] += k[0][i].scaled(by: dt)
                u[i] += gs[0][i].scaled(by: 1 * dW[i])
            }
        case .scalar:
            let s = 1 * dW[0]
            for i in 0..<stateCount {
                u[i] += k[0][i].scaled(by: dt)
                u[i] += gs[0][i].scaled(by: s)
            }
        case .general:
            for i in 0..<stateCount { u[i] += k[0][i].scaled(by: dt) }
            Self.addNoise(&u, gs[0], dW, scale: 1, noise: noise, states: stateCount)
        }
    }
}
