import DiffEqCore

/// The one stepper behind every explicit Runge-Kutta method, for every state form: stages from
/// the tableau, the embedded error estimate, FSAL reuse and the tableau's continuous extension
/// (extra stages computed only when the solution is evaluated inside a step).
///
/// Generic over the state (``DiffEqState``): the stages live in a block in the state's own
/// layout (a flat block of scalars for `[S]`, one value per stage for SIMD and ``FixedVector``
/// states) and every stage sum is the state's fused `linearCombination` over it, which sums each
/// component in stage order with the products `dt·a_ij` formed once. So the array form keeps
/// its component-outer sums, a fixed-size state its whole-value sums in registers, and the same
/// problem in both forms gives the same steps and numbers bit for bit (`StaticStateTests`,
/// `DualStaticStateTests`, `FixedSizeLoopTests`).
///
/// Caches are allocated in `init`, or once when first needed (see below); a step allocates
/// nothing.
///
/// Performance: the stage block is a class instance checked for uniqueness once per attempt.
/// The tableau is one reference (``ButcherTableau`` keeps its fields in one instance), so the
/// copies of the stepper made while a solve is set up retain one object, not ten arrays; the
/// buffers only some solves use (the interpolation weights, the stiffness estimate's previous
/// argument) are allocated when first needed, not in `init`.
/// Tsit5 runs a written-out stage sequence (``Kernel/tsit5``): the same operations as the
/// generic loop, with constant stage counts that the fused combinations unroll. The dense
/// append reads the interpolation weights from the coefficient block and the interpolant's order
/// from a stored value (reading `tableau.interpolant` copied it: four retains and releases per
/// step), and appends an interpolant of Tsit5's shape (7 stages, degree 4, no zero weight) with
/// constant trip counts.
public struct ExplicitRKStepper<Function: DiffEqFunction>: ODEStepper {
    public typealias State = Function.State
    public typealias Parameters = Function.Parameters
    public typealias Scalar = Function.State.Scalar

    public let tableau: ButcherTableau
    @usableFromInline let s: Int
    @usableFromInline let n: Int
    @usableFromInline let totalStages: Int
    /// Elements of the stage block per stage (``DiffEqState/stageStride``).
    @usableFromInline let stride: Int
    /// The tableau's coefficients in one read-only block: `A` row by row (extra stages
    /// included; row `i` at `i(i−1)/2`), `b`, `btilde`, `btilde3`, then `c` (extra stages
    /// included). Never written after `init`, so copies of the stepper share it.
    @usableFromInline let table: StageStorage<Double>
    @usableFromInline let offsetB: Int
    @usableFromInline let offsetBtilde: Int
    @usableFromInline let offsetBtilde3: Int
    @usableFromInline let offsetC: Int
    @usableFromInline let hasBtilde3: Bool
    /// The tableau's residual estimate (RK4), if any.
    @usableFromInline let residual: ResidualErrorEstimate?
    /// The step estimates its error: the tableau has an estimate and the solve is adaptive.
    @usableFromInline let adaptive: Bool
    @usableFromInline let fsal: Bool
    /// Which stage loop runs the step (see ``Kernel``).
    @usableFromInline var kernel: Kernel
    /// Stage `j` of the current step (method stages, then the interpolant's extra stages).
    @usableFromInline var k: StageStorage<State.StageElement>
    /// `f` writes here and the stage arguments are formed here (an array form's right-hand
    /// side takes Swift arrays).
    @usableFromInline var du: State
    @usableFromInline var stageArg: State
    /// The solve's absolute tolerances as a state (``configure(tolerance:)``): the fixed-size
    /// states' error norms use it as one value.
    @usableFromInline var abstol: State
    /// The continuous extension's weights at one `θ`; empty until a solve interpolates inside a
    /// step (`saveat`, events), which most solves never do.
    @usableFromInline var thetaWeights: [Double]
    /// The continuous extension's coefficients flattened for the dense output: stage `j`'s
    /// `θ^1 … θ^d` at `offsetDense + [j·d, (j+1)·d)` of `table` (zero-padded), `d = denseDegree`;
    /// its order `denseOrder` (`nil`: no continuous extension, the dense output is linear). Read
    /// here rather than from `tableau.interpolant`, whose copy retains and releases its arrays.
    @usableFromInline let offsetDense: Int
    @usableFromInline let denseDegree: Int
    @usableFromInline let denseOrder: Int?
    /// Tsit5's interpolant (7 stages, degree 4, no zero weight): appended with constant trip
    /// counts.
    @usableFromInline let denseTsit5: Bool
    @usableFromInline var firstStage: FirstStage = .missing
    /// The extra interpolation stages of the last accepted step are computed.
    @usableFromInline var extrasReady = false
    /// Keep an estimate of the dominant eigenvalue of ∂f/∂u (for stiffness switching).
    public var tracksStiffness = false {
        didSet { if tracksStiffness && previousArg.count != n { previousArg = stageArg.zeroed() } }
    }
    /// The second-to-last stage's argument, for the stiffness estimate: a buffer of the state's
    /// shape only once ``tracksStiffness`` is set (an array state is empty until then).
    @usableFromInline var previousArg: State
    /// `f(t + dt, uNew)` of the last attempt, evaluated by the residual estimate: the next step's
    /// first stage.
    @usableFromInline var endDerivative: State
    @usableFromInline var _stiffnessEstimate = Double.nan
    public let stabilityBoundary: Double

    /// Where the first stage of the next step is: in slot 0, in the last slot (FSAL), in
    /// `endDerivative` (residual estimate), or still to be evaluated.
    @usableFromInline enum FirstStage { case missing, inFirst, inLast, inEnd }

    /// The stage loop of a step. `generic` runs any tableau with loops over stages whose trip
    /// counts are only known at run time; for n = 3 (Lorenz) their set-up costs several times
    /// the right-hand side (rk-bench's overhead section). `tsit5` is the same arithmetic written
    /// out stage by stage for Tsit5's tableau (as OrdinaryDiffEq.jl's `perform_step!` does):
    /// same coefficients (read from `table`), same products and same summation order, so its
    /// results are bitwise those of `generic`.
    @usableFromInline enum Kernel { case generic, tsit5 }

    /// A stepper for states shaped like `prototype`; `estimatingError: false` (a solve with
    /// `adaptive: false`) skips the error estimate, whose residual form (RK4) costs evaluations
    /// of `f`.
    ///
    /// Inlinable so that it specializes in the caller's module: compiled here, its state
    /// buffers were made through witness tables (`zeroed()`, ~1 k instructions each per solve).
    @inlinable
    public init(tableau: ButcherTableau, prototype: State, estimatingError: Bool = true) {
        self.tableau = tableau
        s = tableau.stages
        n = prototype.count
        let extraA = tableau.interpolant?.extraA ?? []
        totalStages = s + extraA.count
        stride = prototype.stageStride
        let coefficients = tableau.stepperCoefficients
        table = coefficients.table
        offsetB = coefficients.offsetB
        offsetBtilde = coefficients.offsetBtilde
        offsetBtilde3 = coefficients.offsetBtilde3
        offsetC = coefficients.offsetC
        hasBtilde3 = tableau.btilde3.map { !$0.isEmpty } ?? false
        residual = tableau.residualEstimate
        adaptive = tableau.isAdaptive && estimatingError
        fsal = tableau.isFSAL
        kernel = tableau.hasTsit5Coefficients ? .tsit5 : .generic
        k = StageStorage(repeating: prototype.stageElementZero, count: totalStages * stride)
        // One zero state, shared by the three buffers until each is first written (an array's
        // copy-on-write, specialized here): for an array `zeroed()` is `Array(repeating:count:)`,
        // whose allocation runs unspecialized and looks up the storage's metadata. Each buffer
        // is written in full before it is read (`configure`, the stage sums, `f`).
        let zero = prototype.zeroed()
        du = zero
        stageArg = zero
        abstol = zero
        thetaWeights = []
        (offsetDense, denseDegree, denseOrder) = (coefficients.offsetDense, coefficients.denseDegree, coefficients.denseOrder)
        denseTsit5 = totalStages == 7 && coefficients.denseDegree == 4 && coefficients.denseWeightsNonzero
        previousArg = zero.vacated()
        endDerivative = residual == nil ? zero.vacated() : prototype.zeroed()
        stabilityBoundary = tableau.realStabilityBoundary
    }

    /// `‖k_s − k_{s−1}‖ / ‖g_s − g_{s−1}‖` over the last two stages of the last attempted step
    /// (`g` the stage arguments): a Lipschitz estimate of f near the solution, Hairer & Wanner's
    /// stiffness detection (Solving ODEs II, §IV.2). NaN unless ``tracksStiffness``.
    public var stiffnessEstimate: Double { _stiffnessEstimate }

    public var name: String { tableau.name }
    public var isAdaptive: Bool { adaptive }
    public var order: Int { tableau.order }
    public var controller: PIController { tableau.controller }
    public var controllerOrder: Int { tableau.controllerOrder }

    /// In place and inlinable: `abstol` is the buffer this stepper made for it, so writing it
    /// needs no copy (`assigning(primal:)` copied it, and compiled here ran unspecialized).
    @inlinable
    public mutating func configure(tolerance: ErrorScale) {
        for m in 0..<abstol.count { abstol[m] = Scalar(tolerance.abstol[m]) }
    }

    /// Copies the stage block if another stepper value shares it (copy-on-write).
    @inlinable @inline(__always)
    mutating func uniqueStages() -> UnsafeMutablePointer<State.StageElement> {
        if !isKnownUniquelyReferenced(&k) { k = k.copy() }
        return k.base
    }

    /// Component `m` of stage `j` of the current step.
    @inlinable @inline(__always)
    func stageComponent(_ m: Int, _ j: Int) -> Scalar {
        State.component(m, ofStage: j, in: k.base, stride: stride)
    }

    public mutating func start(t: Double, u: State, du f0: State) {
        f0.store(into: uniqueStages(), stage: 0)
        firstStage = .inFirst
        extrasReady = false
    }

    /// `arg = u + Σ_{j<i} (dt a_ij) k_j`, then `k_i = f(t + c_i dt, arg)` (through `du`).
    ///
    /// `arg` and `du` are the stepper's buffers moved into locals by the caller: as locals they
    /// are uniquely owned, so passing an array to `f` needs no reference counting or copy checks.
    @inlinable @inline(__always)
    func stage(
        _ i: Int, _ f: Function, _ p: Parameters, t: Double, dt: Double, u: State,
        k: UnsafeMutablePointer<State.StageElement>, arg: inout State, du: inout State
    ) {
        let x = table.base
        arg.linearCombination(base: u, stages: k, coefficients: x + i &* (i &- 1) / 2, scale: dt, count: i)
        f.evaluate(into: &du, arg, p, t + x[offsetC &+ i] * dt)
        du.store(into: k, stage: i)
    }

    /// Puts the step's first stage `f(t, u)` in slot 0: copied from the last slot (FSAL) or the
    /// residual estimate's end derivative, or evaluated.
    @inlinable @inline(__always)
    mutating func loadFirstStage(
        _ f: Function, _ p: Parameters, t: Double, u: State, k: UnsafeMutablePointer<State.StageElement>,
        stats: inout SolverStats
    ) {
        switch firstStage {
        case .inFirst: break
        case .inLast:
            // A loop, not `update(from:count:)`, which calls `memmove` (10 instructions per
            // step on Lorenz).
            // `u.stageStride`: a constant 1 for a value state once specialized.
            let stride = u.stageStride
            let last = (s &- 1) &* stride
            for o in 0..<stride { k[o] = k[last &+ o] }
        case .inEnd: endDerivative.store(into: k, stage: 0)
        case .missing:
            var du = State.takeScratch(&self.du)
            f.evaluate(into: &du, u, p, t)
            du.store(into: k, stage: 0)
            State.returnScratch(&du, to: &self.du)
            stats.nf += 1
        }
        firstStage = .inFirst
        extrasReady = false
    }

    @inlinable
    public mutating func attempt(
        _ f: Function, _ p: Parameters, t: Double, dt: Double, u: State, uNew: inout State,
        tolerance: ErrorScale, stats: inout SolverStats
    ) -> Double {
        if kernel == .tsit5 {
            return attemptTsit5(f, p, t: t, dt: dt, u: u, uNew: &uNew, tolerance: tolerance, stats: &stats)
        }
        let kb = uniqueStages()
        let s = self.s
        loadFirstStage(f, p, t: t, u: u, k: kb, stats: &stats)
        var arg = State.takeScratch(&stageArg)
        var du = State.takeScratch(&self.du)
        for i in 1..<max(s, 1) {
            stage(i, f, p, t: t, dt: dt, u: u, k: kb, arg: &arg, du: &du)
            if tracksStiffness && i == s &- 2 { previousArg.copyComponents(from: arg) }
        }
        if tracksStiffness && s >= 3 { estimateStiffness(lastArgument: arg) }
        stats.nf += s - 1
        // The last stage of an FSAL method was evaluated at the new state itself.
        if fsal { uNew.copyComponents(from: arg) }
        State.returnScratch(&arg, to: &stageArg)
        State.returnScratch(&du, to: &self.du)
        let x = table.base
        if !fsal { uNew.linearCombination(base: u, stages: kb, coefficients: x + offsetB, scale: dt, count: s) }
        guard adaptive else { return 0 }
        if let residual {
            return residualError(residual, f, p, t: t, dt: dt, u: u, uNew: uNew, tolerance: tolerance, stats: &stats)
        }
        let e5 = State.weightedStageSumOfSquares(
            stages: kb, coefficients: x + offsetBtilde, scale: dt, count: s, from: u, to: uNew, abstol: abstol,
            tolerance: tolerance)
        if !hasBtilde3 { return ErrorScale.finish(e5, count: n, as: Scalar.self) }
        let e3 = State.weightedStageSumOfSquares(
            stages: kb, coefficients: x + offsetBtilde3, scale: dt, count: s, from: u, to: uNew, abstol: abstol,
            tolerance: tolerance)
        // DOP853's estimator (Hairer, Nørsett & Wanner I, §II.10; dop853.f): the fifth-order
        // estimate corrected by the third-order one, err = E5 / sqrt(N (E5 + 0.01 E3)).
        var deno = e5 + 0.01 * e3
        if deno <= 0 { deno = 1 }
        return e5 / (Double(n * Scalar.componentCount) * deno).squareRoot()
    }

    /// The stiffness estimate from the last two stages, `lastArgument` being the last stage's
    /// argument and ``previousArg`` the one before.
    @inlinable
    mutating func estimateStiffness(lastArgument arg: State) {
        let s = self.s
        _stiffnessEstimate = stiffnessRatio(
            count: n, dk: { stageComponent($0, s &- 1).primal - stageComponent($0, s &- 2).primal },
            dg: { arg[$0].primal - previousArg[$0].primal })
    }

    /// The scaled residual estimate of ``ResidualErrorEstimate`` for the attempt from `(t, u)`
    /// to `uNew`, with the first stage `f(t, u)` in slot 0: evaluates `f(t + dt, uNew)` into
    /// `endDerivative`, then the residual `dt·f(P(θ)) − dt·P'(θ)` of the cubic Hermite
    /// interpolant `P(θ) = (1−θ)u + θ uNew + θ(θ−1)((1−2θ)Δ + (θ−1)dt f₀ + θ dt f₁)`
    /// (`Δ = uNew − u`; HNW I, §II.6, (6.7)) at each node, in the error weights of the step.
    @inlinable
    mutating func residualError(
        _ estimate: ResidualErrorEstimate, _ f: Function, _ p: Parameters, t: Double, dt: Double, u: State,
        uNew: State, tolerance: ErrorScale, stats: inout SolverStats
    ) -> Double {
        let n = self.n
        // `end` persists (the next step's first stage), so it is swapped, not taken as scratch.
        var end = endDerivative.vacated()
        swap(&end, &endDerivative)
        var arg = State.takeScratch(&stageArg)
        var du = State.takeScratch(&self.du)
        defer {
            swap(&end, &endDerivative)
            State.returnScratch(&arg, to: &stageArg)
            State.returnScratch(&du, to: &self.du)
        }
        f.evaluate(into: &end, uNew, p, t + dt)
        stats.nf += 1 + estimate.nodes.count
        var largest = 0.0
        for theta in estimate.nodes {
            let w = theta * (theta - 1)
            for m in 0..<n {
                let delta = uNew[m] - u[m]
                let hf0 = stageComponent(m, 0).scaled(by: dt)
                let hf1 = end[m].scaled(by: dt)
                let inner = delta.scaled(by: 1 - 2 * theta) + hf0.scaled(by: theta - 1) + hf1.scaled(by: theta)
                arg[m] = u[m].scaled(by: 1 - theta) + uNew[m].scaled(by: theta) + inner.scaled(by: w)
            }
            f.evaluate(into: &du, arg, p, t + theta * dt)
            var sum = 0.0
            for m in 0..<n {
                let delta = uNew[m] - u[m]
                let hf0 = stageComponent(m, 0).scaled(by: dt)
                let hf1 = end[m].scaled(by: dt)
                let inner = delta.scaled(by: 1 - 2 * theta) + hf0.scaled(by: theta - 1) + hf1.scaled(by: theta)
                // dt·P'(θ) = Δ + (2θ−1)·inner + θ(θ−1)·(h f₀ + h f₁ − 2Δ).
                let slope = delta + inner.scaled(by: 2 * theta - 1) + (hf0 + hf1 - delta.scaled(by: 2)).scaled(by: w)
                let r = du[m].scaled(by: dt) - slope
                let sc = tolerance.scale(m, u[m].primal, uNew[m].primal)
                sum += r.sumOfSquaredComponents / (sc * sc)
            }
            let e = ErrorScale.finish(sum, count: n, as: Scalar.self)
            // A NaN residual must reach the integrator (`max` would drop it).
            guard e.isFinite else { return e }
            largest = Swift.max(largest, e)
        }
        return estimate.scale * largest
    }

    public mutating func accept() {
        firstStage = fsal ? .inLast : (adaptive && residual != nil ? .inEnd : .missing)
    }

    /// Computes the interpolant's extra stages for the accepted step from `(t, u)` with `dt`.
    /// (After `accept()` an FSAL method's slot 0 still holds this step's first stage: it is
    /// overwritten only when the next step starts.)
    ///
    /// The tests inline, the stages out of line: the dense append calls this twice a step, and
    /// Tsit5's tableau has no extra stage. Where `f` is inlined into the stages (the
    /// delayed right-hand side) the whole function stopped being inlined: 2.9 k instructions per
    /// Hutchinson solve in calls that returned at once (callgrind).
    @inlinable @inline(__always)
    mutating func computeExtraStages(_ f: Function, _ p: Parameters, t: Double, dt: Double, u: State, stats: inout SolverStats) {
        guard !extrasReady else { return }
        extrasReady = true
        guard totalStages > s else { return }
        evaluateExtraStages(f, p, t: t, dt: dt, u: u, stats: &stats)
    }

    /// The extra stages themselves (``computeExtraStages(_:_:t:dt:u:stats:)``).
    @inlinable @inline(never)
    mutating func evaluateExtraStages(_ f: Function, _ p: Parameters, t: Double, dt: Double, u: State, stats: inout SolverStats) {
        let kb = uniqueStages()
        var arg = State.takeScratch(&stageArg)
        var du = State.takeScratch(&self.du)
        for i in s..<totalStages { stage(i, f, p, t: t, dt: dt, u: u, k: kb, arg: &arg, du: &du) }
        State.returnScratch(&arg, to: &stageArg)
        State.returnScratch(&du, to: &self.du)
        stats.nf += totalStages - s
    }

    /// The method's continuous extension at `t + theta*dt` inside the step just accepted (linear
    /// for methods without one). Inlinable so that `saveat` specializes with the step.
    @inlinable @inline(never)
    public mutating func interpolate(
        _ f: Function, _ p: Parameters, theta: Double, t: Double, dt: Double, u: State,
        uNew: State, into out: inout State, stats: inout SolverStats
    ) {
        guard let ext = tableau.interpolant else {
            // No published dense output (the fixed-step methods): linear between the ends.
            for m in 0..<n { out[m] = u[m].scaled(by: 1 - theta) + uNew[m].scaled(by: theta) }
            return
        }
        computeExtraStages(f, p, t: t, dt: dt, u: u, stats: &stats)
        if thetaWeights.count != totalStages { thetaWeights = [Double](repeating: 0, count: totalStages) }
        evaluateWeights(ext.coefficients, theta: theta, into: &thetaWeights)
        out.copyComponents(from: u)
        for j in 0..<totalStages where thetaWeights[j] != 0 {
            let w = dt * thetaWeights[j]
            for m in 0..<n { out[m] += stageComponent(m, j).scaled(by: w) }
        }
    }

    /// The lazy extra stages of the continuous extension (Vern's), which call `f`: the append
    /// after this calls none (see ``ODEStepper/prepareDenseStep(_:_:t:dt:u:stats:)``).
    @inlinable
    public mutating func prepareDenseStep(
        _ f: Function, _ p: Parameters, t: Double, dt: Double, u: State, stats: inout SolverStats
    ) {
        guard tableau.interpolant != nil else { return }
        computeExtraStages(f, p, t: t, dt: dt, u: u, stats: &stats)
    }

    @inlinable @inline(never)
    public mutating func appendDenseStep(
        _ f: Function, _ p: Parameters, t: Double, dt: Double, end: Double, u: State, uNew: State,
        to dense: inout PiecewisePolynomial<Scalar>, stats: inout SolverStats
    ) {
        guard let order = denseOrder else {
            // No published dense output (the fixed-step methods): linear between the ends.
            dense.appendLinear(from: t, to: end, step: dt, u0: u, u1: uNew)
            return
        }
        computeExtraStages(f, p, t: t, dt: dt, u: u, stats: &stats)
        let (kb, stride, w) = (UnsafePointer<State.StageElement>(k.base), self.stride, UnsafePointer(table.base + offsetDense))
        if denseTsit5 {
            // Tsit5's interpolant (the usual case): constant trip counts, which unroll, and no
            // zero weight to skip; the same operations in the same order as the general call.
            dense.appendStageWeighted(
                from: t, to: end, step: dt, u0: u, u1: uNew, stageCount: 7, weights: w, degree: 4, order: order,
                weightsNonzero: true
            ) { j, m in State.component(m, ofStage: j, in: kb, stride: stride) }
            return
        }
        dense.appendStageWeighted(
            from: t, to: end, step: dt, u0: u, u1: uNew, stageCount: totalStages, weights: w, degree: denseDegree,
            order: order
        ) { j, m in State.component(m, ofStage: j, in: kb, stride: stride) }
    }
}

extension ExplicitRKStepper where Function: ODEFunction {
    /// A stepper for array states of `n` components.
    @inlinable
    public init(tableau: ButcherTableau, count n: Int, estimatingError: Bool = true) {
        self.init(tableau: tableau, prototype: [Function.Scalar](specializedRepeating: .zero, count: n), estimatingError: estimatingError)
    }
}

extension ExplicitRKStepper where Function.State: StaticState {
    /// A stepper for a fixed-size state.
    public init(tableau: ButcherTableau, estimatingError: Bool = true) {
        self.init(tableau: tableau, prototype: State(), estimatingError: estimatingError)
    }
}

/// The explicit RK stepper of a fixed-size problem: ``ExplicitRKStepper`` itself (one stepper
/// for every state form), under the name it had when the two forms had two steppers.
public typealias StaticRKStepper<Function: StaticODEFunction> = ExplicitRKStepper<Function>

/// The algorithms of this module: a tableau run by ``ExplicitRKStepper``, on arrays
/// (``ODEProblem``) and on fixed-size states (``StaticODEProblem``).
public protocol ExplicitRKAlgorithm: ODEAlgorithm, StaticODEAlgorithm, Sendable {
    var tableau: ButcherTableau { get }
}

extension ExplicitRKAlgorithm {
    public var name: String { tableau.name }

    /// From the orders of the embedded pair; `nil` for the fixed-step methods.
    public var toleranceExponent: Double? {
        tableau.embeddedOrder.map { DiffEqCore.toleranceExponent(order: tableau.order, embeddedOrder: $0) }
    }

    /// An integrator for step-by-step use (`step()`, `t`, `u`, `dt`), as `init` in
    /// DifferentialEquations.jl.
    @inlinable
    public func makeIntegrator<F: ODEFunction>(_ problem: ODEProblem<F>, options: SolveOptions = .init())
        throws(DiffEqError) -> ODEIntegrator<ExplicitRKStepper<F>>
    {
        let n = problem.resolvedInitialState().count
        return try ODEIntegrator(
            problem, stepper: ExplicitRKStepper(tableau: tableau, count: n, estimatingError: options.adaptive),
            options: options)
    }

    @inlinable
    public func solve<F: ODEFunction>(_ problem: ODEProblem<F>, options: SolveOptions) throws(DiffEqError)
        -> ODESolution<F.Scalar>
    {
        var integrator = try makeIntegrator(problem, options: options)
        return integrator.solve()
    }
}

extension ExplicitRKAlgorithm {
    /// An integrator for a fixed-size state, for step-by-step use: the one loop
    /// (``ODEIntegrator``) with this method's stepper.
    @inlinable
    public func makeIntegrator<F: StaticODEFunction>(_ problem: StaticODEProblem<F>, options: SolveOptions = .init())
        throws(DiffEqError) -> ODEIntegrator<ExplicitRKStepper<F>>
    {
        try ODEIntegrator(problem, stepper: ExplicitRKStepper(tableau: tableau, estimatingError: options.adaptive), options: options)
    }

    /// Solves a fixed-size problem with this method.
    @inlinable
    public func solve<F: StaticODEFunction>(_ problem: StaticODEProblem<F>, options: SolveOptions)
        throws(DiffEqError) -> StaticODESolution<F.State>
    {
        var integrator = try makeIntegrator(problem, options: options)
        return integrator.solve()
    }
}

/// Shampine's estimate of the dominant eigenvalue of ∂f/∂u from the last two stages of a step
/// (Hairer & Wanner II, §IV.2): `‖k_s − k_{s−1}‖ / ‖g_s − g_{s−1}‖`, the stages' derivatives
/// `dk(m)` and arguments `dg(m)` differenced per component; 0 when the arguments coincide.
@inlinable @inline(__always)
func stiffnessRatio(count n: Int, dk: (Int) -> Double, dg: (Int) -> Double) -> Double {
    var num = 0.0, den = 0.0
    for m in 0..<n {
        let k = dk(m), g = dg(m)
        num += k * k
        den += g * g
    }
    return den > 0 ? (num / den).squareRoot() : 0
}
