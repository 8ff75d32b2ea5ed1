import DiffEqCore

/// How a stiff method obtains `J = ∂f/∂u`.
public enum JacobianSource: Sendable, Equatable {
    /// The right-hand side's analytic Jacobian if it has one, else forward-mode AD if it is in
    /// generic form, else forward differences (DifferentialEquations.jl's default behaviour).
    case automatic
    /// Forward differences, even when AD or an analytic Jacobian is available: `n` evaluations
    /// of `f` per Jacobian, truncation error O(√uround) relative to the scale of each component.
    case finiteDifferences
    /// Central differences, even when AD or an analytic Jacobian is available: `2n` evaluations
    /// of `f` per Jacobian, truncation error O(uround^(2/3)); for right-hand sides whose forward
    /// differences are not accurate enough (strongly curved `f` at the increment's scale).
    case centralDifferences
}

/// The increments of a difference-quotient Jacobian, scaled to each component and to its
/// error weight, and the test that finds a column made mostly of rounding error. Shared by
/// ``JacobianEvaluator`` (array form) and the fixed-size Rosenbrock integrator, so that both
/// forms difference with the same numbers.
///
/// **Increment rule** (CVODE's dense difference-quotient Jacobian, as described in A. C.
/// Hindmarsh et al., "SUNDIALS: Suite of nonlinear and differential/algebraic equation
/// solvers", ACM TOMS 31 (2005) 363-396, and in the CVODE documentation's mathematical
/// considerations; SUNDIALS implements it in `cvLsDenseDQJac`, `MIN_INC_MULT = 1000`): with
/// `W_j = 1/(abstol_j + reltol·|u_j|)` the error weights of the solve and `‖f‖` the weighted RMS
/// norm of `f(t, u)`,
///
///     σ₀ = 1000 · |h| · uround · n · ‖f‖    (1 when ‖f‖ = 0),
///     σ_j = max(√uround · |u_j|, σ₀ / W_j).
///
/// The floor `σ₀/W_j` is a fixed, tiny fraction of one tolerance unit of component `j`: a
/// component far below its absolute tolerance (ROBER's `y₂ ≈ 1e-13`) is perturbed on the
/// scale the solve resolves it at, not by `√uround · 1` (which is 10⁵ times `y₂` and measures
/// `f`'s curvature instead of its slope).
///
/// **Central differences** use the same scale of each component, `s_j = σ_j / √uround`, with
/// the increment `uround^(1/3) · s_j` that balances truncation O(σ²) against rounding
/// O(uround/σ) (Dennis & Schnabel, Numerical Methods for Unconstrained Optimization and
/// Nonlinear Equations, SIAM 1996, §5.6).
///
/// **Rounding check** (the idea of Salane's adaptive increments, D. E. Salane, "Adaptive
/// routines for forming Jacobians numerically", Sandia report SAND86-1319, 1986, as used by
/// Shampine and Reichelt's `numjac` in "The MATLAB ODE suite", SIAM J. Sci. Comput. 18 (1997)
/// 1-22): when the largest change of `f` in a column is within
/// ``roundingMultiple`` units of roundoff of that entry of `f`, the column is mostly rounding
/// error; it is recomputed with a 100 times larger increment, at most twice and never beyond
/// one tolerance unit of the component (`abstol_j + reltol·|u_j|`) or `√uround·|u_j|`,
/// whichever is larger.
public struct DifferenceIncrements: Sendable {
    /// The unit roundoff of the scalar `f` is evaluated in.
    public let uround: Double
    @usableFromInline let rootUround: Double
    @usableFromInline let cubeRootUround: Double
    public let central: Bool

    /// `σ₀`'s factor, CVODE's `MIN_INC_MULT`.
    @inlinable public static var minimumIncrementMultiple: Double { 1000 }
    /// A column whose largest change of `f` is at most this many units of roundoff of the
    /// entry is treated as rounding error.
    @inlinable public static var roundingMultiple: Double { 1000 }
    /// The factor an increment grows by when its column is rounding error.
    @inlinable public static var growth: Double { 100 }
    /// Recomputations of one column at most.
    @inlinable public static var maxRetries: Int { 2 }

    @inlinable
    public init(uround: Double, central: Bool) {
        self.uround = uround
        rootUround = uround.squareRoot()
        cubeRootUround = Double.pow(uround, 1.0 / 3.0)
        self.central = central
    }

    /// `σ₀` from `Σ_i (f_i · W_i)²`, the step size and the dimension.
    @inlinable
    public func minimumIncrement(weightedSquares: Double, h: Double, count n: Int) -> Double {
        let fnorm = (weightedSquares / Double(n)).squareRoot()
        let sigma0 = Self.minimumIncrementMultiple * Swift.abs(h) * uround * Double(n) * fnorm
        // ‖f‖ = 0 (a steady state), or an unusable h: CVODE's σ₀ = 1 for the first case.
        return sigma0 > 0 && sigma0.isFinite ? sigma0 : 1
    }

    /// The increment of component `j` with value `u` and tolerance scale `scale = 1/W_j`.
    @inlinable
    public func increment(_ u: Double, scale: Double, minimum sigma0: Double) -> Double {
        let forward = Swift.max(rootUround * Swift.abs(u), sigma0 * scale)
        let inc = central ? cubeRootUround * (forward / rootUround) : forward
        // abstol > 0 is validated, so inc > 0 unless the values overflow.
        return inc > 0 && inc.isFinite ? inc : rootUround
    }

    /// The largest increment a rounding retry may reach for component `j`.
    @inlinable
    public func ceiling(_ u: Double, scale: Double) -> Double {
        Swift.max(scale, rootUround * Swift.abs(u))
    }

    /// Whether a column whose largest change of `f` is `change`, in an entry of `f` of
    /// magnitude `magnitude`, is mostly rounding error. A column with no change at all is exact
    /// (`f` does not depend on the component), not rounding.
    @inlinable
    public func isRounding(change: Double, magnitude: Double) -> Bool {
        change > 0 && change <= Self.roundingMultiple * uround * magnitude
    }
}

/// Evaluates `J = ∂f/∂u` at `(t, u)` into a column-major buffer by the best means available,
/// counting each kind in the solver statistics. Buffers are allocated once; an evaluation by
/// analytic Jacobian or finite differences allocates nothing (forward-mode AD allocates its
/// dual arrays once per evaluation).
///
/// Finite differences follow ``DifferenceIncrements``: increments scaled to each component and
/// to its error weight (so the evaluator needs the solve's tolerances and the step size), and
/// columns that came out as rounding error recomputed with larger increments.
///
/// **Structure.** For a ``JacobianStructure/variational(stateCount:)`` Jacobian only the first
/// block column (`n × b`, column-major) is evaluated and stored. For a
/// ``JacobianStructure/sparse(_:)`` one, differences and forward-mode AD go by column colouring
/// (``SparsityPattern/columnColoring(columns:)``): all columns of one colour are perturbed (or
/// seeded) at once, one evaluation of `f` (one dual direction) per colour; entries outside the
/// pattern stay zero. Each entry then equals the dense evaluation's to the bit: the increment of
/// column `j` is the dense one, `f_i` depends on no other column of `j`'s colour, and the
/// rounding test sees the same largest change (rows outside the pattern change by exactly 0).
public struct JacobianEvaluator<F: ODEFunction> {
    public typealias Scalar = F.Scalar
    public enum Kind: Sendable { case analytic, forwardAD, finiteDifference, centralDifference }

    public let kind: Kind
    @usableFromInline let n: Int
    /// Columns stored: `n`, or the state count of a variational structure.
    public let storedColumns: Int
    /// The pattern and colouring of a sparse structure (not for an analytic Jacobian).
    @usableFromInline let pattern: SparsityPattern?
    @usableFromInline let coloring: ColumnColoring?
    /// Coloured differences: the columns of colour `c` are
    /// `colorColumns[colorStart[c] ..< colorStart[c + 1]]`; their increments in `increment`.
    @usableFromInline let colorStart: [Int]
    @usableFromInline let colorColumns: [Int]
    @usableFromInline var increment: [Double]
    @usableFromInline var denominator: [Double]
    @usableFromInline var retries: [Int]
    @usableFromInline let increments: DifferenceIncrements
    @usableFromInline var perturbed: [Scalar]
    @usableFromInline var fPerturbed: [Scalar]
    /// `f` at `u − σ e_j` (central differences only).
    @usableFromInline var fMinus: [Scalar]
    /// How `J` is stored for the linear solver (``LinearSolver``): standard column-major,
    /// compressed in the pattern's order (sparse LU, GMRES on a sparse `J`), or not at all
    /// (Jacobian-free GMRES).
    @usableFromInline let layout: JacobianLayout
    /// Where `J` was last taken, for GMRES (its weights, preconditioner and `J v`); `nil` for the
    /// direct solvers.
    @usableFromInline let linearization: LinearizationPoint<Scalar>?
    /// An analytic Jacobian for a compressed layout: written dense here, then gathered.
    @usableFromInline var analyticScratch: [Scalar]
    /// Columns recomputed because they were rounding error, over the evaluator's life.
    public var roundingRetries: Int { _roundingRetries }
    @usableFromInline var _roundingRetries = 0

    /// The evaluator for `f` on `n` components; `structure` as resolved by the stepper
    /// (``JacobianStructure/resolved(count:hasMass:solver:)``).
    public init(_ f: F, count n: Int, source: JacobianSource = .automatic, structure: JacobianStructure = .dense) {
        self.init(f, count: n, source: source, structure: structure, solver: .automatic)
    }

    /// The evaluator for `f` with `J` laid out for `solver` (see ``LinearSolver``).
    public init(_ f: F, count n: Int, source: JacobianSource, structure: JacobianStructure, solver: LinearSolver) {
        self.n = n
        storedColumns = structure.storedColumns(count: n)
        let layout = solver.jacobianLayout(structure, count: n)
        self.layout = layout
        if case .gmres(let options) = solver {
            linearization = options.jacobianFree ? DirectionalDerivative(f, count: n) : LinearizationPoint(count: n)
        } else {
            linearization = nil
        }
        switch source {
        case .finiteDifferences: kind = .finiteDifference
        case .centralDifferences: kind = .centralDifference
        case .automatic:
            if f.hasAnalyticJacobian {
                kind = .analytic
            } else if f.supportsForwardModeAD {
                kind = .forwardAD
            } else {
                kind = .finiteDifference
            }
        }
        var eps = 1.0
        while Scalar(1 + eps / 2).primal != 1 { eps /= 2 }
        increments = DifferenceIncrements(uround: eps, central: kind == .centralDifference)
        perturbed = [Scalar](repeating: .zero, count: n)
        fPerturbed = [Scalar](repeating: .zero, count: n)
        fMinus = kind == .centralDifference ? fPerturbed : []
        if case .compressed = layout, kind == .analytic {
            analyticScratch = [Scalar](repeating: .zero, count: n * n)
        } else {
            analyticScratch = []
        }
        if case .sparse(let pattern) = structure, kind != .analytic, pattern.rows == n, pattern.columns == n {
            let coloring = pattern.columnColoring()
            var start = [Int](repeating: 0, count: coloring.count + 1)
            for c in coloring.colors { start[c + 1] += 1 }
            for c in 0..<coloring.count { start[c + 1] += start[c] }
            var columns = [Int](repeating: 0, count: n)
            var fill = start
            for j in 0..<n {
                columns[fill[coloring.colors[j]]] = j
                fill[coloring.colors[j]] += 1
            }
            self.pattern = pattern
            self.coloring = coloring
            colorStart = start
            colorColumns = columns
            increment = [Double](repeating: 0, count: n)
            denominator = [Double](repeating: 0, count: n)
            retries = [Int](repeating: 0, count: n)
        } else {
            pattern = nil
            coloring = nil
            colorStart = []
            colorColumns = []
            increment = []
            denominator = []
            retries = []
        }
    }

    /// The entries of the `J` buffer the evaluator writes: `n × storedColumns`, the pattern's
    /// nonzeros for a compressed layout, none for Jacobian-free GMRES.
    public var storageCount: Int {
        switch layout {
        case .standard: return n * storedColumns
        case .compressed(let pattern): return pattern.nonzeroCount
        case .none: return 0
        }
    }

    /// Whether `J` is stored compressed (one value per entry of the sparsity pattern).
    @inlinable var isCompressed: Bool {
        if case .compressed = layout { return true }
        return false
    }

    /// `‖J‖∞` of the stored `J`, whatever its layout (`0` when none is stored; a variational
    /// structure's stored first block column only).
    @inlinable
    public func infinityNorm(_ J: [Scalar]) -> Double {
        switch layout {
        case .none:
            return 0
        case .compressed(let pattern):
            var rows = [Double](repeating: 0, count: n)
            for k in 0..<Swift.min(J.count, pattern.nonzeroCount) { rows[pattern.rowIndices[k]] += Swift.abs(J[k].primal) }
            return rows.max() ?? 0
        case .standard:
            var norm = 0.0
            for i in 0..<n {
                var row = 0.0
                for j in 0..<storedColumns { row += Swift.abs(J[i + j * n].primal) }
                norm = Swift.max(norm, row)
            }
            return norm
        }
    }

    /// Evaluations of `f` (or dual chunks) per Jacobian saved by colouring: the number of
    /// colours of a sparse structure, `nil` without one.
    public var colorCount: Int? { coloring?.count }

    /// Whether ``evaluate(_:_:t:u:fu:h:tolerance:into:stats:)`` differences `f` (and so needs
    /// `fu` to be `f(t, u)` exactly).
    public var differencesF: Bool { kind == .finiteDifference || kind == .centralDifference }

    /// Writes `J` at `(t, u)`. `fu` must hold `f(t, u)` (forward differences reuse it); `h` is
    /// the step size `J` is wanted for and `tolerance` the solve's error weights (both set the
    /// increments of finite differences).
    @inlinable
    public mutating func evaluate(
        _ f: F, _ p: [Scalar], t: Double, u: [Scalar], fu: [Scalar], h: Double, tolerance: ErrorScale,
        into J: inout [Scalar], stats: inout SolverStats
    ) {
        linearization?.update(t: t, u: u, fu: fu, p: p, tolerance: tolerance)
        if case .none = layout { return }
        stats.njacs += 1
        switch kind {
        case .analytic:
            if case .compressed(let pattern) = layout {
                f.jacobian(&analyticScratch, u, p, Scalar(t))
                for j in 0..<n {
                    for k in pattern.columnStart[j]..<pattern.columnStart[j + 1] { J[k] = analyticScratch[pattern.rowIndices[k] + j * n] }
                }
            } else {
                f.jacobian(&J, u, p, Scalar(t))
            }
        case .forwardAD:
            stats.njacsAD += 1
            if let pattern, let coloring, isCompressed {
                f.forwardModeJacobianValues(&J, u, p, Scalar(t), pattern: pattern, coloring: coloring)
            } else if let pattern, let coloring {
                f.forwardModeJacobian(&J, u, p, Scalar(t), pattern: pattern, coloring: coloring)
            } else {
                f.forwardModeJacobian(&J, u, p, Scalar(t))
            }
        case .finiteDifference, .centralDifference:
            stats.njacsFiniteDifference += 1
            if coloring != nil {
                coloredDifferences(f, p, t: t, u: u, fu: fu, h: h, tolerance: tolerance, into: &J, stats: &stats)
            } else {
                differences(f, p, t: t, u: u, fu: fu, h: h, tolerance: tolerance, into: &J, stats: &stats)
            }
        }
    }

    /// The floor of every column's increment, from the weighted norm of `f(u)` (shared by the
    /// plain and the coloured differences).
    @inlinable
    func minimumIncrement(u: [Scalar], fu: [Scalar], h: Double, tolerance: ErrorScale) -> Double {
        var squares = 0.0
        for i in 0..<n {
            let v = fu[i].primal / tolerance.scale(i, u[i].primal, u[i].primal)
            squares += v * v
        }
        return increments.minimumIncrement(weightedSquares: squares, h: h, count: n)
    }

    @inlinable
    mutating func differences(
        _ f: F, _ p: [Scalar], t: Double, u: [Scalar], fu: [Scalar], h: Double, tolerance: ErrorScale,
        into J: inout [Scalar], stats: inout SolverStats
    ) {
        let n = self.n
        let central = kind == .centralDifference
        let time = Scalar(t)
        let sigma0 = minimumIncrement(u: u, fu: fu, h: h, tolerance: tolerance)
        for m in 0..<n { perturbed[m] = u[m] }
        for j in 0..<storedColumns {
            let uj = u[j]
            let x = uj.primal
            let scale = tolerance.scale(j, x, x)
            let ceiling = increments.ceiling(x, scale: scale)
            var inc = increments.increment(x, scale: scale, minimum: sigma0)
            var retries = 0
            while true {
                // The increments as the scalar type represents them: (u + σ) − u.
                let up = (uj + Scalar(inc)).primal - x
                perturbed[j] = uj + Scalar(inc)
                f(&fPerturbed, perturbed, p, time)
                stats.nf += 1
                var denominator = up
                if central {
                    let down = x - (uj - Scalar(inc)).primal
                    perturbed[j] = uj - Scalar(inc)
                    f(&fMinus, perturbed, p, time)
                    stats.nf += 1
                    denominator = up + down
                }
                perturbed[j] = uj
                // The row with the largest change, and the size of f there.
                var change = 0.0
                var magnitude = 0.0
                for i in 0..<n {
                    let a = fPerturbed[i].primal
                    let b = central ? fMinus[i].primal : fu[i].primal
                    let d = Swift.abs(a - b)
                    if d > change {
                        change = d
                        magnitude = Swift.max(Swift.abs(a), Swift.abs(b))
                    }
                }
                if retries < DifferenceIncrements.maxRetries && increments.isRounding(change: change, magnitude: magnitude)
                    && inc * DifferenceIncrements.growth <= ceiling
                {
                    inc *= DifferenceIncrements.growth
                    retries += 1
                    _roundingRetries += 1
                    continue
                }
                let inv = 1 / denominator
                let column = j * n
                if central {
                    for i in 0..<n { J[i + column] = (fPerturbed[i] - fMinus[i]).scaled(by: inv) }
                } else {
                    for i in 0..<n { J[i + column] = (fPerturbed[i] - fu[i]).scaled(by: inv) }
                }
                break
            }
        }
    }

    /// ``differences(_:_:t:u:fu:h:tolerance:into:stats:)`` by colour: one evaluation of `f` (two
    /// for central differences) perturbs every column of a colour by its own increment, and a
    /// column whose change is rounding error grows its increment and repeats its colour (the
    /// other columns of the colour get the same quotients again), each column at most
    /// ``DifferenceIncrements/maxRetries`` times, as in the dense form.
    @inlinable
    mutating func coloredDifferences(
        _ f: F, _ p: [Scalar], t: Double, u: [Scalar], fu: [Scalar], h: Double, tolerance: ErrorScale,
        into J: inout [Scalar], stats: inout SolverStats
    ) {
        guard let pattern else { return }
        let n = self.n
        let central = kind == .centralDifference
        let time = Scalar(t)
        let sigma0 = minimumIncrement(u: u, fu: fu, h: h, tolerance: tolerance)
        for m in 0..<n { perturbed[m] = u[m] }
        for c in 0..<(colorStart.count - 1) {
            let group = colorStart[c]..<colorStart[c + 1]
            for e in group {
                let j = colorColumns[e]
                let x = u[j].primal
                increment[j] = increments.increment(x, scale: tolerance.scale(j, x, x), minimum: sigma0)
                retries[j] = 0
            }
            var pending = true
            while pending {
                for e in group {
                    let j = colorColumns[e]
                    perturbed[j] = u[j] + Scalar(increment[j])
                    denominator[j] = perturbed[j].primal - u[j].primal
                }
                f(&fPerturbed, perturbed, p, time)
                stats.nf += 1
                if central {
                    for e in group {
                        let j = colorColumns[e]
                        perturbed[j] = u[j] - Scalar(increment[j])
                        denominator[j] += u[j].primal - perturbed[j].primal
                    }
                    f(&fMinus, perturbed, p, time)
                    stats.nf += 1
                }
                for e in group { perturbed[colorColumns[e]] = u[colorColumns[e]] }
                pending = false
                for e in group {
                    let j = colorColumns[e]
                    if retries[j] < 0 { continue }
                    var change = 0.0
                    var magnitude = 0.0
                    for k in pattern.columnStart[j]..<pattern.columnStart[j + 1] {
                        let i = pattern.rowIndices[k]
                        let a = fPerturbed[i].primal
                        let b = central ? fMinus[i].primal : fu[i].primal
                        let d = Swift.abs(a - b)
                        if d > change {
                            change = d
                            magnitude = Swift.max(Swift.abs(a), Swift.abs(b))
                        }
                    }
                    let x = u[j].primal
                    if retries[j] < DifferenceIncrements.maxRetries && increments.isRounding(change: change, magnitude: magnitude)
                        && increment[j] * DifferenceIncrements.growth <= increments.ceiling(x, scale: tolerance.scale(j, x, x))
                    {
                        increment[j] *= DifferenceIncrements.growth
                        retries[j] += 1
                        _roundingRetries += 1
                        pending = true
                        continue
                    }
                    let inv = 1 / denominator[j]
                    let column = j * n
                    let compressed = isCompressed
                    for k in pattern.columnStart[j]..<pattern.columnStart[j + 1] {
                        let i = pattern.rowIndices[k]
                        J[compressed ? k : i + column] =
                            central ? (fPerturbed[i] - fMinus[i]).scaled(by: inv) : (fPerturbed[i] - fu[i]).scaled(by: inv)
                    }
                    // Done: later repeats of this colour leave the column as it is.
                    retries[j] = -1 - retries[j]
                }
            }
        }
    }
}
