import DiffEqCore

extension SDEStepper {
    /// One step of an SRA tableau (see ``SRATableau``), additive noise. `g` is evaluated at the
    /// step's initial state: additive noise does not depend on `u` (checked by ``SDESetup``).
    /// Coefficients from ``coefficients`` (layout: `SRATableau.flattened`).
    @inlinable
    mutating func sraStep(_ u: inout [Scalar], t: Double, dt: Double, dW: [Double], dZ: [Double]) {
        let n = stateCount
        let s = stages
        let ss = s * s
        let (a0, b0, alpha, beta1, beta2, c0, c1) = (0, ss, 2 * ss, 2 * ss + s, 2 * ss + 2 * s, 2 * ss + 3 * s, 2 * ss + 4 * s)
        for j in 0..<wienerCount { chi2[j] = 0.5 * (dW[j] + dZ[j] * 0.5773502691896258) }  // I(1,0)/h
        for stage in 0..<s {
            f.diffusion(&gs[stage], u, p, Scalar(t + coefficients[c1 + stage] * dt))
        }
        for stage in 0..<s {
            let row = stage * s
            for i in 0..<n {
                var acc = u[i]
                for j in 0..<stage {
                    let a = coefficients[a0 + row + j]
                    if a != 0 { acc += k[j][i].scaled(by: a * dt) }
                    let b = coefficients[b0 + row + j]
                    if b != 0 { acc += gs[j][i].scaled(by: b * chi2[i]) }
                }
                scratch[i] = acc
            }
            f.drift(&k[stage], scratch, p, Scalar(t + coefficients[c0 + stage] * dt))
        }
        for i in 0..<n {
            var drift = Scalar.zero
            var noise = Scalar.zero
            var e1 = Scalar.zero
            var e2 = Scalar.zero
            for j in 0..<s {
                drift += k[j][i].scaled(by: coefficients[alpha + j])
                noise += gs[j][i].scaled(by: coefficients[beta1 + j] * dW[i])
                e2 += gs[j][i].scaled(by: coefficients[beta2 + j] * chi2[i])
                e1 += k[j][i]
            }
            u[i] += drift.scaled(by: dt) + noise + e2
            errorDrift[i] = e1.scaled(by: dt)
            errorDiffusion[i] = e2
        }
    }
}
