import DiffEqCore

/// Why an (E)SDIRK tableau was refused.
public enum SDIRKTableauError: Error, Equatable, CustomStringConvertible, Sendable {
    case shape(String)
    case rowSumNotC(row: Int, sum: Double, c: Double)
    case diagonalNotConstant(row: Int, value: Double, gamma: Double)
    case notExplicitFirstStage(String)
    case weightsDoNotSumToOne(which: String, sum: Double)
    case notStifflyAccurate(String)
    case interpolantDoesNotMatchWeights(stage: Int, value: Double, b: Double)

    public var description: String {
        switch self {
        case .shape(let s): return "SDIRK tableau shape: \(s)"
        case .rowSumNotC(let r, let s, let c): return "row \(r) of A sums to \(s), but c = \(c)"
        case .diagonalNotConstant(let r, let v, let g): return "a[\(r)][\(r)] = \(v), but the diagonal is γ = \(g)"
        case .notExplicitFirstStage(let why): return "not an explicit first stage: \(why)"
        case .weightsDoNotSumToOne(let which, let s): return "weights \(which) sum to \(s), not 1"
        case .notStifflyAccurate(let why): return "claimed stiffly accurate, but \(why)"
        case .interpolantDoesNotMatchWeights(let i, let v, let b):
            return "interpolant weight \(i) at theta = 1 is \(v), but b = \(b)"
        }
    }
}

/// The dense output of an (E)SDIRK step, `u(t + θh) = u + h Σ_i b_i(θ) k_i`, with
/// `b_i(θ) = Σ_j B[i][j] θ^(j+1)` over the stage derivatives `k_i` of the step.
public struct SDIRKInterpolant: Sendable {
    /// Order of the interpolant (local error `O(h^(order+1))`).
    public let order: Int
    /// Polynomial coefficients `B[i][j]` of `b_i(θ)` in powers `θ^1 ... θ^d`, one row per stage.
    public let coefficients: [[Double]]
    /// Where the interpolant comes from.
    public let source: String

    public init(order: Int, coefficients: [[Double]], source: String) {
        self.order = order
        self.coefficients = coefficients
        self.source = source
    }

    /// The cubic Hermite interpolant through `u_n`, `f(t_n, u_n) = k_1` and `u_{n+1}`,
    /// `f(t_{n+1}, u_{n+1}) ≈ k_s`, for an ESDIRK method that is stiffly accurate with `c_s = 1`
    /// (so that its first and last stage derivatives are the slopes at the step's ends), written
    /// in the stage form: `b_i(θ) = b_i (3θ² − 2θ³) + δ_{i1} (θ − 2θ² + θ³) + δ_{is} (θ³ − θ²)`.
    /// Third order.
    public static func cubicHermite(b: [Double]) -> SDIRKInterpolant {
        let s = b.count
        var rows: [[Double]] = []
        for i in 0..<s {
            let first: Double = i == 0 ? 1 : 0
            let last: Double = i == s - 1 ? 1 : 0
            rows.append([first, 3 * b[i] - 2 * first - last, -2 * b[i] + first + last])
        }
        return SDIRKInterpolant(
            order: 3, coefficients: rows,
            source: "cubic Hermite interpolation of u and f(u) at both ends of the step (no published dense output)")
    }
}

/// A singly diagonally implicit Runge-Kutta method as data (DESIGN.md §5): validated when built,
/// run by the one generic ``SDIRKStepper``.
///
/// `A` is lower triangular with the constant diagonal `γ` (an ESDIRK method has an explicit first
/// stage, `a₁₁ = 0`, `c₁ = 0`). Each implicit stage solves
/// `Y_i = u + h Σ_{j<i} a_ij k_j + γh f(t + c_i h, Y_i)` by a simplified Newton iteration on
/// `W = I − γhJ`, and the step is `u + h Σ b_i k_i` with the error estimate `h Σ (b_i − b̂_i) k_i`.
public struct SDIRKTableau: Sendable {
    public let name: String
    /// Order of the propagated solution.
    public let order: Int
    /// Order of the embedded solution `b̂` used for the error estimate.
    public let embeddedOrder: Int
    /// Nodes `c_i`.
    public let c: [Double]
    /// Lower-triangular coupling including the diagonal: `a[i]` has `i + 1` entries.
    public let a: [[Double]]
    /// Weights of the propagated solution.
    public let b: [Double]
    /// Weights of the embedded solution.
    public let bhat: [Double]
    /// The constant diagonal.
    public let gamma: Double
    /// `a₁₁ = 0`, `c₁ = 0`: the first stage is `f(t_n, u_n)` (ESDIRK).
    public let hasExplicitFirstStage: Bool
    /// The last row of `A` is `b` and `c_s = 1`: the step's result is the last stage, and the last
    /// stage derivative is the slope at the step's end (reused as the next step's first stage).
    public let isStifflyAccurate: Bool
    /// The method's dense output.
    public let interpolant: SDIRKInterpolant
    /// The step-size controller tuned for this method.
    public let controller: PIController

    public var stages: Int { c.count }
    /// Error weights `b − b̂`.
    public var btilde: [Double] { zip(b, bhat).map { $0 - $1 } }

    /// Builds and checks a tableau: shape, constant diagonal `γ > 0`, explicit first stage when
    /// claimed, row sums of `A` equal to `c`, `b` and `b̂` summing to 1, the last row equal to `b`
    /// with `c_s = 1` when claimed stiffly accurate, and the interpolant reproducing `b` at `θ = 1`
    /// (all to `tolerance`). The controller's order defaults to `min(order, embeddedOrder) + 1`,
    /// the power of `h` in the local error estimate.
    public init(
        name: String, order: Int, embeddedOrder: Int, c: [Double], a: [[Double]], b: [Double], bhat: [Double],
        hasExplicitFirstStage: Bool, isStifflyAccurate: Bool, interpolant: SDIRKInterpolant,
        controller: PIController? = nil, tolerance: Double = 1e-12
    ) throws(SDIRKTableauError) {
        let s = c.count
        guard s > 0, a.count == s, b.count == s, bhat.count == s else {
            throw .shape("c, A, b and b̂ must all have one entry (row) per stage")
        }
        for (i, row) in a.enumerated() where row.count != i + 1 {
            throw .shape("row \(i) of A must have \(i + 1) entries (the diagonal included)")
        }
        let firstImplicit = hasExplicitFirstStage ? 1 : 0
        guard s > firstImplicit else { throw .shape("an SDIRK method needs at least one implicit stage") }
        let gamma = a[firstImplicit][firstImplicit]
        guard gamma > 0, gamma.isFinite else { throw .diagonalNotConstant(row: firstImplicit, value: gamma, gamma: gamma) }
        if hasExplicitFirstStage {
            guard a[0][0] == 0 else { throw .notExplicitFirstStage("a[0][0] = \(a[0][0])") }
            guard c[0] == 0 else { throw .notExplicitFirstStage("c[0] = \(c[0])") }
        }
        for i in firstImplicit..<s where Swift.abs(a[i][i] - gamma) > tolerance {
            throw .diagonalNotConstant(row: i, value: a[i][i], gamma: gamma)
        }
        for (i, row) in a.enumerated() {
            let sum = row.reduce(0, +)
            if Swift.abs(sum - c[i]) > tolerance * Swift.max(1, Swift.abs(c[i])) {
                throw .rowSumNotC(row: i, sum: sum, c: c[i])
            }
        }
        let bsum = b.reduce(0, +)
        if Swift.abs(bsum - 1) > tolerance { throw .weightsDoNotSumToOne(which: "b", sum: bsum) }
        let bhatSum = bhat.reduce(0, +)
        if Swift.abs(bhatSum - 1) > tolerance { throw .weightsDoNotSumToOne(which: "b̂", sum: bhatSum) }
        if isStifflyAccurate {
            guard c[s - 1] == 1 else { throw .notStifflyAccurate("c_s = \(c[s - 1]), not 1") }
            for j in 0..<s where Swift.abs(a[s - 1][j] - b[j]) > tolerance {
                throw .notStifflyAccurate("a[s][\(j)] = \(a[s - 1][j]) differs from b = \(b[j])")
            }
        }
        guard interpolant.coefficients.count == s else {
            throw .shape("the interpolant needs one polynomial per stage")
        }
        for (i, poly) in interpolant.coefficients.enumerated() {
            let atOne = poly.reduce(0, +)
            if Swift.abs(atOne - b[i]) > 1e3 * tolerance {
                throw .interpolantDoesNotMatchWeights(stage: i, value: atOne, b: b[i])
            }
        }
        self.name = name
        self.order = order
        self.embeddedOrder = embeddedOrder
        self.c = c
        self.a = a
        self.b = b
        self.bhat = bhat
        self.gamma = gamma
        self.hasExplicitFirstStage = hasExplicitFirstStage
        self.isStifflyAccurate = isStifflyAccurate
        self.interpolant = interpolant
        self.controller = controller ?? .standard(order: Swift.min(order, embeddedOrder) + 1)
    }
}
