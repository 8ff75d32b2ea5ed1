/// A problem and its options checked and resolved once, before any work: what every
/// integrator (native or CVODE) starts from.
///
/// Performance: the initialisers are inlinable so that they specialize in the solver's module
/// (unspecialized, their scalar checks went through witness tables), and stops already inside
/// the span and in order are kept as given (no filtered and sorted copies): 3.7 k -> 1.7 k
/// instructions per solve of the logistic ODE, 6.2 k -> 1.8 k for a Hutchinson delay solve with
/// its five stops (callgrind, inclusive).
public struct SolveSetup<Scalar: DiffEqScalar>: Sendable {
    public let u0: [Scalar]
    public let t0: Double
    public let t1: Double
    /// +1 forward in time, -1 backward.
    public let direction: Double
    public let reltol: Double
    /// Absolute tolerance expanded to one value per component.
    public let abstol: [Double]
    /// Times to save at (besides steps), in the direction of integration; empty when none.
    public let saveTimes: [Double]
    public let saveEverystep: Bool
    public let dense: Bool
    /// Stop times strictly inside the span, in the direction of integration, each once.
    public let tstops: [Double]
    public let dt: Double?
    public let dtmin: Double
    public let dtmax: Double
    public let maxiters: Int
    /// Whether step-size control is on (`false`: fixed steps of `dt`).
    public let adaptive: Bool
    /// The problem's mass matrix (column-major), `nil` for the identity.
    public let massMatrix: [Double]?
    /// The options' domain test, if any.
    public let isOutOfDomain: DomainCheck?
    /// The options' step-size controller (validated), `nil` for the method's own.
    public let controller: StepController?

    public var count: Int { u0.count }

    /// Validates `options` against `problem` and resolves `u0(p)` and `tspan(p)`.
    @inlinable
    public init<F: ODEFunction>(_ problem: ODEProblem<F>, _ options: SolveOptions) throws(DiffEqError)
    where F.Scalar == Scalar {
        let (t0, t1) = problem.resolvedTimeSpan()
        guard t0.isFinite, t1.isFinite, t0 != t1 else { throw .invalidTimeSpan(t0: t0, t1: t1) }
        try self.init(u0: problem.resolvedInitialState(), tspan: (t0, t1), massMatrix: problem.massMatrix, options)
    }

    /// Validates `options` for an initial state `u0` on `tspan` (with an optional mass matrix):
    /// the checks of every problem form, whatever holds its state.
    @inlinable
    public init(u0: [Scalar], tspan: (Double, Double), massMatrix: [Double]?, _ options: SolveOptions)
        throws(DiffEqError)
    {
        let (t0, t1) = tspan
        guard t0.isFinite, t1.isFinite, t0 != t1 else { throw .invalidTimeSpan(t0: t0, t1: t1) }
        guard !u0.isEmpty else { throw .emptyState }
        if let bad = u0.firstIndex(where: { !$0.isFiniteScalar }) {
            throw .nonFiniteInitialState(component: bad)
        }
        let n = u0.count
        let r = options.reltol
        guard r.isFinite, r > 0 else { throw .invalidRelativeTolerance(r) }
        var abstol: [Double]
        switch options.abstol {
        case .scalar(let a): abstol = [Double](specializedRepeating: a, count: n)
        case .perComponent(let a):
            guard a.count == n else { throw .dimensionMismatch(what: "abstol", expected: n, got: a.count) }
            abstol = a
        }
        for (i, a) in abstol.enumerated() where !(a.isFinite && a > 0) {
            throw .invalidAbsoluteTolerance(component: i, value: a)
        }
        let dir: Double = t1 > t0 ? 1 : -1
        let span = Swift.abs(t1 - t0)
        func inside(_ s: Double) -> Bool { s.isFinite && dir * (s - t0) >= 0 && dir * (t1 - s) >= 0 }

        var saveTimes: [Double] = []
        switch options.saveat {
        case .none: break
        case .every(let step):
            guard step.isFinite, step > 0 else { throw .invalidSaveAt("step \(step) must be positive and finite") }
            // Check the number of points as a Double before converting it: `span / step` can be
            // above Int.max or infinite (span 1e300 with step 1e-10; a span such as
            // (-1e308, 1e308) whose length overflows), and `Int(_:)` traps on those.
            let points = (span / step).rounded(.down)
            guard points.isFinite, points < 100_000_000 else {
                throw .invalidSaveAt("step \(step) gives too many points over a span of length \(span)")
            }
            let count = Int(points)
            saveTimes.reserveCapacity(count + 2)
            for k in 0...count {
                let s = t0 + dir * Double(k) * step
                // Points within rounding of the end collapse onto it.
                if dir * (t1 - s) > 1e-12 * Swift.max(1, span) { saveTimes.append(s) }
            }
            saveTimes.append(t1)
        case .times(let times):
            for s in times where !inside(s) {
                throw .invalidSaveAt("time \(s) lies outside the span (\(t0), \(t1))")
            }
            saveTimes = times.sorted { dir * ($1 - $0) > 0 }
        }
        if let m = massMatrix {
            guard m.count == n * n else { throw .dimensionMismatch(what: "massMatrix", expected: n * n, got: m.count) }
            guard m.allSatisfy(\.isFinite) else { throw .invalidStepOption("the mass matrix has a non-finite entry") }
        }
        let hasSaveat = options.saveat != nil
        let saveEverystep = options.saveEverystep ?? !hasSaveat
        let dense = options.dense ?? (saveEverystep && !hasSaveat)

        if let dt = options.dt, !(dt.isFinite && dt != 0) {
            throw .invalidStepOption("dt must be finite and non-zero, got \(dt)")
        }
        let dtmin = options.dtmin ?? 0
        guard dtmin.isFinite, dtmin >= 0 else { throw .invalidStepOption("dtmin must be >= 0, got \(dtmin)") }
        let dtmax = options.dtmax ?? span
        guard dtmax > 0, !dtmax.isNaN else { throw .invalidStepOption("dtmax must be > 0, got \(dtmax)") }
        guard dtmax >= dtmin else { throw .invalidStepOption("dtmax (\(dtmax)) is below dtmin (\(dtmin))") }
        // A floor longer than the span leaves no step that fits: CVODE's setters refused it (hmin >
        // hmax once hmax is capped at the span) while CVODES ran into a convergence failure.
        guard dtmin <= span else {
            throw .invalidStepOption("dtmin (\(dtmin)) exceeds the length of the span (\(span)): no step fits")
        }
        guard options.maxiters > 0 else { throw .invalidStepOption("maxiters must be positive, got \(options.maxiters)") }
        try options.controller?.validate()

        self.u0 = u0
        self.t0 = t0
        self.t1 = t1
        self.direction = dir
        self.reltol = r
        self.abstol = abstol
        self.saveTimes = saveTimes
        self.saveEverystep = saveEverystep
        self.dense = dense
        // Stops given inside the span, in order and distinct (a delay solve's propagated points)
        // are kept as they are: filtering and sorting them made two arrays per solve. A stop
        // given twice is one stop: the loop lands on it once, where a copy left in the list
        // asked the method for a step of length zero (a Rosenbrock method then ended the solve
        // as unstable). OrdinaryDiffEqCore drops such copies too (`handle_tstop!`, integrator_utils.jl).
        let strictlyInside = { (s: Double) in s.isFinite && dir * (s - t0) > 0 && dir * (t1 - s) > 0 }
        let stops = options.tstops.allSatisfy(strictlyInside) ? options.tstops : options.tstops.filter(strictlyInside)
        let increasing = stops.indices.dropFirst().allSatisfy { dir * (stops[$0] - stops[$0 - 1]) > 0 }
        if increasing {
            self.tstops = stops
        } else {
            var distinct: [Double] = []
            for s in stops.sorted(by: { dir * ($1 - $0) > 0 }) where distinct.last != s { distinct.append(s) }
            self.tstops = distinct
        }
        self.dt = options.dt.map(Swift.abs)
        self.dtmin = dtmin
        self.dtmax = Swift.min(dtmax, span)
        self.maxiters = options.maxiters
        self.adaptive = options.adaptive
        self.isOutOfDomain = options.isOutOfDomain
        self.controller = options.controller
        self.massMatrix = massMatrix.flatMap { m in
            // An identity matrix given explicitly is the same as none.
            (0..<n).allSatisfy { i in (0..<n).allSatisfy { j in m[i + j * n] == (i == j ? 1 : 0) } } ? nil : m
        }
        if !options.adaptive && options.dt == nil {
            throw .invalidStepOption("adaptive: false needs dt")
        }
    }
}

extension SolveSetup {
    /// The checks of a solve that takes fixed steps (a method without an error estimate, or
    /// `adaptive: false`), shared by the array and fixed-size integrators: it needs `dt`, and a
    /// `dt` below the resolution of `t` on the span would never move `t` (the solve ran to
    /// `maxiters` in place).
    @usableFromInline package func checkFixedSteps(method: String, methodIsAdaptive: Bool) throws(DiffEqError) {
        guard !(methodIsAdaptive && adaptive) else { return }
        guard let dt else {
            throw .invalidStepOption(
                methodIsAdaptive ? "adaptive: false needs dt" : "\(method) is a fixed-step method: give dt")
        }
        let resolution = stepFloor(at: Swift.max(Swift.abs(t0), Swift.abs(t1)), dtmin: 0)
        guard dt >= resolution else {
            throw .invalidStepOption("fixed steps of dt = \(dt) cannot move t: the resolution of t on this span is \(resolution)")
        }
    }
}
