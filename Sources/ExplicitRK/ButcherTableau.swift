import DiffEqCore

/// Why a tableau was refused.
public enum TableauError: Error, Equatable, CustomStringConvertible, Sendable {
    case shape(String)
    case rowSumNotC(row: Int, sum: Double, c: Double)
    case weightsDoNotSumToOne(Double)
    case errorWeightsDoNotSumToZero(Double)
    case interpolantDoesNotMatchWeights(stage: Int, value: Double, b: Double)

    public var description: String {
        switch self {
        case .shape(let s): return "tableau shape: \(s)"
        case .rowSumNotC(let r, let s, let c): return "row \(r) of A sums to \(s), but c = \(c)"
        case .weightsDoNotSumToOne(let s): return "weights b sum to \(s), not 1"
        case .errorWeightsDoNotSumToZero(let s): return "error weights sum to \(s), not 0"
        case .interpolantDoesNotMatchWeights(let i, let v, let b):
            return "interpolant weight \(i) at theta = 1 is \(v), but b = \(b)"
        }
    }
}

/// A continuous extension `u(t + θh) = u + h Σ_i b_i(θ) k_i`, with `b_i(θ) = Σ_j B[i][j] θ^(j+1)`,
/// over the step's stages followed by any extra stages the interpolant needs (computed lazily,
/// only when the solution is evaluated inside the step).
public struct ContinuousExtension: Sendable {
    /// Order of the interpolant.
    public let order: Int
    /// Nodes of the extra stages.
    public let extraC: [Double]
    /// Coupling rows of the extra stages, each over all stages before it.
    public let extraA: [[Double]]
    /// Polynomial coefficients `B[i][j]` of `b_i(θ)` in powers `θ^1 ... θ^d`.
    public let coefficients: [[Double]]

    public init(order: Int, extraC: [Double] = [], extraA: [[Double]] = [], coefficients: [[Double]]) {
        self.order = order
        self.extraC = extraC
        self.extraA = extraA
        self.coefficients = coefficients
    }
}

/// An error estimate from the defect of the step's cubic Hermite interpolant instead of an
/// embedded solution: the interpolant `P` through `(u_n, f_n)` and `(u_{n+1}, f(u_{n+1}))`
/// (Hairer, Nørsett & Wanner I, §II.6, eq. (6.7)) is sampled at ``nodes``, and the largest scaled
/// residual `h·(f(P(θ)) − P'(θ))` times ``scale`` is the step's error. For a method of order 4
/// the Hermite interpolant is of order 3 and its residual behaves like `h^4`: an estimate of the
/// local error's size with no embedded formula (L. F. Shampine, "Solving ODEs and DDEs with
/// residual control", Applied Numerical Mathematics 52 (2005) 113-127). Costs `1 + nodes.count`
/// evaluations per step, one of which (`f(u_{n+1})`) is the next step's first stage.
public struct ResidualErrorEstimate: Sendable, Equatable {
    /// Where the residual is sampled, as fractions `θ` of the step (inside `(0, 1)`).
    public let nodes: [Double]
    /// The factor from the largest sampled residual to the estimate.
    public let scale: Double

    public init(nodes: [Double], scale: Double) {
        self.nodes = nodes
        self.scale = scale
    }

    /// The two Gauss points `θ = 1/2 ∓ √3/6` with the factor 2.1342, as OrdinaryDiffEq
    /// estimates the error of its adaptive `RK4` (`perform_step!` for `RK4ConstantCache` in
    /// OrdinaryDiffEqLowOrderRK, citing Shampine (2005)).
    public static let twoGaussPoints = ResidualErrorEstimate(
        nodes: [0.5 - 3.0.squareRoot() / 6, 0.5 + 3.0.squareRoot() / 6], scale: 2.1342)
}

/// An explicit Runge-Kutta method as data (DESIGN.md §5): validated when built, run by the one
/// generic ``ExplicitRKStepper``.
///
/// Performance: the fields live in one immutable instance made when the tableau is built, so a
/// copy of a tableau (or of a stepper holding one, copied several times while a solve is set
/// up) retains one object instead of ten arrays. Callgrind, Hutchinson delay solve with Tsit5:
/// the tableau's own copies and releases (~2.8 k instructions per solve) are gone and releasing
/// the wrapped stepper costs 2.6 k instead of 4.8 k.
public struct ButcherTableau: Sendable {
    @usableFromInline let storage: Storage

    @inlinable public var name: String { storage.fields.name }
    /// Order of the propagated solution.
    @inlinable public var order: Int { storage.fields.order }
    /// Order of the embedded solution used for the error estimate (for a
    /// ``residualEstimate``, the order of an embedded solution whose estimate would scale the
    /// same way, `h^(q̂+1)`); `nil` for fixed-step methods.
    @inlinable public var embeddedOrder: Int? { storage.fields.embeddedOrder }
    /// Nodes `c_i` (with `c_1 = 0`).
    @inlinable public var c: [Double] { storage.fields.c }
    /// Strictly lower-triangular coupling: `a[i]` has `i` entries.
    @inlinable public var a: [[Double]] { storage.fields.a }
    /// Weights of the propagated solution.
    @inlinable public var b: [Double] { storage.fields.b }
    /// Error weights `b - b̂`: the local error estimate is `h Σ btilde_i k_i`.
    @inlinable public var btilde: [Double]? { storage.fields.btilde }
    /// A second, lower-order error estimate `h Σ btilde3_i k_i`. When present the error norm is
    /// DOP853's combination `E5 / sqrt(N (E5 + 0.01 E3))` of the squared scaled sums `E5` (from
    /// `btilde`) and `E3` (from `btilde3`) (Hairer, Nørsett & Wanner I, §II.10).
    @inlinable public var btilde3: [Double]? { storage.fields.btilde3 }
    /// An estimate from the residual of the step's Hermite interpolant, for a method without
    /// error weights (RK4); `nil` otherwise.
    @inlinable public var residualEstimate: ResidualErrorEstimate? { storage.fields.residualEstimate }
    /// First same as last: the last stage is `f(t + h, u_new)` and serves as the next step's
    /// first stage.
    @inlinable public var isFSAL: Bool { storage.fields.isFSAL }
    /// The method's published dense output.
    @inlinable public var interpolant: ContinuousExtension? { storage.fields.interpolant }
    /// The step-size controller tuned for this method.
    @inlinable public var controller: PIController { storage.fields.controller }
    /// The order `k` of the I and PID controllers' exponents: `min(p, p̂) + 1` for an embedded
    /// pair, `p` for DOP853's combined estimate (which behaves as `h^8`; HNW I §II.10).
    @inlinable public var controllerOrder: Int {
        btilde3 != nil ? order : Swift.min(order, embeddedOrder ?? order) + 1
    }
    /// Where the stability region crosses the negative real axis, as `|z|` (computed once, when
    /// the tableau is built: stiffness switching compares `|h|ρ` with it after every step).
    @inlinable public var realStabilityBoundary: Double { storage.fields.realStabilityBoundary }
    /// The coefficients in the layout ``ExplicitRKStepper`` reads, built once with the tableau:
    /// a stepper is made per solve, and building them there (with the stepper's `init` not yet
    /// inlinable) was ~11 k of the instructions of a Hutchinson delay solve (callgrind).
    @inlinable var stepperCoefficients: StepperCoefficients { storage.fields.stepperCoefficients }

    @inlinable public var stages: Int { c.count }

    /// Whether the method estimates its error (error weights or a residual estimate).
    @inlinable public var isAdaptive: Bool { btilde != nil || residualEstimate != nil }

    /// Builds and checks a tableau: the row sums of `A` equal `c`, `b` sums to 1, the error
    /// weights sum to 0 and the interpolant reproduces `b` at `θ = 1` (to `tolerance`).
    public init(
        name: String, order: Int, embeddedOrder: Int? = nil, c: [Double], a: [[Double]], b: [Double],
        btilde: [Double]? = nil, btilde3: [Double]? = nil, residualEstimate: ResidualErrorEstimate? = nil,
        isFSAL: Bool = false, interpolant: ContinuousExtension? = nil, controller: PIController? = nil,
        tolerance: Double = 1e-12
    ) throws(TableauError) {
        let s = c.count
        guard s > 0, a.count == s, b.count == s else {
            throw .shape("c, A and b must all have one entry (row) per stage")
        }
        for (i, row) in a.enumerated() {
            guard row.count == i else { throw .shape("row \(i) of A must have \(i) entries") }
            let sum = row.reduce(0, +)
            if Swift.abs(sum - c[i]) > tolerance * Swift.max(1, Swift.abs(c[i])) {
                throw .rowSumNotC(row: i, sum: sum, c: c[i])
            }
        }
        let bsum = b.reduce(0, +)
        if Swift.abs(bsum - 1) > tolerance { throw .weightsDoNotSumToOne(bsum) }
        if let e = btilde {
            guard e.count == s else { throw .shape("btilde must have one entry per stage") }
            let esum = e.reduce(0, +)
            if Swift.abs(esum) > tolerance { throw .errorWeightsDoNotSumToZero(esum) }
        }
        if let e = btilde3 {
            guard btilde != nil, e.count == s else { throw .shape("btilde3 needs btilde and one entry per stage") }
            let esum = e.reduce(0, +)
            if Swift.abs(esum) > tolerance { throw .errorWeightsDoNotSumToZero(esum) }
        }
        if let r = residualEstimate {
            guard btilde == nil, !isFSAL else {
                throw .shape("a residual estimate replaces error weights, for a method that is not FSAL")
            }
            guard !r.nodes.isEmpty, r.nodes.allSatisfy({ $0 > 0 && $0 < 1 }), r.scale.isFinite, r.scale > 0 else {
                throw .shape("a residual estimate needs nodes inside (0, 1) and a positive scale")
            }
        }
        if isFSAL {
            guard c[s - 1] == 1, zip(a[s - 1], b).allSatisfy({ Swift.abs($0 - $1) <= tolerance }),
                b[s - 1] == 0
            else { throw .shape("an FSAL method's last row of A must equal b, with c = 1") }
        }
        if let ext = interpolant {
            guard ext.extraC.count == ext.extraA.count else { throw .shape("extra stages: c and A differ") }
            for (j, row) in ext.extraA.enumerated() {
                guard row.count == s + j else { throw .shape("extra stage \(j) must couple to \(s + j) stages") }
                let sum = row.reduce(0, +)
                if Swift.abs(sum - ext.extraC[j]) > tolerance * Swift.max(1, Swift.abs(ext.extraC[j])) {
                    throw .rowSumNotC(row: s + j, sum: sum, c: ext.extraC[j])
                }
            }
            guard ext.coefficients.count == s + ext.extraC.count else {
                throw .shape("interpolant needs one polynomial per stage (including extra stages)")
            }
            for (i, poly) in ext.coefficients.enumerated() {
                let atOne = poly.reduce(0, +)
                let target = i < s ? b[i] : 0
                if Swift.abs(atOne - target) > 1e3 * tolerance {
                    throw .interpolantDoesNotMatchWeights(stage: i, value: atOne, b: target)
                }
            }
        }
        storage = Storage(Storage.Fields(
            name: name, order: order, embeddedOrder: embeddedOrder, c: c, a: a, b: b, btilde: btilde,
            btilde3: btilde3, residualEstimate: residualEstimate, isFSAL: isFSAL, interpolant: interpolant,
            controller: controller ?? (btilde == nil && residualEstimate == nil ? .fixed : .standard(order: order)),
            realStabilityBoundary: Self.stabilityBoundary(a: a, b: b),
            stepperCoefficients: StepperCoefficients(
                a: a, b: b, btilde: btilde, btilde3: btilde3, c: c, interpolant: interpolant)))
    }
}

extension ButcherTableau {
    /// The fields of a tableau (see ``ButcherTableau``), held in one shared instance so that a
    /// copy of a stepper retains one object instead of each array; never written after `init`.
    @usableFromInline
    final class Storage: Sendable {
        /// A struct, so that its memberwise initializer is the compiler's.
        @usableFromInline
        struct Fields: Sendable {
            @usableFromInline let name: String
            @usableFromInline let order: Int
            @usableFromInline let embeddedOrder: Int?
            @usableFromInline let c: [Double]
            @usableFromInline let a: [[Double]]
            @usableFromInline let b: [Double]
            @usableFromInline let btilde: [Double]?
            @usableFromInline let btilde3: [Double]?
            @usableFromInline let residualEstimate: ResidualErrorEstimate?
            @usableFromInline let isFSAL: Bool
            @usableFromInline let interpolant: ContinuousExtension?
            @usableFromInline let controller: PIController
            @usableFromInline let realStabilityBoundary: Double
            @usableFromInline let stepperCoefficients: StepperCoefficients
        }

        @usableFromInline let fields: Fields

        init(_ fields: Fields) { self.fields = fields }
    }
}

/// A tableau's coefficients as one read-only block (see ``ExplicitRKStepper``'s `table`) and its
/// continuous extension's weights flattened for the dense output.
///
/// `@unchecked Sendable`: nothing is written after `init`, and the block is only read.
@usableFromInline
final class StepperCoefficients: @unchecked Sendable {
    /// `A` row by row (extra stages included; row `i` at `i(i−1)/2`), `b`, `btilde` (zeros
    /// without one), `btilde3`, then `c` (extra stages included).
    @usableFromInline let table: StageStorage<Double>
    @usableFromInline let offsetB: Int
    @usableFromInline let offsetBtilde: Int
    @usableFromInline let offsetBtilde3: Int
    @usableFromInline let offsetC: Int
    /// Stage `j`'s `θ^1 … θ^d` of the continuous extension at `offsetDense + [j·d, (j+1)·d)` of
    /// `table` (zero-padded), `d = denseDegree`; none with `d = 0` for a method without one.
    @usableFromInline let offsetDense: Int
    @usableFromInline let denseDegree: Int
    /// The continuous extension's order (`nil` without one).
    @usableFromInline let denseOrder: Int?
    /// Every weight of `θ^2 … θ^d` is nonzero (the dense append then skips none).
    @usableFromInline let denseWeightsNonzero: Bool

    init(
        a: [[Double]], b: [Double], btilde: [Double]?, btilde3: [Double]?, c: [Double],
        interpolant: ContinuousExtension?
    ) {
        let s = c.count
        let aFlat = (a + (interpolant?.extraA ?? [])).flatMap { $0 }
        let btilde3 = btilde3 ?? []
        let allC = c + (interpolant?.extraC ?? [])
        let stageCount = s + (interpolant?.extraC.count ?? 0)
        let polys = interpolant?.coefficients ?? []
        let d = polys.map { $0.count }.max() ?? 0
        var flat = [Double](repeating: 0, count: stageCount * d)
        for (j, poly) in polys.enumerated() where j < stageCount { for (q, c) in poly.enumerated() { flat[j * d + q] = c } }
        table = StageStorage(aFlat + b + (btilde ?? [Double](repeating: 0, count: s)) + btilde3 + allC + flat)
        offsetB = aFlat.count
        offsetBtilde = offsetB + s
        offsetBtilde3 = offsetBtilde + s
        offsetC = offsetBtilde3 + btilde3.count
        offsetDense = offsetC + allC.count
        denseDegree = d
        denseOrder = interpolant?.order
        denseWeightsNonzero = (0..<stageCount).allSatisfy { j in (1..<Swift.max(d, 1)).allSatisfy { flat[j * d + $0] != 0 } }
    }
}

extension ButcherTableau {
    /// Where the stability region `{z : |R(z)| ≤ 1}` of the method crosses the negative real
    /// axis, as `|z|`: `R(z) = 1 + z bᵀ(I − zA)⁻¹𝟙` evaluated by the stage recursion of the test
    /// equation `u' = λu`, scanned outward from 0 and refined by bisection.
    static func stabilityBoundary(a: [[Double]], b: [Double]) -> Double {
        let stages = b.count
        func amplification(_ z: Double) -> Double {
            var y = [Double](repeating: 0, count: stages)
            for i in 0..<stages {
                var sum = 0.0
                for j in 0..<i { sum += a[i][j] * y[j] }
                y[i] = 1 + z * sum
            }
            var r = 1.0
            for i in 0..<stages { r += z * b[i] * y[i] }
            return Swift.abs(r)
        }
        var inside = 0.0
        var z = -0.01
        while z > -50 && amplification(z) <= 1 {
            inside = z
            z -= 0.01
        }
        guard z > -50 else { return 50 }
        var (lo, hi) = (z, inside)
        for _ in 0..<60 {
            let mid = 0.5 * (lo + hi)
            if amplification(mid) <= 1 { hi = mid } else { lo = mid }
        }
        return -hi
    }
}
