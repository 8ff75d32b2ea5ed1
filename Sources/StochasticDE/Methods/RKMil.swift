import DiffEqCore

/// Derivative-free Milstein (Kloeden & Platen 1992, (11.1.7)): with the supporting value
/// `ū = u + f h + g √h`,
/// `u⁺ = u + f h + g ΔW + (g(ū) − g(u)) / √h · I₍₁,₁₎`, where `I₍₁,₁₎ = ½(ΔW² − h)` (Itô) or
/// `½ΔW²` (Stratonovich). Strong order 1 for scalar noise and for diagonal noise whose `gᵢ`
/// depends on `uᵢ` only (otherwise the cross terms `I₍ⱼ,ₖ₎` it omits cost the order);
/// refuses general noise.
public struct RKMil: SDEAlgorithm {
    public let interpretation: SDEInterpretation
    public init(interpretation: SDEInterpretation = .ito) { self.interpretation = interpretation }
    public var scheme: SDEScheme { .rkMil(interpretation) }
}

extension SDEStepper {
    @inlinable
    mutating func rkMilStep(_ u: inout [Scalar], t: Double, dt: Double, dW: [Double], interpretation: SDEInterpretation) {
        let n = stateCount
        let ts = Scalar(t)
        let sqdt = dt.squareRoot()
        f.drift(&k[0], u, p, ts)
        f.diffusion(&gs[0], u, p, ts)
        for i in 0..<n { scratch[i] = u[i] + k[0][i].scaled(by: dt) + gs[0][i].scaled(by: sqdt) }
        f.diffusion(&gs[1], scratch, p, ts)
        let correction = interpretation == .ito ? dt : 0
        for j in 0..<wienerCount { chi1[j] = 0.5 * (dW[j] * dW[j] - correction) / sqdt }
        for i in 0..<n {
            let w = wienerIndex(i)
            u[i] += k[0][i].scaled(by: dt) + gs[0][i].scaled(by: dW[w]) + (gs[1][i] - gs[0][i]).scaled(by: chi1[w])
        }
    }
}
