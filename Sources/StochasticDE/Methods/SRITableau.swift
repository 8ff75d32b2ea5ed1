/// A stochastic Runge–Kutta method of Rößler's SRI class for Itô SDEs with diagonal or scalar
/// noise, strong order 1.5 (A. Rößler, "Runge–Kutta methods for the strong approximation of
/// solutions of stochastic differential equations", SIAM J. Numer. Anal. 48(3), 922–952, 2010).
///
/// With `h` the step, `ΔW` the increment, `I₍₁,₁₎ = ½(ΔW² − h)`, `I₍₁,₀₎ = ½h(ΔW + ΔZ/√3)`,
/// `I₍₁,₁,₁₎ = (ΔW³ − 3hΔW)/6` (per Wiener process, so per component for diagonal noise):
///
///     H⁽⁰⁾ᵢ = u + h Σⱼ A0ᵢⱼ f(t + c0ⱼh, H⁽⁰⁾ⱼ) + (I₍₁,₀₎/h) Σⱼ B0ᵢⱼ g(t + c1ⱼh, H⁽¹⁾ⱼ)
///     H⁽¹⁾ᵢ = u + h Σⱼ A1ᵢⱼ f(t + c0ⱼh, H⁽⁰⁾ⱼ) + √h Σⱼ B1ᵢⱼ g(t + c1ⱼh, H⁽¹⁾ⱼ)
///     u⁺ = u + h Σᵢ αᵢ fᵢ + Σᵢ (β1ᵢ ΔW + β2ᵢ I₍₁,₁₎/√h + β3ᵢ I₍₁,₀₎/h + β4ᵢ I₍₁,₁,₁₎/h) gᵢ
///
/// `c0 = A0 e`, `c1 = A1 e`. The error estimate of Rackauckas & Nie (2017, §3) takes
/// `E₁ = h Σᵢ fᵢ` over the first ``errorDriftStages`` stages and `E₂ = Σᵢ (β3ᵢ I₍₁,₀₎/h + β4ᵢ
/// I₍₁,₁,₁₎/h) gᵢ`.
public struct SRITableau: Sendable, Hashable {
    public let name: String
    public let stages: Int
    /// Strictly lower triangular, row-major `stages × stages`.
    public let A0: [Double], A1: [Double], B0: [Double], B1: [Double]
    public let alpha: [Double], beta1: [Double], beta2: [Double], beta3: [Double], beta4: [Double]
    public let c0: [Double], c1: [Double]
    public let errorDriftStages: Int

    /// A validated tableau: shapes, strictly lower triangular `A0, A1, B0, B1`, and Rößler's 25
    /// conditions for strong order 1.5 (``orderConditionResiduals()``) within `tolerance`.
    public init(
        name: String, A0: [Double], A1: [Double], B0: [Double], B1: [Double], alpha: [Double], beta1: [Double],
        beta2: [Double], beta3: [Double], beta4: [Double], errorDriftStages: Int? = nil, tolerance: Double = 1e-10
    ) throws(SDEError) {
        let s = alpha.count
        guard s >= 1, [A0, A1, B0, B1].allSatisfy({ $0.count == s * s }),
            [beta1, beta2, beta3, beta4].allSatisfy({ $0.count == s })
        else { throw .invalidTableau("\(name): matrices must be \(s)×\(s) and vectors of length \(s)") }
        for i in 0..<s { for j in i..<s where A0[i * s + j] != 0 || A1[i * s + j] != 0 || B0[i * s + j] != 0 || B1[i * s + j] != 0 {
            throw .invalidTableau("\(name): coefficient (\(i), \(j)) above the diagonal; the method must be explicit")
        } }
        self.init(
            unchecked: name, A0: A0, A1: A1, B0: B0, B1: B1, alpha: alpha, beta1: beta1, beta2: beta2, beta3: beta3,
            beta4: beta4, errorDriftStages: errorDriftStages ?? s)
        let residuals = orderConditionResiduals()
        if let worst = residuals.indices.max(by: { abs(residuals[$0]) < abs(residuals[$1]) }), abs(residuals[worst]) > tolerance {
            throw .invalidTableau("\(name): strong order 1.5 condition \(worst + 1) is off by \(residuals[worst])")
        }
    }

    init(
        unchecked name: String, A0: [Double], A1: [Double], B0: [Double], B1: [Double], alpha: [Double],
        beta1: [Double], beta2: [Double], beta3: [Double], beta4: [Double], errorDriftStages: Int
    ) {
        let s = alpha.count
        self.name = name
        self.stages = s
        self.A0 = A0
        self.A1 = A1
        self.B0 = B0
        self.B1 = B1
        self.alpha = alpha
        self.beta1 = beta1
        self.beta2 = beta2
        self.beta3 = beta3
        self.beta4 = beta4
        self.errorDriftStages = errorDriftStages
        self.c0 = (0..<s).map { i in (0..<s).reduce(0.0) { $0 + A0[i * s + $1] } }
        self.c1 = (0..<s).map { i in (0..<s).reduce(0.0) { $0 + A1[i * s + $1] } }
    }

    /// `A0, A1, B0, B1` (`s²` each), then `α, β1, β2, β3, β4, c0, c1` (`s` each), for the kernel.
    var flattened: [Double] { A0 + A1 + B0 + B1 + alpha + beta1 + beta2 + beta3 + beta4 + c0 + c1 }

    /// The 25 order conditions for strong order 1.5 of the SRI class, as (computed − required),
    /// as Rößler (2010) states them for the SRI class (cross-checked against StochasticDiffEq.jl's
    /// `checkSRIOrder`): `αᵀe = 1`, `β1ᵀe = 1`, `β2ᵀe = β3ᵀe = β4ᵀe = 0`; `βkᵀB1e = (0, 1, 0,
    /// 0)`; `αᵀA0e = ½`, `αᵀB0e = 1`, `αᵀ(B0e)² = 3/2`; `βkᵀA1e = (1, 0, −1, 0)`;
    /// `βkᵀ(B1e)² = (1, 0, −1, 2)`; `βkᵀB1(B1e) = (0, 0, 0, 1)`; `½β1ᵀA1(B0e) + ⅓β3ᵀA1(B0e) = 0`.
    public func orderConditionResiduals() -> [Double] {
        let s = stages
        func dot(_ x: [Double], _ y: [Double]) -> Double { zip(x, y).reduce(0) { $0 + $1.0 * $1.1 } }
        func mul(_ m: [Double], _ v: [Double]) -> [Double] { (0..<s).map { i in (0..<s).reduce(0.0) { $0 + m[i * s + $1] * v[$1] } } }
        let e = [Double](repeating: 1, count: s)
        let b0e = mul(B0, e), b1e = mul(B1, e), a0e = mul(A0, e), a1e = mul(A1, e)
        let b1e2 = b1e.map { $0 * $0 }, b0e2 = b0e.map { $0 * $0 }
        let b1b1e = mul(B1, b1e), a1b0e = mul(A1, b0e)
        let betas = [beta1, beta2, beta3, beta4]
        var r: [Double] = [dot(alpha, e) - 1, dot(beta1, e) - 1, dot(beta2, e), dot(beta3, e), dot(beta4, e)]
        r += zip(betas, [0.0, 1, 0, 0]).map { dot($0.0, b1e) - $0.1 }
        r += [dot(alpha, a0e) - 0.5, dot(alpha, b0e) - 1, dot(alpha, b0e2) - 1.5]
        r += zip(betas, [1.0, 0, -1, 0]).map { dot($0.0, a1e) - $0.1 }
        r += zip(betas, [1.0, 0, -1, 2]).map { dot($0.0, b1e2) - $0.1 }
        r += zip(betas, [0.0, 0, 0, 1]).map { dot($0.0, b1b1e) - $0.1 }
        r.append(0.5 * dot(beta1, a1b0e) + dot(beta3, a1b0e) / 3)
        return r
    }
}
