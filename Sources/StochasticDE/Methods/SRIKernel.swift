import DiffEqCore

extension SDEStepper {
    /// One step of an SRI tableau (see ``SRITableau`` for the scheme), diagonal or scalar noise,
    /// with the coefficients read from ``coefficients`` (layout: `SRITableau.flattened`).
    @inlinable
    mutating func sriStep(_ u: inout [Scalar], t: Double, dt: Double, dW: [Double], dZ: [Double]) {
        let n = stateCount
        let scalarNoise = noise == .scalar
        let s = stages
        let ss = s * s
        let (a0, a1, b0, b1) = (0, ss, 2 * ss, 3 * ss)
        let (alpha, beta1, beta2, beta3, beta4, c0, c1) = (4 * ss, 4 * ss + s, 4 * ss + 2 * s, 4 * ss + 3 * s, 4 * ss + 4 * s, 4 * ss + 5 * s, 4 * ss + 6 * s)
        let sqdt = dt.squareRoot()
        // Iterated integrals per Wiener process, scaled as the tableau uses them:
        // chi1 = I(1,1)/√h, chi2 = I(1,0)/h, chi3 = I(1,1,1)/h.
        for j in 0..<wienerCount {
            let w = dW[j]
            chi1[j] = 0.5 * (w * w - dt) / sqdt
            chi2[j] = 0.5 * (w + dZ[j] * 0.5773502691896258)  // 1/√3
            chi3[j] = (w * w * w - 3 * w * dt) / (6 * dt)
        }
        for stage in 0..<s {
            let row = stage * s
            // H⁽⁰⁾ into the scratch, then f.
            for i in 0..<n {
                var acc = u[i]
                for j in 0..<stage {
                    let a = coefficients[a0 + row + j]
                    if a != 0 { acc += k[j][i].scaled(by: a * dt) }
                    let b = coefficients[b0 + row + j]
                    if b != 0 { acc += gs[j][i].scaled(by: b * chi2[scalarNoise ? 0 : i]) }
                }
                scratch[i] = acc
            }
            f.drift(&k[stage], scratch, p, Scalar(t + coefficients[c0 + stage] * dt))
            // H⁽¹⁾ into the scratch, then g.
            for i in 0..<n {
                var acc = u[i]
                for j in 0..<stage {
                    let a = coefficients[a1 + row + j]
                    if a != 0 { acc += k[j][i].scaled(by: a * dt) }
                    let b = coefficients[b1 + row + j]
                    if b != 0 { acc += gs[j][i].scaled(by: b * sqdt) }
                }
                scratch[i] = acc
            }
            f.diffusion(&gs[stage], scratch, p, Scalar(t + coefficients[c1 + stage] * dt))
        }
        for i in 0..<n {
            let w = scalarNoise ? 0 : i
            var drift = Scalar.zero
            var noise = Scalar.zero
            var e1 = Scalar.zero
            var e2 = Scalar.zero
            for j in 0..<s {
                drift += k[j][i].scaled(by: coefficients[alpha + j])
                noise += gs[j][i].scaled(by: coefficients[beta1 + j] * dW[w] + coefficients[beta2 + j] * chi1[w])
                e2 += gs[j][i].scaled(by: coefficients[beta3 + j] * chi2[w] + coefficients[beta4 + j] * chi3[w])
                if j < errorDriftStages { e1 += k[j][i] }
            }
            u[i] += drift.scaled(by: dt) + noise + e2
            errorDrift[i] = e1.scaled(by: dt)
            errorDiffusion[i] = e2
        }
    }
}
