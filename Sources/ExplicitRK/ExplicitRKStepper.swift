import DiffEqCore

/// The one stepper behind every explicit Runge-Kutta method: stages from the tableau, the
/// embedded error estimate, FSAL reuse and the tableau's continuous extension (extra stages
/// computed only when the solution is evaluated inside a step).
///
/// Caches (stage vectors, the stage argument) are allocated in `init`; a step allocates nothing.
public struct ExplicitRKStepper<Function: ODEFunction>: ODEStepper {
    public typealias Scalar = Function.Scalar

    public let tableau: ButcherTableau
    @usableFromInline let s: Int
    @usableFromInline let c: [Double]
    /// Row `i` of A starts at `i*(i-1)/2`; the extra interpolation stages follow the same rule.
    @usableFromInline let aFlat: [Double]
    @usableFromInline let b: [Double]
    @usableFromInline let btilde: [Double]
    @usableFromInline let adaptive: Bool
    @usableFromInline let fsal: Bool
    /// Stage derivatives, stage `j` at `[j*n, (j+1)*n)`: the `s` method stages, then the
    /// interpolant's extra stages. One flat array keeps the stage sums to one pointer each.
    @usableFromInline var k: [Scalar]
    /// `f` writes here; the result is copied into its stage slot (the right-hand side takes
    /// Swift arrays, not pointers).
    @usableFromInline var du: [Scalar]
    @usableFromInline var stageArg: [Scalar]
    @usableFromInline var thetaWeights: [Double]
    @usableFromInline let n: Int
    /// Where the first stage of the next step is: already in slot 0, in the last slot (FSAL),
    /// or still to be evaluated.
    @usableFromInline var firstStage: FirstStage = .missing
    /// Extra interpolation stages of the last accepted step are computed.
    @usableFromInline var extrasReady = false
    @usableFromInline let totalStages: Int

    @usableFromInline enum FirstStage { case missing, inK0, inLast }

    public init(tableau: ButcherTableau, count n: Int) {
        self.tableau = tableau
        s = tableau.stages
        let extra = tableau.interpolant?.extraC.count ?? 0
        totalStages = s + extra
        c = tableau.c + (tableau.interpolant?.extraC ?? [])
        aFlat = (tableau.a + (tableau.interpolant?.extraA ?? [])).flatMap { $0 }
        b = tableau.b
        btilde = tableau.btilde ?? [Double](repeating: 0, count: tableau.stages)
        adaptive = tableau.btilde != nil
        fsal = tableau.isFSAL
        self.n = n
        k = [Scalar](repeating: .zero, count: totalStages * n)
        du = [Scalar](repeating: .zero, count: n)
        stageArg = [Scalar](repeating: .zero, count: n)
        thetaWeights = [Double](repeating: 0, count: totalStages)
    }

    public var name: String { tableau.name }
    public var isAdaptive: Bool { adaptive }
    public var order: Int { tableau.order }
    public var controller: PIController { tableau.controller }

    public mutating func start(t: Double, u: [Scalar], du: [Scalar]) {
        k.replaceSubrange(0..<n, with: du)
        firstStage = .inK0
        extrasReady = false
    }

    /// `stageArg = u + dt Σ_{j<i} a_ij k_j`.
    @inlinable @inline(__always)
    mutating func formStageArgument(_ i: Int, dt: Double, u: [Scalar]) {
        let row = i * (i - 1) / 2
        let n = self.n
        k.withUnsafeBufferPointer { kp in
            aFlat.withUnsafeBufferPointer { a in
                u.withUnsafeBufferPointer { up in
                    stageArg.withUnsafeMutableBufferPointer { arg in
                        for m in 0..<n { arg[m] = up[m] }
                        for j in 0..<i {
                            let w = dt * a[row + j]
                            if w == 0 { continue }
                            let kj = kp.baseAddress! + j * n
                            for m in 0..<n { arg[m] += kj[m].scaled(by: w) }
                        }
                    }
                }
            }
        }
    }

    /// Evaluates `f` at the stage argument into stage slot `i`.
    @inlinable @inline(__always)
    mutating func evaluateStage(_ i: Int, _ f: Function, _ p: [Scalar], _ t: Scalar) {
        f(&du, stageArg, p, t)
        let n = self.n
        du.withUnsafeBufferPointer { d in
            k.withUnsafeMutableBufferPointer { kp in
                let slot = kp.baseAddress! + i * n
                for m in 0..<n { slot[m] = d[m] }
            }
        }
    }

    @inlinable
    public mutating func attempt(
        _ f: Function, _ p: [Scalar], t: Double, dt: Double, u: [Scalar], uNew: inout [Scalar],
        tolerance: ErrorScale, stats: inout SolverStats
    ) -> Double {
        switch firstStage {
        case .inK0: break
        case .inLast:
            let (n, last) = (self.n, (s - 1) * self.n)
            k.withUnsafeMutableBufferPointer { kp in
                for m in 0..<n { kp[m] = kp[last + m] }
            }
        case .missing:
            f(&du, u, p, Scalar(t))
            k.replaceSubrange(0..<n, with: du)
            stats.nf += 1
        }
        firstStage = .inK0
        extrasReady = false
        let n = self.n
        for i in 1..<s {
            formStageArgument(i, dt: dt, u: u)
            evaluateStage(i, f, p, Scalar(t + c[i] * dt))
            stats.nf += 1
        }
        let s = self.s
        k.withUnsafeBufferPointer { kp in
            u.withUnsafeBufferPointer { up in
                uNew.withUnsafeMutableBufferPointer { un in
                    if fsal {
                        // The last stage was evaluated at the new state itself.
                        stageArg.withUnsafeBufferPointer { arg in
                            for m in 0..<n { un[m] = arg[m] }
                        }
                    } else {
                        for m in 0..<n { un[m] = up[m] }
                        b.withUnsafeBufferPointer { b in
                            for j in 0..<s where b[j] != 0 {
                                let w = dt * b[j]
                                let kj = kp.baseAddress! + j * n
                                for m in 0..<n { un[m] += kj[m].scaled(by: w) }
                            }
                        }
                    }
                }
            }
        }
        guard adaptive else { return 0 }
        var sum = 0.0
        k.withUnsafeBufferPointer { kp in
            btilde.withUnsafeBufferPointer { e in
                u.withUnsafeBufferPointer { up in
                    uNew.withUnsafeBufferPointer { un in
                        for m in 0..<n {
                            var err = Scalar.zero
                            for j in 0..<s where e[j] != 0 { err += kp[j * n + m].scaled(by: dt * e[j]) }
                            let sc = tolerance.scale(m, up[m].primal, un[m].primal)
                            sum += err.sumOfSquaredComponents / (sc * sc)
                        }
                    }
                }
            }
        }
        return ErrorScale.finish(sum, count: n, as: Scalar.self)
    }

    public mutating func accept() {
        firstStage = fsal ? .inLast : .missing
    }

    /// Computes the interpolant's extra stages for the accepted step from `(t, u)` with `dt`.
    @inlinable
    mutating func computeExtraStages(_ f: Function, _ p: [Scalar], t: Double, dt: Double, u: [Scalar], stats: inout SolverStats) {
        guard !extrasReady else { return }
        extrasReady = true
        guard totalStages > s else { return }
        // After accept() an FSAL method's k[0] still holds this step's first stage: the swap
        // happens only when the next step starts.
        for i in s..<totalStages {
            formStageArgument(i, dt: dt, u: u)
            evaluateStage(i, f, p, Scalar(t + c[i] * dt))
            stats.nf += 1
        }
    }

    @inlinable
    public mutating func interpolate(
        _ f: Function, _ p: [Scalar], theta: Double, t: Double, dt: Double, u: [Scalar],
        uNew: [Scalar], into out: inout [Scalar], stats: inout SolverStats
    ) {
        guard let ext = tableau.interpolant else {
            // No published dense output (the fixed-step methods): linear between the ends.
            for m in out.indices { out[m] = u[m].scaled(by: 1 - theta) + uNew[m].scaled(by: theta) }
            return
        }
        computeExtraStages(f, p, t: t, dt: dt, u: u, stats: &stats)
        evaluateWeights(ext.coefficients, theta: theta, into: &thetaWeights)
        for m in 0..<n { out[m] = u[m] }
        for j in 0..<totalStages where thetaWeights[j] != 0 {
            let w = dt * thetaWeights[j]
            for m in 0..<n { out[m] += k[j * n + m].scaled(by: w) }
        }
    }

    public mutating func denseStepData(
        _ f: Function, _ p: [Scalar], t: Double, dt: Double, u: [Scalar], uNew: [Scalar],
        stats: inout SolverStats
    ) -> [Scalar] {
        guard tableau.interpolant != nil else { return [] }
        computeExtraStages(f, p, t: t, dt: dt, u: u, stats: &stats)
        return k
    }

    public func makeDenseOutput(times: [Double], states: [[Scalar]], data: [[Scalar]]) -> any DenseOutput<Scalar> {
        RKDenseOutput(times: times, states: states, stages: data, interpolant: tableau.interpolant)
    }
}

/// `w_i = Σ_j B[i][j] θ^(j+1)` by Horner's rule.
@inlinable
func evaluateWeights(_ coefficients: [[Double]], theta: Double, into w: inout [Double]) {
    for i in coefficients.indices {
        let poly = coefficients[i]
        var acc = 0.0
        for j in poly.indices.reversed() { acc = acc * theta + poly[j] }
        w[i] = acc * theta
    }
}

/// The dense output of an explicit Runge-Kutta solve: every step's stages and the tableau's
/// continuous extension (linear interpolation for methods that publish none).
public struct RKDenseOutput<Scalar: DiffEqScalar>: DenseOutput {
    public let times: [Double]
    public let states: [[Scalar]]
    public let stages: [[Scalar]]
    public let interpolant: ContinuousExtension?

    public var domain: (Double, Double) {
        (Swift.min(times[0], times[times.count - 1]), Swift.max(times[0], times[times.count - 1]))
    }

    public func evaluate(at t: Double, into out: inout [Scalar]) {
        let i = intervalIndex(times, t)
        let h = times[i + 1] - times[i]
        let theta = (t - times[i]) / h
        let u0 = states[i]
        guard let ext = interpolant, !stages[i].isEmpty else {
            let u1 = states[i + 1]
            for m in out.indices { out[m] = u0[m].scaled(by: 1 - theta) + u1[m].scaled(by: theta) }
            return
        }
        var w = [Double](repeating: 0, count: ext.coefficients.count)
        evaluateWeights(ext.coefficients, theta: theta, into: &w)
        let n = u0.count
        let k = stages[i]
        for m in 0..<n {
            var acc = u0[m]
            for j in w.indices where w[j] != 0 { acc += k[j * n + m].scaled(by: h * w[j]) }
            out[m] = acc
        }
    }
}

/// The algorithms of this module: a tableau run by ``ExplicitRKStepper``.
public protocol ExplicitRKAlgorithm: ODEAlgorithm {
    var tableau: ButcherTableau { get }
}

extension ExplicitRKAlgorithm {
    public var name: String { tableau.name }

    /// An integrator for step-by-step use (`step()`, `t`, `u`, `dt`), as `init` in
    /// DifferentialEquations.jl.
    @inlinable
    public func makeIntegrator<F: ODEFunction>(_ problem: ODEProblem<F>, options: SolveOptions = .init())
        throws(DiffEqError) -> ODEIntegrator<ExplicitRKStepper<F>>
    {
        let n = problem.resolvedInitialState().count
        return try ODEIntegrator(problem, stepper: ExplicitRKStepper(tableau: tableau, count: n), options: options)
    }

    @inlinable
    public func solve<F: ODEFunction>(_ problem: ODEProblem<F>, options: SolveOptions) throws(DiffEqError)
        -> ODESolution<F.Scalar>
    {
        var integrator = try makeIntegrator(problem, options: options)
        return integrator.solve()
    }
}
