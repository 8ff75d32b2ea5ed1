import AutoDiff
import DiffEqCore

/// Forward-mode AD through the solver (ForwardDiff.jl through OrdinaryDiffEq.jl): `p` and `u0`
/// are seeded with dual partials, in chunks of up to 8 or 13 directions (``chunkWidth(_:)``),
/// and the native solver runs on dual numbers, its step control seeing the partials (DESIGN.md
/// §4). The loss is evaluated on the dual observations, so its partials are the gradient.
///
/// Exact derivatives of the discretised solution (up to the step control's dependence on the
/// partials), at `ceil((n + np) / chunk)` dual solves; the method of choice for small systems
/// with few parameters (Ma et al., arXiv:1812.01892, §5).
///
/// The step control sees each direction scaled by the size of its input, `x_j ∂u/∂x_j` (the
/// seed is `|x_j|`, or 1 where `x_j = 0`, and the partial is divided by it afterwards): the
/// scaling CVODES applies to sensitivity tolerances through `pbar` (CVODES guide, §"Forward
/// sensitivity analysis", error control with `CVodeSetSensParams`). `x_j ∂u/∂x_j` is what a
/// relative change of `x_j` does to `u`, so it is measured in the state's own units and the
/// state's tolerances fit it; unscaled, a parameter of size 1e-3 (a slow rate constant) has a
/// sensitivity a thousand times larger than its effect and forces tiny steps for nothing.
///
/// A fixed-size problem in the generic form (``StaticODEModel``) runs on
/// `FixedVector<N, Dual<C, Double>>` states, in registers, with the same chunks and bits
/// (`gradient(of:_:algorithm:options:sensealg:wrt:)` for a `StaticODEProblem`).
public struct ForwardDiffSensitivity: SensitivityAlgorithm, Sendable {
    public init() {}
    public var name: String { "ForwardDiffSensitivity" }

    @inlinable
    public func gradient<M: ODEModel, L: PointLoss, A: ODEAlgorithm>(
        of loss: L, _ problem: ODEProblem<GenericRHS<M, Double>>, algorithm: A, plan: ObservationPlan
    ) throws(SensitivityError) -> SensitivityResult {
        let n = plan.u0.count, np = plan.p.count, total = plan.directionCount
        var result = SensitivityResult(
            loss: 0, dp: [Double](repeating: 0, count: np),
            du0: [Double](repeating: 0, count: plan.inputs == .parameters ? 0 : n), stats: SensitivityStats(),
            method: name)
        // Chunks of `maxWidth` directions, the last one in the narrowest dual type that holds
        // it: a dual solve costs its primal work (f, the Jacobian's values, W's factorization,
        // step control, saving) plus a share per direction, so a remainder of 1 or 2 directions
        // carried in a wide dual would cost as much as a full chunk.
        //
        // Each width's solve runs on the model behind closures (`ErasedModelRHS`) through
        // `ODEAlgorithm._solvePrecompiled`, which the explicit Runge-Kutta and Rosenbrock
        // methods compile once in their own modules: the user's module compiles `model.rhs` on
        // the dual numbers and not the solver for every width (Benchmarks/compile-bench; DESIGN.md,
        // "Compile time is a figure"). `maxWidth` is a constant once the model's type is known, so
        // the branch on it drops the `Dual<13>` case for a model without an analytic Jacobian.
        let maxWidth = Self.chunkWidth(problem.f.model)
        let model = problem.f.model
        var offset = 0
        repeat {
            let width = Swift.min(maxWidth, total - offset)
            switch width {
            case ...2:
                try _chunk(offset, width, loss, ErasedModelRHS<Dual<2, Double>>(model), plan, &result) {
                    p, o throws(DiffEqError) in try algorithm._solvePrecompiled(p, options: o)
                }
            case ...4:
                try _chunk(offset, width, loss, ErasedModelRHS<Dual<4, Double>>(model), plan, &result) {
                    p, o throws(DiffEqError) in try algorithm._solvePrecompiled(p, options: o)
                }
            case ...8:
                try _chunk(offset, width, loss, ErasedModelRHS<Dual<8, Double>>(model), plan, &result) {
                    p, o throws(DiffEqError) in try algorithm._solvePrecompiled(p, options: o)
                }
            default:
                // Reached only when `maxWidth` is 13 (`width <= maxWidth`).
                if maxWidth > 8 {
                    try _chunk(offset, width, loss, ErasedModelRHS<Dual<13, Double>>(model), plan, &result) {
                        p, o throws(DiffEqError) in try algorithm._solvePrecompiled(p, options: o)
                    }
                }
            }
            offset += width
        } while offset < total
        return result
    }

    /// The most directions one dual solve carries: 13 for a model with an analytic Jacobian, 8
    /// otherwise. Chosen by measurement (Benchmarks/sens-bench, interleaved runs):
    /// - POLLU (analytic Jacobian, 25 parameters): chunks 13 + 12 took 1.33-1.40 ms against
    ///   2.0-2.1 ms for 8 + 8 + 8 + 1 (half the primal work; the solve of the dual `W` costs
    ///   per direction only, FirstOrderDualLU), and 9 + 8 + 8 no less than 8 + 8 + 8 + 1.
    /// - The 2-D Brusselator (Jacobian by forward-mode AD, 36 parameters at N = 3): chunks of 12
    ///   (in `Dual<12>` or `Dual<13>`) took 6.5 ms against 5.7 ms for chunks of 8. Its Jacobian runs `f` on nested duals
    ///   `Dual<8, Dual<width>>`, 9 (1 + width) doubles each, and at width 12 their copies
    ///   (memmove, memset) took a quarter of the time.
    /// - One chunk of 25 (`Dual<25>`) took 2.6 ms on POLLU: at that width the compiler no longer
    ///   inlines the dual arithmetic (InlineArray initialisation and copies called out of line).
    /// (ForwardDiff.jl's default chunk threshold, `DEFAULT_CHUNK_THRESHOLD` in src/prelude.jl,
    /// is 12.)
    @inlinable
    static func chunkWidth<M: ODEModel>(_ model: M) -> Int {
        model.hasAnalyticJacobian ? 13 : 8
    }

    /// One dual solve carrying directions `offset..<offset + width` (the parameters are
    /// directions `0..<np`, the initial values `np..<np + n`); adds its partials to `result`.
    @inlinable
    func _chunk<let C: Int, L: PointLoss>(
        _ offset: Int, _ width: Int, _ loss: L, _ f: ErasedModelRHS<Dual<C, Double>>, _ plan: ObservationPlan,
        _ result: inout SensitivityResult,
        solve: (ODEProblem<ErasedModelRHS<Dual<C, Double>>>, SolveOptions) throws(DiffEqError)
            -> ODESolution<Dual<C, Double>>
    ) throws(SensitivityError) {
        let (pd, ud) = Self._seededInputs(Dual<C, Double>.self, offset, width, plan)
        let prob = ODEProblem(f, u0: ud, tspan: (plan.t0, plan.t1), p: pd)
        let sol: ODESolution<Dual<C, Double>>
        do { sol = try solve(prob, plan.options) } catch { throw .invalidInput(error) }
        try _checkSuccess(sol, phase: "forward (dual)")
        var l = Dual<C, Double>.zero
        for (t, u) in zip(sol.t, sol.u) { l += loss(u, t) }
        Self._accumulate(l, offset, width, plan, sol.stats, observations: sol.u.count, into: &result)
    }

    /// The parameters and the initial state as dual numbers with directions
    /// `offset..<offset + width` seeded (direction `j` in partial `j - offset`, scaled by
    /// ``_seed(_:)``).
    @inlinable
    static func _seededInputs<let C: Int>(_: Dual<C, Double>.Type, _ offset: Int, _ width: Int, _ plan: ObservationPlan)
        -> (p: [Dual<C, Double>], u0: [Dual<C, Double>])
    {
        let np = plan.p.count
        var pd = plan.p.map { Dual<C, Double>(constant: $0) }
        var ud = plan.u0.map { Dual<C, Double>(constant: $0) }
        for j in 0..<width {
            let direction = offset + j
            if direction < np {
                pd[direction].partials[j] = _seed(plan.p[direction])
            } else {
                ud[direction - np].partials[j] = _seed(plan.u0[direction - np])
            }
        }
        return (pd, ud)
    }

    /// Puts the loss `l` of one chunk and its partials, unscaled, into `result`.
    @inlinable
    static func _accumulate<let C: Int>(
        _ l: Dual<C, Double>, _ offset: Int, _ width: Int, _ plan: ObservationPlan, _ stats: SolverStats,
        observations: Int, into result: inout SensitivityResult
    ) {
        let np = plan.p.count
        result.loss = l.value
        for j in 0..<width {
            let direction = offset + j
            if direction < np {
                result.dp[direction] = l.partials[j] / _seed(plan.p[direction])
            } else {
                result.du0[direction - np] = l.partials[j] / _seed(plan.u0[direction - np])
            }
        }
        result.stats.forwardEvaluations += stats.nf
        result.stats.forwardSteps += stats.naccept
        result.stats.peakStoredStates = Swift.max(result.stats.peakStoredStates, observations)
    }
}

/// The scale of the forward-mode direction of an input `x`: `|x|`, or 1 for `x = 0` (see
/// ``ForwardDiffSensitivity``).
@inlinable
func _seed(_ x: Double) -> Double {
    let a = Swift.abs(x)
    return a > 0 && a.isFinite ? a : 1
}

/// The continuous forward sensitivity equations (Cao, Li, Petzold & Serban 2003, eq. 2.2):
/// `s_j' = (∂f/∂u) s_j + ∂f/∂p_j`, `s_j(t0) = 0` for each parameter and `s_i' = (∂f/∂u) s_i`,
/// `s_i(t0) = e_i` for each initial value, solved alongside the state as one augmented system
/// (``ForwardSensitivityModel``) whose error control covers the sensitivities. The products
/// `(∂f/∂u) s + ∂f/∂p e_j` are directional derivatives, computed with dual numbers (8 directions
/// per evaluation of `f`).
///
/// The gradient is `dL/dθ_j = Σ_k ∂g/∂u(u(t_k)) · s_j(t_k)`. As in ``ForwardDiffSensitivity``,
/// the system carries the scaled sensitivities `|θ_j| s_j` (CVODES's `pbar` scaling), so the
/// state's tolerances fit them.
///
/// With a stiff solver the augmented system of size `n (1 + m)` is solved through its
/// structure (``ForwardSensitivityModel/jacobianStructure``, ``JacobianStructure/variational(stateCount:)``):
/// its Jacobian is block lower triangular with `∂f/∂u` in every diagonal block, so the solver
/// evaluates only the first block column (`ceil(n/8)` dual evaluations of the augmented
/// right-hand side), factors the state's `n × n` iteration matrix once per step and solves the
/// sensitivity blocks by forward substitution, as CVODES' simultaneous corrector reuses the
/// state's Newton matrix.
public struct ForwardSensitivity: SensitivityAlgorithm, Sendable {
    public init() {}
    public var name: String { "ForwardSensitivity" }

    @inlinable
    public func gradient<M: ODEModel, L: PointLoss, A: ODEAlgorithm>(
        of loss: L, _ problem: ODEProblem<GenericRHS<M, Double>>, algorithm: A, plan: ObservationPlan
    ) throws(SensitivityError) -> SensitivityResult {
        let n = plan.u0.count, np = plan.p.count, m = plan.directionCount
        let withU0 = m > np
        let scales = plan.p.map(_seed) + (withU0 ? plan.u0.map(_seed) : [])
        let augmented = ForwardSensitivityModel(
            problem.f.model, stateCount: n, parameterCount: np, directionScales: scales,
            includesInitialState: withU0)
        var y0 = [Double](repeating: 0, count: n * (1 + m))
        for i in 0..<n {
            y0[i] = plan.u0[i]
            if withU0 { y0[n + (np + i) * n + i] = scales[np + i] }
        }
        var options = plan.options
        if case .perComponent(let a) = options.abstol {
            // The sensitivities of component i get the tolerance of component i.
            options.abstol = .perComponent((0...m).flatMap { _ in a })
        }
        if let check = options.isOutOfDomain {
            // The domain is the state's: the test sees the first n components of y = (u, S).
            options.isOutOfDomain = { y, p, t in check(UnsafeBufferPointer(rebasing: y[0..<n]), p, t) }
        }
        let prob = ODEProblem(model: augmented, u0: y0, tspan: (plan.t0, plan.t1), p: plan.p)
        let sol = try _solve(prob, algorithm, options, phase: "forward (sensitivity equations)")
        var dp = [Double](repeating: 0, count: np)
        var du0 = [Double](repeating: 0, count: n)
        var g = [Double](repeating: 0, count: n)
        var value = 0.0
        for (t, y) in zip(sol.t, sol.u) {
            value += loss.valueAndGradient(at: Array(y[0..<n]), t, into: &g)
            for j in 0..<m {
                var s = 0.0
                for i in 0..<n { s += g[i] * y[n + j * n + i] }
                s /= scales[j]
                if j < np { dp[j] += s } else { du0[j - np] += s }
            }
        }
        var stats = SensitivityStats(forward: sol.stats)
        stats.peakStoredStates = sol.u.count
        return SensitivityResult(loss: value, dp: dp, du0: du0, stats: stats, method: name)
    }
}

/// Reusable dual buffers of ``ForwardSensitivityModel``.
public final class _DualScratch {
    @usableFromInline var u: [Dual<8, Double>] = []
    @usableFromInline var p: [Dual<8, Double>] = []
    @usableFromInline var out: [Dual<8, Double>] = []
    @inlinable init() {}
}

/// The state and its forward sensitivities as one model: `y = [u; s_0; ...; s_{m-1}]` with
/// `m = np + n` directions (the parameters, then the initial values; `m = np` without the
/// initial values), each `s_j` of length `n`.
///
/// `f` is evaluated on `Dual<8, S>` numbers whose partials are eight of the `s_j` (and the unit
/// parameter seeds), so one evaluation gives `f(u)` and eight products `(∂f/∂u) s_j + ∂f/∂p_j`.
public struct ForwardSensitivityModel<Model: ODEModel>: ODEModel {
    public let model: Model
    public let stateCount: Int
    public let parameterCount: Int
    /// The scale `c_j` of direction `j`: the system carries `c_j s_j`, so parameter `j`'s
    /// forcing term is `c_j ∂f/∂p_j` (all 1 unless given).
    public let directionScales: [Double]
    /// Whether the directions of the initial values follow those of the parameters.
    public let includesInitialState: Bool
    /// Dual buffers reused across evaluations on Double (the solvers' case), so an evaluation
    /// allocates nothing. A model value belongs to one solve at a time.
    @usableFromInline let scratch = _DualScratch()

    @inlinable
    public init(
        _ model: Model, stateCount: Int, parameterCount: Int, directionScales: [Double]? = nil,
        includesInitialState: Bool = true
    ) {
        let m = parameterCount + (includesInitialState ? stateCount : 0)
        precondition(directionScales.map { $0.count == m } ?? true,
            "ForwardSensitivityModel: one direction scale per direction")
        self.model = model
        self.stateCount = stateCount
        self.parameterCount = parameterCount
        self.includesInitialState = includesInitialState
        self.directionScales = directionScales ?? [Double](repeating: 1, count: m)
    }

    /// The sensitivity equations of an autonomous model do not depend on `t` either.
    public var isAutonomous: Bool { model.isAutonomous }

    /// Block lower triangular with `∂f/∂u` on the diagonal (``JacobianStructure/variational(stateCount:)``):
    /// the stiff methods factor the state's own iteration matrix and solve by blocks.
    public var jacobianStructure: JacobianStructure { .variational(stateCount: stateCount) }

    @inlinable
    public func rhs<S: DiffEqScalar>(_ du: inout [S], _ y: [S], _ p: [S], _ t: S) {
        let n = stateCount
        if S.self == Double.self {
            // Take the reusable buffers out of the scratch box for the evaluation (a swap, no
            // allocation once they have the right size) and put them back afterwards. `S` is
            // Double here, so `[Dual<8, S>]` and `[Dual<8, Double>]` are the same type.
            var ud: [Dual<8, S>] = [], pd: [Dual<8, S>] = [], out: [Dual<8, S>] = []
            func exchange() {
                withUnsafeMutablePointer(to: &scratch.u) {
                    $0.withMemoryRebound(to: [Dual<8, S>].self, capacity: 1) { swap(&ud, &$0.pointee) }
                }
                withUnsafeMutablePointer(to: &scratch.p) {
                    $0.withMemoryRebound(to: [Dual<8, S>].self, capacity: 1) { swap(&pd, &$0.pointee) }
                }
                withUnsafeMutablePointer(to: &scratch.out) {
                    $0.withMemoryRebound(to: [Dual<8, S>].self, capacity: 1) { swap(&out, &$0.pointee) }
                }
            }
            exchange()
            if ud.count != n { ud = [Dual<8, S>](repeating: .zero, count: n) }
            if out.count != n { out = [Dual<8, S>](repeating: .zero, count: n) }
            if pd.count != p.count { pd = [Dual<8, S>](repeating: .zero, count: p.count) }
            _evaluate(&du, y, p, t, ud: &ud, pd: &pd, out: &out)
            exchange()
            return
        }
        var ud = [Dual<8, S>](repeating: .zero, count: n)
        var pd = [Dual<8, S>](repeating: .zero, count: p.count)
        var out = [Dual<8, S>](repeating: .zero, count: n)
        _evaluate(&du, y, p, t, ud: &ud, pd: &pd, out: &out)
    }

    @inlinable
    func _evaluate<S: DiffEqScalar>(
        _ du: inout [S], _ y: [S], _ p: [S], _ t: S, ud: inout [Dual<8, S>], pd: inout [Dual<8, S>],
        out: inout [Dual<8, S>]
    ) {
        typealias D = Dual<8, S>
        let n = stateCount, np = parameterCount, m = directionScales.count
        let td = D(constant: t)
        var offset = 0
        repeat {
            let width = Swift.min(8, m - offset)
            for i in 0..<n {
                var d = D(constant: y[i])
                for j in 0..<width { d.partials[j] = y[n + (offset + j) * n + i] }
                ud[i] = d
            }
            for k in 0..<np { pd[k] = D(constant: p[k]) }
            for j in 0..<width where offset + j < np { pd[offset + j].partials[j] = S(directionScales[offset + j]) }
            model.lengthCheckedRHS(&out, ud, pd, td)
            if offset == 0 { for i in 0..<n { du[i] = out[i].value } }
            for j in 0..<width {
                let base = n + (offset + j) * n
                for i in 0..<n { du[base + i] = out[i].partials[j] }
            }
            offset += width
        } while offset < m
    }
}
