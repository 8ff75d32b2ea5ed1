import DiffEqCore

/// Why a Rosenbrock tableau was refused.
public enum RosenbrockTableauError: Error, Equatable, CustomStringConvertible, Sendable {
    case shape(String)
    /// The nodes `c_i` are not the row sums of the standard-form coupling `α`.
    case nodeMismatch(stage: Int, rowSum: Double, c: Double)
    /// The time-derivative coefficients `d_i` are not the row sums of `Γ` (diagonal included).
    case timeCoefficientMismatch(stage: Int, rowSum: Double, d: Double)
    /// An order condition of Hairer & Wanner II, Table IV.7.1 fails for the main (`embedded`
    /// false) or the embedded weights.
    case orderCondition(embedded: Bool, order: Int, condition: String, residual: Double)
    case notStifflyAccurate(String)
    case notFSAL(String)
    /// The stability function at infinity `R(∞) = 1 − bᵀB⁻¹𝟙` is not zero for a method that
    /// claims L-stability.
    case notLStable(rInfinity: Double)

    public var description: String {
        switch self {
        case .shape(let s): return "Rosenbrock tableau shape: \(s)"
        case .nodeMismatch(let i, let s, let c): return "stage \(i): row sum of alpha is \(s), but c = \(c)"
        case .timeCoefficientMismatch(let i, let s, let d): return "stage \(i): row sum of Gamma is \(s), but d = \(d)"
        case .orderCondition(let e, let p, let cond, let r):
            return "\(e ? "embedded" : "main") weights fail the order-\(p) condition \(cond) (residual \(r))"
        case .notStifflyAccurate(let s): return "not stiffly accurate: \(s)"
        case .notFSAL(let s): return "not first-same-as-last: \(s)"
        case .notLStable(let r): return "claims L-stability but R(inf) = \(r)"
        }
    }
}

/// The stage sums of a Rosenbrock tableau, `Σ_j w_j U_j` for each row of `a` and of `C`, for the
/// error weights and for the solution weights, with the zero coefficients left out and the rest
/// flattened for the stepper's stage loops: those loops then neither branch on nor multiply by
/// zeros (Rodas5P's error estimate is one nonzero weight out of eight), and they add the
/// remaining terms in the order of `j` as a dense loop skipping zeros would, so the sums round
/// the same.
@usableFromInline
struct RosenbrockStageSums: Sendable {
    /// Sum `r` is terms `bounds[r] ..< bounds[r + 1]`. Rows: `a` (0 ..< s), `C` (s ..< 2s), error
    /// weights (2s), solution weights (2s + 1).
    @usableFromInline let bounds: [Int]
    /// The stage `j` of each term.
    @usableFromInline let stages: [Int]
    @usableFromInline let weights: [Double]

    init(rows: [[Double]]) {
        var bounds = [0]
        var stages: [Int] = []
        var weights: [Double] = []
        for row in rows {
            for (j, w) in row.enumerated() where w != 0 {
                stages.append(j)
                weights.append(w)
            }
            bounds.append(stages.count)
        }
        self.bounds = bounds
        self.stages = stages
        self.weights = weights
    }
}

/// A Rosenbrock (ROW) method as data (DESIGN.md §5), in the transformed form of Hairer &
/// Wanner II, §IV.7, eqs. (7.25)-(7.27), with a mass matrix as in §VI.4:
///
/// ```
/// (M/(γh) − J) U_i = f(t + c_i h, u + Σ_{j<i} a_ij U_j) + M Σ_{j<i} (C_ij/h) U_j + d_i h ∂f/∂t
/// u_new = u + Σ_i m_i U_i,      error estimate Σ_i e_i U_i  (e = m − m̂)
/// ```
///
/// so that each stage costs one right-hand side and one solve with the factored `W`, and no
/// product with `J`. The dense output is the Rodas form (rodas.f, `CONTRO`):
/// `u(θ) = (1−θ)u + θ(u_new + (1−θ)(h₁ + θ(h₂ + θ(h₃ + …))))`, `h_k = Σ_j H_kj U_j`.
///
/// Validation on construction converts to the standard form (HW II (7.4): `Γ = (diag(1/γ) − C)⁻¹`,
/// `α = aΓ`, `b = mΓ`, `b̂ = m̂Γ`) and checks: the nodes are the row sums of `α`, the `d_i` the
/// row sums of `Γ`; the order conditions of HW II Table IV.7.1 up to `min(order, 4)` for `b`
/// and `min(embeddedOrder, 4)` for `b̂`; and, when claimed, stiff accuracy (`b_j = α_sj + γ_sj`,
/// `b_s = γ`, i.e. `m = (a_s, 1)`), the first-same-as-last structure (the last stage is
/// evaluated at `u_new` at `t + h`) and L-stability (`R(∞) = 1 − bᵀB⁻¹𝟙 = 0`, `B = α + Γ`).
public struct RosenbrockTableau: Sendable {
    public let name: String
    /// Order of the propagated solution.
    public let order: Int
    /// Order of the embedded solution.
    public let embeddedOrder: Int
    /// The diagonal `γ` of `Γ`.
    public let gamma: Double
    /// `a[i]` has `i` entries: the transformed coupling of stage `i` to the stages before it.
    public let a: [[Double]]
    /// `C[i]` has `i` entries: the coefficients of `M U_j / h` in stage `i`'s right-hand side.
    public let C: [[Double]]
    /// Nodes: stage `i` evaluates `f` at `t + c_i h`.
    public let c: [Double]
    /// Coefficients of `h ∂f/∂t` in each stage (row sums of `Γ`).
    public let d: [Double]
    /// Weights of the propagated solution, `u_new = u + Σ m_i U_i`.
    public let m: [Double]
    /// Error weights `m − m̂` (the local error estimate is `Σ e_i U_i`).
    public let errorWeights: [Double]
    /// Dense-output rows `H_k` (each with one entry per stage).
    public let dense: [[Double]]
    /// The propagated solution is the last stage's argument plus `U_s` (HW II §VI.4).
    public let isStifflyAccurate: Bool
    /// The last stage evaluates `f(t + h, u_new)`: after an accepted step it is the next step's
    /// first right-hand side.
    public let isFSAL: Bool
    public let isLStable: Bool
    /// The step-size controller tuned for this method.
    public let controller: PIController
    /// The stage sums' nonzero terms, flattened once here rather than in every solve.
    @usableFromInline let stageSums: RosenbrockStageSums

    public var stages: Int { c.count }

    /// Builds and checks a tableau given in the transformed form. `tolerance` bounds the
    /// residual of every check relative to the size of its terms.
    public init(
        name: String, order: Int, embeddedOrder: Int, gamma: Double, a: [[Double]], C: [[Double]], c: [Double],
        d: [Double], m: [Double], mhat: [Double], dense: [[Double]], isStifflyAccurate: Bool = false,
        isFSAL: Bool = false, isLStable: Bool = false, controller: PIController, tolerance: Double = 1e-10
    ) throws(RosenbrockTableauError) {
        let s = c.count
        guard s > 0, a.count == s, C.count == s, d.count == s, m.count == s, mhat.count == s else {
            throw .shape("c, d, m, m̂ and the rows of a and C must have one entry per stage")
        }
        for i in 0..<s where a[i].count != i || C[i].count != i {
            throw .shape("row \(i) of a and C must have \(i) entries")
        }
        for (k, row) in dense.enumerated() where row.count != s {
            throw .shape("dense-output row \(k) must have one entry per stage")
        }
        guard gamma > 0 else { throw .shape("gamma must be positive") }
        let standard = StandardForm(gamma: gamma, a: a, C: C, m: m)
        let bhat = StandardForm(gamma: gamma, a: a, C: C, m: mhat).b
        func close(_ x: Double, _ y: Double, scale: Double = 1) -> Bool {
            Swift.abs(x - y) <= tolerance * Swift.max(1, scale, Swift.abs(y))
        }
        for i in 0..<s {
            let rowSum = standard.alpha[i].reduce(0, +)
            if !close(rowSum, c[i]) { throw .nodeMismatch(stage: i, rowSum: rowSum, c: c[i]) }
            let gammaSum = standard.gammaMatrix[i].reduce(0, +)
            if !close(gammaSum, d[i]) { throw .timeCoefficientMismatch(stage: i, rowSum: gammaSum, d: d[i]) }
        }
        for (b, p, embedded) in [(standard.b, order, false), (bhat, embeddedOrder, true)] {
            for condition in standard.orderConditions(weights: b, upTo: Swift.min(p, 4)) {
                if !close(condition.value, condition.target, scale: condition.scale) {
                    throw .orderCondition(
                        embedded: embedded, order: condition.order, condition: condition.name,
                        residual: condition.value - condition.target)
                }
            }
        }
        if isStifflyAccurate {
            guard c[s - 1] == 1 else { throw .notStifflyAccurate("the last node must be 1") }
            for j in 0..<(s - 1) where !close(m[j], a[s - 1][j]) {
                throw .notStifflyAccurate("m[\(j)] = \(m[j]) differs from a[\(s - 1)][\(j)] = \(a[s - 1][j])")
            }
            guard close(m[s - 1], 1) else { throw .notStifflyAccurate("the last weight must be 1") }
        }
        if isFSAL {
            guard c[s - 1] == 1, m[s - 1] == 0 else { throw .notFSAL("the last node must be 1 and its weight 0") }
            for j in 0..<(s - 1) where !close(m[j], a[s - 1][j]) {
                throw .notFSAL("the last stage is not evaluated at the new solution (a[\(s - 1)][\(j)] ≠ m[\(j)])")
            }
        }
        if isLStable {
            let r = standard.stabilityAtInfinity()
            if Swift.abs(r) > tolerance { throw .notLStable(rInfinity: r) }
        }
        self.name = name
        self.order = order
        self.embeddedOrder = embeddedOrder
        self.gamma = gamma
        self.a = a
        self.C = C
        self.c = c
        self.d = d
        self.m = m
        self.errorWeights = zip(m, mhat).map { $0 - $1 }
        self.dense = dense
        self.isStifflyAccurate = isStifflyAccurate
        self.isFSAL = isFSAL
        self.isLStable = isLStable
        self.controller = controller
        stageSums = RosenbrockStageSums(rows: a + C + [errorWeights, m])
    }

    /// Builds a tableau from the standard form of HW II (7.4),
    /// `(I − γhJ) k_i = h f(u + Σ α_ij k_j) + hJ Σ_{j<i} γ_ij k_j`, `u_new = u + Σ b_i k_i`, with a
    /// dense output `Σ_j Hk_kj k_j` given over the standard stages: it is transformed with
    /// `U = Γk` (HW II (7.25)-(7.27)) and then validated as above.
    public static func fromStandardForm(
        name: String, order: Int, embeddedOrder: Int, gamma: Double, alpha: [[Double]], gammaBelow: [[Double]],
        b: [Double], bhat: [Double], dense: [[Double]], isFSAL: Bool = false, isLStable: Bool = false,
        controller: PIController, tolerance: Double = 1e-10
    ) throws(RosenbrockTableauError) -> RosenbrockTableau {
        let s = b.count
        guard alpha.count == s, gammaBelow.count == s, bhat.count == s else {
            throw .shape("alpha, gamma and the weights must have one row (entry) per stage")
        }
        for i in 0..<s where alpha[i].count != i || gammaBelow[i].count != i {
            throw .shape("row \(i) of alpha and gamma must have \(i) entries")
        }
        // G = Γ⁻¹ (lower triangular, forward substitution column by column).
        var full = [[Double]](repeating: [Double](repeating: 0, count: s), count: s)
        for i in 0..<s {
            for j in 0..<i { full[i][j] = gammaBelow[i][j] }
            full[i][i] = gamma
        }
        let inverse = lowerTriangularInverse(full)
        func times(_ row: [Double], _ count: Int) -> [Double] {
            (0..<s).map { j in (0..<count).reduce(0.0) { $0 + row[$1] * inverse[$1][j] } }
        }
        let a = (0..<s).map { i in Array(times(alpha[i] + [Double](repeating: 0, count: s - i), i).prefix(i)) }
        let C = (0..<s).map { i in (0..<i).map { j in -inverse[i][j] } }
        let c = alpha.map { $0.reduce(0, +) }
        let d = (0..<s).map { i in full[i].reduce(0, +) }
        let m = times(b, s)
        let mhat = times(bhat, s)
        let H = dense.map { times($0, s) }
        return try RosenbrockTableau(
            name: name, order: order, embeddedOrder: embeddedOrder, gamma: gamma, a: a, C: C, c: c, d: d, m: m,
            mhat: mhat, dense: H, isFSAL: isFSAL, isLStable: isLStable, controller: controller, tolerance: tolerance)
    }
}

/// Inverse of a lower-triangular matrix with a non-zero diagonal.
func lowerTriangularInverse(_ L: [[Double]]) -> [[Double]] {
    let s = L.count
    var X = [[Double]](repeating: [Double](repeating: 0, count: s), count: s)
    for j in 0..<s {
        X[j][j] = 1 / L[j][j]
        for i in (j + 1)..<Swift.max(s, j + 1) {
            var acc = 0.0
            for k in j..<i { acc += L[i][k] * X[k][j] }
            X[i][j] = -acc / L[i][i]
        }
    }
    return X
}

/// The standard form `(α, Γ, b)` recovered from the transformed coefficients, and the order
/// conditions and stability function evaluated on it.
struct StandardForm {
    let gamma: Double
    /// Strictly lower triangular (full `s x s`).
    let alpha: [[Double]]
    /// `Γ`, lower triangular with `γ` on the diagonal.
    let gammaMatrix: [[Double]]
    let b: [Double]

    init(gamma: Double, a: [[Double]], C: [[Double]], m: [Double]) {
        let s = m.count
        // Γ⁻¹ = diag(1/γ) − C (HW II (7.27)).
        var inv = [[Double]](repeating: [Double](repeating: 0, count: s), count: s)
        for i in 0..<s {
            for j in 0..<i { inv[i][j] = -C[i][j] }
            inv[i][i] = 1 / gamma
        }
        let G = lowerTriangularInverse(inv)
        self.gamma = gamma
        gammaMatrix = G
        var alpha = [[Double]](repeating: [Double](repeating: 0, count: s), count: s)
        var b = [Double](repeating: 0, count: s)
        for j in 0..<s {
            for i in 0..<s {
                for k in 0..<i { alpha[i][j] += a[i][k] * G[k][j] }
                b[j] += m[i] * G[i][j]
            }
        }
        self.alpha = alpha
        self.b = b
    }

    struct Condition {
        let order: Int
        let name: String
        let value: Double
        let target: Double
        /// Size of the largest term of the sum, so that the check is relative to the
        /// cancellation the sum involves.
        let scale: Double
    }

    /// Hairer & Wanner II, Table IV.7.1, with `β_ij = α_ij + γ_ij` (`j < i`), `c_i = Σ_j α_ij`,
    /// `β'_i = Σ_j β_ij`.
    func orderConditions(weights b: [Double], upTo p: Int) -> [Condition] {
        let s = b.count
        let g = gamma
        var beta = [[Double]](repeating: [Double](repeating: 0, count: s), count: s)
        for i in 0..<s {
            for j in 0..<i { beta[i][j] = alpha[i][j] + gammaMatrix[i][j] }
        }
        let c = alpha.map { $0.reduce(0, +) }
        let betaSum = beta.map { $0.reduce(0, +) }
        func apply(_ A: [[Double]], _ v: [Double]) -> [Double] {
            (0..<s).map { i in (0..<s).reduce(0.0) { $0 + A[i][$1] * v[$1] } }
        }
        func weighted(_ v: [Double]) -> (Double, Double) {
            var sum = 0.0, scale = 0.0
            for i in 0..<s {
                sum += b[i] * v[i]
                scale = Swift.max(scale, Swift.abs(b[i] * v[i]))
            }
            return (sum, scale)
        }
        var out: [Condition] = []
        func add(_ order: Int, _ name: String, _ v: [Double], _ target: Double) {
            let (value, scale) = weighted(v)
            out.append(Condition(order: order, name: name, value: value, target: target, scale: scale))
        }
        let one = [Double](repeating: 1, count: s)
        if p >= 1 { add(1, "Σ b_j = 1", one, 1) }
        if p >= 2 { add(2, "Σ b_j β_jk = 1/2 − γ", betaSum, 0.5 - g) }
        if p >= 3 {
            add(3, "Σ b_j α_jk α_jl = 1/3", c.map { $0 * $0 }, 1.0 / 3)
            add(3, "Σ b_j β_jk β_kl = 1/6 − γ + γ²", apply(beta, betaSum), 1.0 / 6 - g + g * g)
        }
        if p >= 4 {
            add(4, "Σ b_j α_jk α_jl α_jm = 1/4", c.map { $0 * $0 * $0 }, 0.25)
            let alphaBeta = apply(alpha, betaSum)
            add(4, "Σ b_j α_jk β_kl α_jm = 1/8 − γ/3", (0..<s).map { c[$0] * alphaBeta[$0] }, 0.125 - g / 3)
            add(4, "Σ b_j β_jk α_kl α_km = 1/12 − γ/3", apply(beta, c.map { $0 * $0 }), 1.0 / 12 - g / 3)
            add(
                4, "Σ b_j β_jk β_kl β_lm = 1/24 − γ/2 + 3γ²/2 − γ³", apply(beta, apply(beta, betaSum)),
                1.0 / 24 - g / 2 + 1.5 * g * g - g * g * g)
        }
        return out
    }

    /// `R(∞) = 1 − bᵀ B⁻¹ 𝟙` with `B = α + Γ` (HW II §IV.7, the stability function
    /// `R(z) = 1 + z bᵀ(I − zB)⁻¹𝟙`).
    func stabilityAtInfinity() -> Double {
        let s = b.count
        var B = gammaMatrix
        for i in 0..<s {
            for j in 0..<i { B[i][j] += alpha[i][j] }
        }
        let Binv = lowerTriangularInverse(B)
        var r = 1.0
        for i in 0..<s { for j in 0..<s { r -= b[i] * Binv[i][j] } }
        return r
    }
}
