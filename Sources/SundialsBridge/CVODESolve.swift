import DiffEqCore

// The generic layer between `ODEAlgorithm.solve` and the session. It is small and
// `@inlinable` so that the right-hand-side closures it builds are specialised for the caller's
// `ODEFunction` (the callback is the one hot path of a CVODE solve); everything else works on
// `Double` in the non-generic ``CVODESession``.

/// Which CVODE linear multistep family.
@usableFromInline
enum CVODEMethod: Sendable {
    case adams
    case bdf

    /// The largest order CVODE allows for the family.
    var highestOrder: Int { self == .adams ? 12 : 5 }
}

/// An algorithm's own settings, shared by ``CVODE_Adams`` and ``CVODE_BDF``.
@usableFromInline
struct CVODEConfiguration: Sendable {
    @usableFromInline let name: String
    let method: CVODEMethod
    let maxOrder: Int
    let maxNumSteps: Int?
    let nonlinearSolver: CVODENonlinearSolver
    let useAnalyticJacobian: Bool
    let stabilityLimitDetection: Bool
    let constraints: [CVODEConstraint]?
    @usableFromInline let linearSolver: CVODELinearSolver

    @usableFromInline
    init(
        name: String, method: CVODEMethod, maxOrder: Int, maxNumSteps: Int?,
        nonlinearSolver: CVODENonlinearSolver, useAnalyticJacobian: Bool, stabilityLimitDetection: Bool,
        constraints: [CVODEConstraint]? = nil, linearSolver: CVODELinearSolver = .dense
    ) {
        self.constraints = constraints
        self.linearSolver = linearSolver
        self.stabilityLimitDetection = stabilityLimitDetection
        self.name = name
        self.method = method
        self.maxOrder = maxOrder
        self.maxNumSteps = maxNumSteps
        self.nonlinearSolver = nonlinearSolver
        self.useAnalyticJacobian = useAnalyticJacobian
    }

    /// Whether a solve calls the user's dense Jacobian: only Newton iteration with the dense
    /// linear solver uses one (KLU takes the sparse one of ``CVODESparseJacobian``; the Krylov
    /// solvers need products `J v` only).
    @usableFromInline
    func usesAnalyticJacobian(problemHasOne: Bool) -> Bool {
        guard case .dense = linearSolver else { return false }
        return nonlinearSolver == .newton && useAnalyticJacobian && problemHasOne
    }

    /// The linear solver's settings against a problem of `n` states.
    @usableFromInline
    func validateLinearSolver(stateCount n: Int) throws(DiffEqError) {
        if case .dense = linearSolver { return }
        guard nonlinearSolver == .newton else {
            throw .invalidStepOption(
                "\(name): linearSolver \(linearSolver.name) serves Newton iteration; with nonlinearSolver: .fixedPoint "
                    + "there are no linear solves (use nonlinearSolver: .newton)")
        }
        switch linearSolver {
        case .dense: return
        case .klu(let jacobian): try jacobian.pattern.validate(stateCount: n, name: name)
        case .gmres(let krylov): try krylov.validate(name: name, flexible: false)
        case .flexibleGMRES(let krylov): try krylov.validate(name: name, flexible: true)
        }
    }

    @usableFromInline
    func validate() throws(DiffEqError) {
        guard (1...method.highestOrder).contains(maxOrder) else {
            throw .invalidStepOption("\(name): maxOrder must be in 1...\(method.highestOrder), got \(maxOrder)")
        }
        if let m = maxNumSteps, m <= 0 {
            throw .invalidStepOption("\(name): maxNumSteps must be positive, got \(m)")
        }
    }

    /// The constraints against the initial state: one per component, and satisfied by `u0`
    /// (CVODE refuses a `u0` outside them; better said before any work, with the component).
    @usableFromInline
    func validateConstraints(u0: [Double]) throws(DiffEqError) {
        guard let constraints else { return }
        guard constraints.count == u0.count else {
            throw .dimensionMismatch(what: "\(name) constraints", expected: u0.count, got: constraints.count)
        }
        for (i, c) in constraints.enumerated() where !c.admits(u0[i]) {
            throw .invalidStepOption("\(name): u0[\(i)] = \(u0[i]) violates its constraint \(c)")
        }
    }
}

/// Validates, runs CVODE and converts the result to the problem's scalar type.
@inlinable
func cvodeSolve<F: ODEFunction>(
    _ problem: ODEProblem<F>, options: SolveOptions, configuration: CVODEConfiguration
) throws(DiffEqError) -> ODESolution<F.Scalar> {
    typealias S = F.Scalar
    guard S.self == Double.self || S.self == Float.self else {
        throw .unsupported(
            "CVODE works on Double or Float states; \(configuration.name) cannot solve a problem over \(S.self) "
                + "(use a native solver for dual or tracked scalars)")
    }
    try configuration.validate()
    guard options.adaptive else {
        throw .unsupported("\(configuration.name) always adapts its step size: adaptive: false is not supported")
    }
    guard options.isOutOfDomain == nil else {
        throw .unsupported(
            "\(configuration.name) has no isOutOfDomain test (CVODE offers no hook before it accepts a step): use a native method")
    }
    guard options.controller == nil else {
        throw .unsupported(
            "\(configuration.name) chooses its own step sizes (CVODE's order and step selection): a controller "
                + "in the options works with native methods only")
    }
    let setup = try SolveSetup(problem, options)
    guard setup.massMatrix == nil else {
        throw .unsupported("\(configuration.name) solves du/dt = f only: a mass matrix needs a Rosenbrock method (Rodas5P)")
    }
    let input = CVODEInput(setup)
    try configuration.validateConstraints(u0: setup.u0.map(\.primal))
    try configuration.validateLinearSolver(stateCount: setup.count)
    let callbacks = makeCVODECallbacks(
        problem.f, p: problem.p, events: problem.callbacks, count: setup.count,
        jacobian: configuration.usesAnalyticJacobian(problemHasOne: problem.f.hasAnalyticJacobian),
        linearSolver: configuration.linearSolver)
    if let why = callbacks.checkSparseJacobian(t0: setup.t0, u0: setup.u0.map(\.primal)) {
        throw .invalidStepOption("\(configuration.name): \(why)")
    }
    let raw = CVODESession.solve(input, callbacks: callbacks, configuration: configuration)
    return raw.solution(as: S.self, algorithm: configuration.name)
}

/// Scratch arrays of the callbacks in the problem's scalar type, allocated once per solve, and
/// the parameters (which an event's affect may change).
@usableFromInline
final class CVODEScratch<Scalar: DiffEqScalar> {
    @usableFromInline var u: [Scalar]
    @usableFromInline var du: [Scalar]
    @usableFromInline var jac: [Scalar]
    @usableFromInline var p: [Scalar]

    @usableFromInline
    init(count n: Int, jacobian: Bool, p: [Scalar]) {
        u = [Scalar](repeating: .zero, count: n)
        du = [Scalar](repeating: .zero, count: n)
        jac = [Scalar](repeating: .zero, count: jacobian ? n * n : 0)
        self.p = p
    }

    /// Loads a `Double` state into ``u``.
    @inlinable
    func load(_ y: UnsafePointer<Double>, count n: Int) {
        u.withUnsafeMutableBufferPointer { u in
            for i in 0..<n { u[i] = Scalar(y[i]) }
        }
    }
}

/// Builds the right-hand side (and, when wanted, the Jacobian and the event hooks) as closures
/// over `Double` buffers. They convert at the boundary (`S(x)` in, `.primal` out: the identity
/// for `Double`); the right-hand side and Jacobian allocate nothing.
@inlinable
func makeCVODECallbacks<F: ODEFunction>(
    _ f: F, p: [F.Scalar], events: CallbackSet<F.Scalar>, count n: Int, jacobian: Bool,
    linearSolver: CVODELinearSolver = .dense
) -> CVODECallbacks {
    typealias S = F.Scalar
    let scratch = CVODEScratch<S>(count: n, jacobian: jacobian, p: p)
    let rhs: CVODECallbacks.RHS = { t, y, ydot in
        scratch.load(y, count: n)
        f(&scratch.du, scratch.u, scratch.p, S(t))
        var finite = true
        scratch.du.withUnsafeBufferPointer { du in
            for i in 0..<n {
                let v = du[i].primal
                ydot[i] = v
                if !v.isFinite { finite = false }
            }
        }
        return finite
    }
    var jac: CVODECallbacks.Jacobian? = nil
    if jacobian {
        jac = { t, y, J in
            scratch.load(y, count: n)
            // The user may write only the non-zero entries.
            scratch.jac.withUnsafeMutableBufferPointer { m in
                for k in 0..<(n * n) { m[k] = .zero }
            }
            f.jacobian(&scratch.jac, scratch.u, scratch.p, S(t))
            var finite = true
            // Both are column-major with leading dimension n (SUNDIALS' dense matrix stores
            // column j at data + j*rows).
            scratch.jac.withUnsafeBufferPointer { m in
                for k in 0..<(n * n) {
                    let v = m[k].primal
                    J[k] = v
                    if !v.isFinite { finite = false }
                }
            }
            return finite
        }
    }
    let parameters: () -> [Double] = {
        if let same = scratch.p as? [Double] { return same }
        return scratch.p.map(\.primal)
    }
    return CVODECallbacks(
        rhs: rhs, jacobian: jac, events: makeCVODEEventHooks(events, scratch: scratch, count: n), count: n,
        parameters: parameters, linearSolver: linearSolver)
}

/// The problem's event callbacks seen from the session: conditions and affects over `Double`
/// states, with the parameters kept in `scratch` (shared with the right-hand side).
@usableFromInline
func makeCVODEEventHooks<S: DiffEqScalar>(
    _ events: CallbackSet<S>, scratch: CVODEScratch<S>, count n: Int
) -> CVODEEventHooks? {
    guard !events.isEmpty else { return nil }
    let continuous = events.continuous
    let discrete = events.discrete
    return CVODEEventHooks(
        continuous: continuous.map { (up: $0.affect != nil, down: $0.affectNeg != nil, save: $0.savePositions) },
        discrete: discrete.map(\.savePositions),
        conditions: { t, y, g in
            scratch.load(y, count: n)
            for (i, cb) in continuous.enumerated() { g[i] = cb.condition(scratch.u, t, scratch.p) }
        },
        discreteCondition: { i, t, u in
            discrete[i].condition(u.map { S($0) }, t, scratch.p)
        },
        affect: { event, t, u in
            let before = u.map { S($0) }
            var context = EventContext(u: before, p: scratch.p, t: t)
            switch event {
            case .continuous(let i, let up): (up ? continuous[i].affect : continuous[i].affectNeg)?(&context)
            case .discrete(let i): discrete[i].affect(&context)
            }
            // A resized state would overrun CVODE's vector and a resized p the model's reads:
            // end the solve with a message, as the native integrator does (this was a trap).
            guard context.u.count == n, context.p.count == scratch.p.count else {
                return (false, true,
                    "an event's affect changed the length of u (\(n) -> \(context.u.count)) or p "
                        + "(\(scratch.p.count) -> \(context.p.count)) at t = \(t); the state is kept as before the event")
            }
            let changed = context.u != before || context.p != scratch.p
            scratch.p = context.p
            u = context.u.map(\.primal)
            return (changed, context.isTerminated, nil)
        })
}

/// A solve's setup resolved to `Double` (what the session works on).
@usableFromInline
struct CVODEInput {
    let u0: [Double]
    let t0: Double
    let t1: Double
    let direction: Double
    let reltol: Double
    let abstol: [Double]
    let saveTimes: [Double]
    let saveEverystep: Bool
    let dense: Bool
    let tstops: [Double]
    let dt: Double?
    let dtmin: Double
    let dtmax: Double
    let maxiters: Int

    @usableFromInline
    init<S: DiffEqScalar>(_ setup: SolveSetup<S>) {
        u0 = setup.u0.map(\.primal)
        t0 = setup.t0
        t1 = setup.t1
        direction = setup.direction
        reltol = setup.reltol
        abstol = setup.abstol
        saveTimes = setup.saveTimes
        saveEverystep = setup.saveEverystep
        dense = setup.dense
        tstops = setup.tstops
        dt = setup.dt
        dtmin = setup.dtmin
        dtmax = setup.dtmax
        maxiters = setup.maxiters
    }

    var count: Int { u0.count }
}

/// What a session computed, in `Double`.
@usableFromInline
struct CVODERawResult {
    /// The saved points, by the rules of every solver (``SavingRecorder``); its rules are set
    /// from the input when the session starts.
    var saved = SavingRecorder<[Double]>(saveTimes: [], saveEverystep: false, direction: 1)
    var t: [Double] { saved.times }
    var u: [[Double]] { saved.values }
    /// The dense output, one polynomial per step (see
    /// ``PiecewisePolynomial/appendNordsieck(from:to:step:order:z:)``); `nil` without `dense`.
    var interpolant: PiecewisePolynomial<Double>?
    var retcode: ReturnCode = .default
    var message: String?
    var stats = SolverStats()

    @usableFromInline
    func solution<S: DiffEqScalar>(as _: S.Type, algorithm: String) -> ODESolution<S> {
        func convert(_ x: [[Double]]) -> [[S]] {
            if let same = x as? [[S]] { return same }
            return x.map { row in row.map { S($0) } }
        }
        let dense: (any DenseOutput<S>)? =
            if let interpolant, !interpolant.isEmpty {
                interpolant.converted(to: S.self)
            } else { nil }
        return ODESolution(
            t: t, u: convert(u), retcode: retcode, message: message, stats: stats, algorithm: algorithm,
            denseOutput: dense)
    }
}
