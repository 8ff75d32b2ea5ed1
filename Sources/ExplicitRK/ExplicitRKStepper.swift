import DiffEqCore

/// The one stepper behind every explicit Runge-Kutta method: stages from the tableau, the
/// embedded error estimate, FSAL reuse and the tableau's continuous extension (extra stages
/// computed only when the solution is evaluated inside a step).
///
/// Caches are allocated in `init`; a step allocates nothing.
public struct ExplicitRKStepper<Function: ODEFunction>: ODEStepper {
    public typealias Scalar = Function.Scalar

    public let tableau: ButcherTableau
    @usableFromInline let s: Int
    @usableFromInline let n: Int
    @usableFromInline let totalStages: Int
    @usableFromInline let c: [Double]
    /// Row `i` of A (method stages, then extra interpolation stages) starts at `i*(i-1)/2`.
    @usableFromInline let aFlat: [Double]
    @usableFromInline let b: [Double]
    @usableFromInline let btilde: [Double]
    @usableFromInline let btilde3: [Double]
    /// The tableau's residual estimate (RK4), if any.
    @usableFromInline let residual: ResidualErrorEstimate?
    /// The step estimates its error: the tableau has an estimate and the solve is adaptive.
    @usableFromInline let adaptive: Bool
    @usableFromInline let fsal: Bool
    /// The tableau's coefficients in one read-only block: `A` row by row (extra stages
    /// included), `b`, `btilde`, `btilde3`, then `c`. Never written after `init`, so copies of
    /// the stepper share it without a uniqueness check.
    @usableFromInline let table: StageStorage<Double>
    /// Which stage loop runs the step (see ``Kernel``).
    @usableFromInline var kernel: Kernel
    /// Stage `j` of the current step at `k.base + j*n`.
    @usableFromInline var k: StageStorage<Scalar>
    /// `f` writes here and the stage arguments are formed here: the right-hand side takes Swift
    /// arrays.
    @usableFromInline var du: [Scalar]
    @usableFromInline var stageArg: [Scalar]
    @usableFromInline var thetaWeights: [Double]
    /// The continuous extension's coefficients flattened for the dense output: stage `j`'s
    /// `θ^1 … θ^d` at `[j·d, (j+1)·d)` (zero-padded), `d = denseDegree`.
    @usableFromInline let denseWeights: [Double]
    @usableFromInline let denseDegree: Int
    /// The step's coefficients times dt (see `scaleCoefficients`).
    @usableFromInline var scaledCoefficients: StageStorage<Double>
    @usableFromInline var firstStage: FirstStage = .missing
    /// The extra interpolation stages of the last accepted step are computed.
    @usableFromInline var extrasReady = false
    /// Keep an estimate of the dominant eigenvalue of ∂f/∂u (for stiffness switching).
    public var tracksStiffness = false
    @usableFromInline var previousArg: [Scalar]
    /// `f(t + dt, uNew)` of the last attempt, evaluated by the residual estimate: the next step's
    /// first stage.
    @usableFromInline var endDerivative: [Scalar]
    @usableFromInline var _stiffnessEstimate = Double.nan
    public let stabilityBoundary: Double

    /// Where the first stage of the next step is: in slot 0, in the last slot (FSAL), in
    /// `endDerivative` (residual estimate), or still to be evaluated.
    @usableFromInline enum FirstStage { case missing, inFirst, inLast, inEnd }

    /// The stage loop of a step. `generic` runs any tableau with loops over stages whose trip
    /// counts are only known at run time; for n = 3 (Lorenz) their set-up and the per-stage pass
    /// over the coefficient buffer cost several times the right-hand side (rk-bench's overhead
    /// section). `tsit5` is the same arithmetic written out stage by stage for Tsit5's tableau
    /// (as OrdinaryDiffEq.jl's `perform_step!` does): same coefficients (read from `table`),
    /// same products and same summation order, so its results are bitwise those of `generic`.
    @usableFromInline enum Kernel { case generic, tsit5 }

    /// A stepper for `n` components; `estimatingError: false` (a solve with `adaptive: false`)
    /// skips the error estimate, whose residual form (RK4) costs evaluations of `f`.
    public init(tableau: ButcherTableau, count n: Int, estimatingError: Bool = true) {
        self.tableau = tableau
        s = tableau.stages
        self.n = n
        totalStages = s + (tableau.interpolant?.extraC.count ?? 0)
        c = tableau.c + (tableau.interpolant?.extraC ?? [])
        aFlat = (tableau.a + (tableau.interpolant?.extraA ?? [])).flatMap { $0 }
        b = tableau.b
        btilde = tableau.btilde ?? [Double](repeating: 0, count: s)
        btilde3 = tableau.btilde3 ?? []
        residual = tableau.residualEstimate
        adaptive = tableau.isAdaptive && estimatingError
        fsal = tableau.isFSAL
        let coefficients = aFlat + b + btilde + btilde3 + c
        table = StageStorage(count: coefficients.count)
        table.base.update(from: coefficients, count: coefficients.count)
        kernel = tableau.hasTsit5Coefficients ? .tsit5 : .generic
        k = StageStorage(count: totalStages * n)
        du = [Scalar](repeating: .zero, count: n)
        stageArg = [Scalar](repeating: .zero, count: n)
        thetaWeights = [Double](repeating: 0, count: totalStages)
        (denseWeights, denseDegree) = tableau.denseWeightTable
        scaledCoefficients = StageStorage(count: aFlat.count + b.count + btilde.count + btilde3.count)
        previousArg = [Scalar](repeating: .zero, count: n)
        endDerivative = residual == nil ? [] : [Scalar](repeating: .zero, count: n)
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

    /// Copies the stage block if another stepper value shares it (copy-on-write).
    @inlinable @inline(__always)
    mutating func uniqueStages() -> UnsafeMutablePointer<Scalar> {
        if !isKnownUniquelyReferenced(&k) { k = k.copy() }
        return k.base
    }

    public mutating func start(t: Double, u: [Scalar], du f0: [Scalar]) {
        let kb = uniqueStages()
        for m in 0..<n { kb[m] = f0[m] }
        firstStage = .inFirst
        extrasReady = false
    }

    /// `arg = u + Σ_{j<i} (dt a_ij) k_j`, then `k_i = f(t + c_i dt, arg)` (through `du`).
    /// `w` holds the row of `dt·A` (scaled once per step); the sum runs component-outer so that
    /// each component is accumulated in a register.
    ///
    /// `arg` and `du` are the stepper's buffers moved into locals by the caller: as locals they
    /// are uniquely owned, so passing them to `f` needs no reference counting or copy checks.
    @inlinable @inline(__always)
    func stage(
        _ i: Int, _ f: Function, _ p: [Scalar], t: Double, dt: Double, u: [Scalar], kb: UnsafeMutablePointer<Scalar>,
        w: UnsafePointer<Double>, arg: inout [Scalar], du: inout [Scalar]
    ) {
        let n = self.n
        let row = w + i &* (i &- 1) / 2
        u.withUnsafeBufferPointer { up in
            arg.withUnsafeMutableBufferPointer { arg in
                for m in 0..<n {
                    var acc = up[m]
                    var kj = kb + m
                    for j in 0..<i {
                        acc += kj.pointee.scaled(by: row[j])
                        kj += n
                    }
                    arg[m] = acc
                }
            }
        }
        f(&du, arg, p, Scalar(t + c[i] * dt))
        du.withUnsafeBufferPointer { d in
            let slot = kb + i &* n
            for m in 0..<n { slot[m] = d[m] }
        }
    }

    /// The step's coefficients times `dt` in this stepper's own (copied if shared) buffer.
    @inlinable @inline(__always)
    mutating func coefficientsScaled(by dt: Double) -> UnsafeMutablePointer<Double> {
        if !isKnownUniquelyReferenced(&scaledCoefficients) { scaledCoefficients = scaledCoefficients.copy() }
        scaleCoefficients(dt: dt, into: scaledCoefficients.base)
        return scaledCoefficients.base
    }

    /// Fills `w` with `dt·A` (all rows, extra stages included), then `dt·b` and `dt·btilde`
    /// (and `dt·btilde3`) after it: the step's coefficients, scaled once.
    @inlinable @inline(__always)
    func scaleCoefficients(dt: Double, into w: UnsafeMutablePointer<Double>) {
        let count = aFlat.count &+ b.count &+ btilde.count &+ btilde3.count
        let x = table.base
        for o in 0..<count { w[o] = dt * x[o] }
    }

    /// Puts the step's first stage `f(t, u)` in slot 0: copied from the last slot (FSAL) or
    /// evaluated.
    @inlinable @inline(__always)
    mutating func loadFirstStage(
        _ f: Function, _ p: [Scalar], t: Double, u: [Scalar], kb: UnsafeMutablePointer<Scalar>, stats: inout SolverStats
    ) {
        let (n, s) = (self.n, self.s)
        switch firstStage {
        case .inFirst: break
        case .inLast:
            let last = kb + (s &- 1) &* n
            for m in 0..<n { kb[m] = last[m] }
        case .inEnd:
            endDerivative.withUnsafeBufferPointer { d in kb.update(from: d.baseAddress!, count: n) }
        case .missing:
            var du: [Scalar] = []
            swap(&du, &self.du)
            f(&du, u, p, Scalar(t))
            du.withUnsafeBufferPointer { d in kb.update(from: d.baseAddress!, count: n) }
            swap(&du, &self.du)
            stats.nf += 1
        }
        firstStage = .inFirst
        extrasReady = false
    }

    @inlinable
    public mutating func attempt(
        _ f: Function, _ p: [Scalar], t: Double, dt: Double, u: [Scalar], uNew: inout [Scalar],
        tolerance: ErrorScale, stats: inout SolverStats
    ) -> Double {
        if kernel == .tsit5 {
            return attemptTsit5(f, p, t: t, dt: dt, u: u, uNew: &uNew, tolerance: tolerance, stats: &stats)
        }
        let kb = uniqueStages()
        let (n, s) = (self.n, self.s)
        loadFirstStage(f, p, t: t, u: u, kb: kb, stats: &stats)
        let w = coefficientsScaled(by: dt)
        var arg: [Scalar] = []
        var du: [Scalar] = []
        swap(&arg, &stageArg)
        swap(&du, &self.du)
        for i in 1..<max(s, 1) {
            stage(i, f, p, t: t, dt: dt, u: u, kb: kb, w: w, arg: &arg, du: &du)
            if tracksStiffness && i == s &- 2 { for m in 0..<n { previousArg[m] = arg[m] } }
        }
        if tracksStiffness && s >= 3 {
            let (a, b) = (kb + (s &- 1) &* n, kb + (s &- 2) &* n)
            _stiffnessEstimate = stiffnessRatio(
                count: n, dk: { a[$0].primal - b[$0].primal }, dg: { arg[$0].primal - previousArg[$0].primal })
        }
        stats.nf += s - 1
        if fsal {
            // The last stage was evaluated at the new state itself.
            arg.withUnsafeBufferPointer { a in
                uNew.withUnsafeMutableBufferPointer { un in
                    for m in 0..<n { un[m] = a[m] }
                }
            }
        }
        swap(&arg, &stageArg)
        swap(&du, &self.du)
        let wb = w + aFlat.count
        if !fsal {
            u.withUnsafeBufferPointer { up in
                uNew.withUnsafeMutableBufferPointer { un in
                    for m in 0..<n {
                        var acc = up[m]
                        for j in 0..<s { acc += kb[j &* n &+ m].scaled(by: wb[j]) }
                        un[m] = acc
                    }
                }
            }
        }
        guard adaptive else { return 0 }
        if let residual {
            return residualError(residual, f, p, t: t, dt: dt, u: u, uNew: uNew, kb: kb, tolerance: tolerance, stats: &stats)
        }
        let (e5, e3) = errorSums(u: u, uNew: uNew, tolerance: tolerance, kb: kb, w: wb + s)
        if btilde3.isEmpty {
            return ErrorScale.finish(e5, count: n, as: Scalar.self)
        }
        // DOP853's estimator (Hairer, Nørsett & Wanner I, §II.10; dop853.f): the fifth-order
        // estimate corrected by the third-order one, err = E5 / sqrt(N (E5 + 0.01 E3)).
        var deno = e5 + 0.01 * e3
        if deno <= 0 { deno = 1 }
        return e5 / (Double(n * Scalar.componentCount) * deno).squareRoot()
    }

    /// Sums of squared scaled errors of the embedded estimate(s); `w` holds `dt·btilde` followed
    /// by `dt·btilde3`.
    @inlinable @inline(__always)
    func errorSums(u: [Scalar], uNew: [Scalar], tolerance: ErrorScale, kb: UnsafeMutablePointer<Scalar>, w: UnsafePointer<Double>)
        -> (Double, Double)
    {
        let (n, s) = (self.n, self.s)
        let second = !btilde3.isEmpty
        let w3 = w + s
        var sum = 0.0, sum3 = 0.0
        u.withUnsafeBufferPointer { up in
            uNew.withUnsafeBufferPointer { un in
                for m in 0..<n {
                    var err = Scalar.zero
                    for j in 0..<s { err += kb[j &* n &+ m].scaled(by: w[j]) }
                    let sc = tolerance.scale(m, up[m].primal, un[m].primal)
                    let inv = 1 / (sc * sc)
                    sum += err.sumOfSquaredComponents * inv
                    if second {
                        var err3 = Scalar.zero
                        for j in 0..<s { err3 += kb[j &* n &+ m].scaled(by: w3[j]) }
                        sum3 += err3.sumOfSquaredComponents * inv
                    }
                }
            }
        }
        return (sum, sum3)
    }

    /// The scaled residual estimate of ``ResidualErrorEstimate`` for the attempt from `(t, u)`
    /// to `uNew`, with the first stage `f(t, u)` in slot 0: evaluates `f(t + dt, uNew)` into
    /// `endDerivative`, then the residual `dt·f(P(θ)) − dt·P'(θ)` of the cubic Hermite
    /// interpolant `P(θ) = (1−θ)u + θ uNew + θ(θ−1)((1−2θ)Δ + (θ−1)dt f₀ + θ dt f₁)`
    /// (`Δ = uNew − u`; HNW I, §II.6, (6.7)) at each node, in the error weights of the step.
    @inlinable
    mutating func residualError(
        _ estimate: ResidualErrorEstimate, _ f: Function, _ p: [Scalar], t: Double, dt: Double, u: [Scalar],
        uNew: [Scalar], kb: UnsafeMutablePointer<Scalar>, tolerance: ErrorScale, stats: inout SolverStats
    ) -> Double {
        let n = self.n
        var end: [Scalar] = []
        var arg: [Scalar] = []
        var du: [Scalar] = []
        swap(&end, &endDerivative)
        swap(&arg, &stageArg)
        swap(&du, &self.du)
        defer {
            swap(&end, &endDerivative)
            swap(&arg, &stageArg)
            swap(&du, &self.du)
        }
        f(&end, uNew, p, Scalar(t + dt))
        stats.nf += 1 + estimate.nodes.count
        var largest = 0.0
        for theta in estimate.nodes {
            let w = theta * (theta - 1)
            for m in 0..<n {
                let delta = uNew[m] - u[m]
                let hf0 = kb[m].scaled(by: dt)
                let hf1 = end[m].scaled(by: dt)
                let inner = delta.scaled(by: 1 - 2 * theta) + hf0.scaled(by: theta - 1) + hf1.scaled(by: theta)
                arg[m] = u[m].scaled(by: 1 - theta) + uNew[m].scaled(by: theta) + inner.scaled(by: w)
            }
            f(&du, arg, p, Scalar(t + theta * dt))
            var sum = 0.0
            for m in 0..<n {
                let delta = uNew[m] - u[m]
                let hf0 = kb[m].scaled(by: dt)
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
    @inlinable
    mutating func computeExtraStages(_ f: Function, _ p: [Scalar], t: Double, dt: Double, u: [Scalar], stats: inout SolverStats) {
        guard !extrasReady else { return }
        extrasReady = true
        guard totalStages > s else { return }
        let kb = uniqueStages()
        let w = coefficientsScaled(by: dt)
        var arg: [Scalar] = []
        var du: [Scalar] = []
        swap(&arg, &stageArg)
        swap(&du, &self.du)
        for i in s..<totalStages { stage(i, f, p, t: t, dt: dt, u: u, kb: kb, w: w, arg: &arg, du: &du) }
        swap(&arg, &stageArg)
        swap(&du, &self.du)
        stats.nf += totalStages - s
    }

    @inlinable
    public mutating func interpolate(
        _ f: Function, _ p: [Scalar], theta: Double, t: Double, dt: Double, u: [Scalar],
        uNew: [Scalar], into out: inout [Scalar], stats: inout SolverStats
    ) {
        guard let ext = tableau.interpolant else {
            // No published dense output (the fixed-step methods): linear between the ends.
            for m in 0..<n { out[m] = u[m].scaled(by: 1 - theta) + uNew[m].scaled(by: theta) }
            return
        }
        computeExtraStages(f, p, t: t, dt: dt, u: u, stats: &stats)
        evaluateWeights(ext.coefficients, theta: theta, into: &thetaWeights)
        let kb = k.base
        for m in 0..<n { out[m] = u[m] }
        for j in 0..<totalStages where thetaWeights[j] != 0 {
            let w = dt * thetaWeights[j]
            for m in 0..<n { out[m] += kb[j * n + m].scaled(by: w) }
        }
    }

    @inlinable
    public mutating func appendDenseStep(
        _ f: Function, _ p: [Scalar], t: Double, dt: Double, end: Double, u: [Scalar], uNew: [Scalar],
        to dense: inout PiecewisePolynomial<Scalar>, stats: inout SolverStats
    ) {
        guard tableau.interpolant != nil else {
            // No published dense output (the fixed-step methods): linear between the ends.
            dense.appendLinear(from: t, to: end, step: dt, u0: u, u1: uNew)
            return
        }
        computeExtraStages(f, p, t: t, dt: dt, u: u, stats: &stats)
        let (degree, order) = (denseDegree, tableau.interpolant?.order ?? 1)
        denseWeights.withUnsafeBufferPointer { w in
            dense.appendStageWeighted(
                from: t, to: end, step: dt, u0: u, u1: uNew, stages: k.base, stageCount: totalStages,
                weights: w.baseAddress!, degree: degree, order: order)
        }
    }
}

/// The algorithms of this module: a tableau run by ``ExplicitRKStepper``.
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
