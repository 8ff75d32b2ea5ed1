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
        let n = stateCount
        switch noise {
        case .diagonal, .additive:
            // One pass with the two roundings per component of the general form below: the
            // passes cost a uniqueness check and a loop each, and passing `gs[0]` a retain
            // (about 40 instructions of the scalar step, callgrind). `step` checked `u` and
            // `dW` against `n`; `k[0]` and `gs[0]` have `n` entries for these noise kinds.
            k[0].withUnsafeBufferPointer { drift in
                gs[0].withUnsafeBufferPointer { g in
                    u.withUnsafeMutableBufferPointer { x in
                        for i in 0..<n {
                            x[i] += drift[i].scaled(by: dt)
                            x[i] += g[i].scaled(by: dW[i])
                        }
                    }
                }
            }
        case .scalar, .general:
            for i in 0..<n { u[i] += k[0][i].scaled(by: dt) }
            Self.addNoise(&u, gs[0], dW, scale: 1, noise: noise, states: n)
        }
    }
}
