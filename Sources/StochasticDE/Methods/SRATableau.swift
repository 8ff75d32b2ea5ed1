/// A stochastic Runge–Kutta method of Rößler's SRA class for SDEs with additive noise (`g`
/// independent of `u`), strong order 1.5 (Rößler 2010, SIAM J. Numer. Anal. 48(3)).
///
/// With `I₍₁,₀₎ = ½h(ΔW + ΔZ/√3)`:
///
///     Hᵢ = u + h Σⱼ A0ᵢⱼ f(t + c0ⱼh, Hⱼ) + (I₍₁,₀₎/h) Σⱼ B0ᵢⱼ g(t + c1ⱼh)
///     u⁺ = u + h Σᵢ αᵢ f(t + c0ᵢh, Hᵢ) + Σᵢ (β1ᵢ ΔW + β2ᵢ I₍₁,₀₎/h) g(t + c1ᵢh)
///
/// `c0 = A0 e`; `c1` are free nodes for the time dependence of `g`. Error estimate (Rackauckas &
/// Nie 2017, §3): `E₁ = h Σᵢ fᵢ`, `E₂ = Σᵢ β2ᵢ (I₍₁,₀₎/h) gᵢ`.
public struct SRATableau: Sendable, Hashable {
    public let name: String
    public let stages: Int
    /// Strictly lower triangular, row-major.
    public let A0: [Double], B0: [Double]
    public let alpha: [Double], beta1: [Double], beta2: [Double]
    public let c0: [Double], c1: [Double]

    /// A validated tableau (shapes, explicit, the 8 conditions of ``orderConditionResiduals()``).
    public init(
        name: String, A0: [Double], B0: [Double], alpha: [Double], beta1: [Double], beta2: [Double], c1: [Double],
        tolerance: Double = 1e-10
    ) throws(SDEError) {
        let s = alpha.count
        guard s >= 1, A0.count == s * s, B0.count == s * s, beta1.count == s, beta2.count == s, c1.count == s else {
            throw .invalidTableau("\(name): matrices must be \(s)×\(s) and vectors of length \(s)")
        }
        for i in 0..<s { for j in i..<s where A0[i * s + j] != 0 || B0[i * s + j] != 0 {
            throw .invalidTableau("\(name): coefficient (\(i), \(j)) above the diagonal; the method must be explicit")
        } }
        self.init(unchecked: name, A0: A0, B0: B0, alpha: alpha, beta1: beta1, beta2: beta2, c1: c1)
        let residuals = orderConditionResiduals()
        if let worst = residuals.indices.max(by: { abs(residuals[$0]) < abs(residuals[$1]) }), abs(residuals[worst]) > tolerance {
            throw .invalidTableau("\(name): strong order 1.5 condition \(worst + 1) is off by \(residuals[worst])")
        }
    }

    init(unchecked name: String, A0: [Double], B0: [Double], alpha: [Double], beta1: [Double], beta2: [Double], c1: [Double]) {
        let s = alpha.count
        self.name = name
        self.stages = s
        self.A0 = A0
        self.B0 = B0
        self.alpha = alpha
        self.beta1 = beta1
        self.beta2 = beta2
        self.c1 = c1
        self.c0 = (0..<s).map { i in (0..<s).reduce(0.0) { $0 + A0[i * s + $1] } }
    }

    /// `A0, B0` (`s²` each), then `α, β1, β2, c0, c1` (`s` each), for the kernel.
    var flattened: [Double] { A0 + B0 + alpha + beta1 + beta2 + c0 + c1 }

    /// Rößler's (2010) conditions for strong order 1.5 with additive noise, as (computed −
    /// required) (cross-checked against StochasticDiffEq.jl's `checkSRAOrder`): `αᵀe = 1`,
    /// `β1ᵀe = 1`, `β2ᵀe = 0`, `αᵀB0e = 1`, `αᵀA0e = ½`, `αᵀ(B0e)² = 3/2`, `β1ᵀc1 = 1`,
    /// `β2ᵀc1 = −1`.
    public func orderConditionResiduals() -> [Double] {
        let s = stages
        func dot(_ x: [Double], _ y: [Double]) -> Double { zip(x, y).reduce(0) { $0 + $1.0 * $1.1 } }
        let e = [Double](repeating: 1, count: s)
        let b0e = (0..<s).map { i in (0..<s).reduce(0.0) { $0 + B0[i * s + $1] } }
        return [
            dot(alpha, e) - 1, dot(beta1, e) - 1, dot(beta2, e), dot(alpha, b0e) - 1, dot(alpha, c0) - 0.5,
            dot(alpha, b0e.map { $0 * $0 }) - 1.5, dot(beta1, c1) - 1, dot(beta2, c1) + 1,
        ]
    }
}
