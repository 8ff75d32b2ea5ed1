import DiffEqCore

extension SDEStepper {
    /// One step of an SRI tableau (see ``SRITableau`` for the scheme), diagonal or scalar noise.
    @inlinable
    mutating func sriStep(_ u: inout [Scalar], t: Double, dt: Double, dW: [Double], dZ: [Double], tableau tab: SRITableau) {
        let n = stateCount
        let s = tab.stages
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
                    let a = tab.A0[row + j]
                    if a != 0 { acc += k[j][i].scaled(by: a * dt) }
                    let b = tab.B0[row + j]
                    if b != 0 { acc += gs[j][i].scaled(by: b * chi2[wienerIndex(i)]) }
                }
                scratch[i] = acc
            }
            f.drift(&k[stage], scratch, p, Scalar(t + tab.c0[stage] * dt))
            // H⁽¹⁾ into the scratch, then g.
            for i in 0..<n {
                var acc = u[i]
                for j in 0..<stage {
                    let a = tab.A1[row + j]
                    if a != 0 { acc += k[j][i].scaled(by: a * dt) }
                    let b = tab.B1[row + j]
                    if b != 0 { acc += gs[j][i].scaled(by: b * sqdt) }
                }
                scratch[i] = acc
            }
            f.diffusion(&gs[stage], scratch, p, Scalar(t + tab.c1[stage] * dt))
        }
        for i in 0..<n {
            let w = wienerIndex(i)
            var drift = Scalar.zero
            var noise = Scalar.zero
            var e1 = Scalar.zero
            var e2 = Scalar.zero
            for j in 0..<s {
                drift += k[j][i].scaled(by: tab.alpha[j])
                noise += gs[j][i].scaled(by: tab.beta1[j] * dW[w] + tab.beta2[j] * chi1[w])
                e2 += gs[j][i].scaled(by: tab.beta3[j] * chi2[w] + tab.beta4[j] * chi3[w])
                if j < tab.errorDriftStages { e1 += k[j][i] }
            }
            u[i] += drift.scaled(by: dt) + noise + e2
            errorDrift[i] = e1.scaled(by: dt)
            errorDiffusion[i] = e2
        }
    }
}
