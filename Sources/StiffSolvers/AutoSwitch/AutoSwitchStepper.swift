import DiffEqCore
import ExplicitRK

/// Runs a non-stiff and a stiff method on one integration, switching between them on a
/// stiffness estimate (DifferentialEquations.jl's `AutoSwitch`, after the stiffness detection of
/// Hairer & Wanner's DOPRI5: Solving ODEs II, §IV.2, and Shampine's remarks on it).
///
/// After each accepted step the active method's estimate of the dominant eigenvalue `ρ` is
/// compared with the explicit method's stability boundary `β` (where its region crosses the
/// negative real axis): `|h|ρ > stiffTolerance·β` for `maxStiffSteps` consecutive steps
/// switches to the stiff method; `|h|ρ < nonStiffTolerance·β` for `maxNonStiffSteps`
/// consecutive steps switches back. The stiff method's `ρ` is `‖J‖∞` of its last Jacobian.
/// A switch restarts the new method from the current state (one extra `f` evaluation).
public struct AutoSwitchStepper<NonStiff: ODEStepper, Stiff: ODEStepper>: ODEStepper
where NonStiff.Function == Stiff.Function, NonStiff.Function: ODEFunction {
    public typealias Function = NonStiff.Function
    public typealias Scalar = Function.Scalar

    public var nonStiff: NonStiff
    public var stiff: Stiff
    public let parameters: AutoSwitchParameters
    /// Which method takes the next step.
    @usableFromInline var usingStiff = false
    /// How many switches happened.
    @usableFromInline var switchCount = 0
    @usableFromInline var lastStepByStiff = false
    @usableFromInline var pendingSwitch = false
    @usableFromInline var streak = 0
    @usableFromInline var lastDt = 0.0
    @usableFromInline var du: [Scalar]

    public init(nonStiff: NonStiff, stiff: Stiff, count n: Int, parameters: AutoSwitchParameters) {
        self.nonStiff = nonStiff
        self.stiff = stiff
        self.parameters = parameters
        du = [Scalar](repeating: .zero, count: n)
    }

    public var name: String { "Auto\(nonStiff.name)(\(stiff.name))" }
    /// Whether the stiff method takes the next step.
    public var isUsingStiffMethod: Bool { usingStiff }
    /// How many times the integration switched method.
    public var switches: Int { switchCount }
    public var isAdaptive: Bool { nonStiff.isAdaptive && stiff.isAdaptive }
    public var order: Int { usingStiff ? stiff.order : nonStiff.order }
    public var controller: PIController { usingStiff ? stiff.controller : nonStiff.controller }
    public var controllerOrder: Int { usingStiff ? stiff.controllerOrder : nonStiff.controllerOrder }
    public var stiffnessEstimate: Double { usingStiff ? stiff.stiffnessEstimate : nonStiff.stiffnessEstimate }

    /// The switching parameters and both methods' own settings.
    public func validateSettings() throws(DiffEqError) {
        try parameters.validate()
        try nonStiff.validateSettings()
        try stiff.validateSettings()
    }

    public mutating func configure(tolerance: ErrorScale) {
        nonStiff.configure(tolerance: tolerance)
        stiff.configure(tolerance: tolerance)
    }

    public mutating func start(t: Double, u: [Scalar], du: [Scalar]) {
        pendingSwitch = false
        streak = 0
        if usingStiff { stiff.start(t: t, u: u, du: du) } else { nonStiff.start(t: t, u: u, du: du) }
    }

    @inlinable
    public mutating func attempt(
        _ f: Function, _ p: [Scalar], t: Double, dt: Double, u: [Scalar], uNew: inout [Scalar],
        tolerance: ErrorScale, stats: inout SolverStats
    ) -> Double {
        if pendingSwitch {
            pendingSwitch = false
            usingStiff.toggle()
            switchCount += 1
            streak = 0
            f(&du, u, p, Scalar(t))
            stats.nf += 1
            if usingStiff { stiff.start(t: t, u: u, du: du) } else { nonStiff.start(t: t, u: u, du: du) }
        }
        lastDt = dt
        return usingStiff
            ? stiff.attempt(f, p, t: t, dt: dt, u: u, uNew: &uNew, tolerance: tolerance, stats: &stats)
            : nonStiff.attempt(f, p, t: t, dt: dt, u: u, uNew: &uNew, tolerance: tolerance, stats: &stats)
    }

    public mutating func accept() {
        lastStepByStiff = usingStiff
        if usingStiff { stiff.accept() } else { nonStiff.accept() }
        let rho = stiffnessEstimate
        guard rho.isFinite else { return }
        let beta = nonStiff.stabilityBoundary
        let z = Swift.abs(lastDt) * rho
        if usingStiff {
            streak = z < parameters.nonStiffTolerance * beta ? streak + 1 : 0
            if streak >= parameters.maxNonStiffSteps { pendingSwitch = true }
        } else {
            streak = z > parameters.stiffTolerance * beta ? streak + 1 : 0
            if streak >= parameters.maxStiffSteps { pendingSwitch = true }
        }
    }

    public mutating func interpolate(
        _ f: Function, _ p: [Scalar], theta: Double, t: Double, dt: Double, u: [Scalar], uNew: [Scalar],
        into out: inout [Scalar], stats: inout SolverStats
    ) {
        if lastStepByStiff {
            stiff.interpolate(f, p, theta: theta, t: t, dt: dt, u: u, uNew: uNew, into: &out, stats: &stats)
        } else {
            nonStiff.interpolate(f, p, theta: theta, t: t, dt: dt, u: u, uNew: uNew, into: &out, stats: &stats)
        }
    }

    /// The method that took the step prepares its own interpolant.
    @inlinable
    public mutating func prepareDenseStep(
        _ f: Function, _ p: [Scalar], t: Double, dt: Double, u: [Scalar], stats: inout SolverStats
    ) {
        if lastStepByStiff {
            stiff.prepareDenseStep(f, p, t: t, dt: dt, u: u, stats: &stats)
        } else {
            nonStiff.prepareDenseStep(f, p, t: t, dt: dt, u: u, stats: &stats)
        }
    }

    /// The method that took the step appends its own interpolant.
    @inlinable
    public mutating func appendDenseStep(
        _ f: Function, _ p: [Scalar], t: Double, dt: Double, end: Double, u: [Scalar], uNew: [Scalar],
        to dense: inout PiecewisePolynomial<Scalar>, stats: inout SolverStats
    ) {
        if lastStepByStiff {
            stiff.appendDenseStep(f, p, t: t, dt: dt, end: end, u: u, uNew: uNew, to: &dense, stats: &stats)
        } else {
            nonStiff.appendDenseStep(f, p, t: t, dt: dt, end: end, u: u, uNew: uNew, to: &dense, stats: &stats)
        }
    }
}

/// When an ``AutoSwitchStepper`` switches (DifferentialEquations.jl's defaults).
public struct AutoSwitchParameters: Sendable {
    public var maxStiffSteps = 10
    public var maxNonStiffSteps = 3
    public var stiffTolerance = 0.9
    public var nonStiffTolerance = 0.9
    public init() {}

    /// Throws unless both streak lengths are at least 1 (0 switched at every step) and both
    /// tolerances are positive and finite (a NaN never switched, silently).
    public func validate() throws(DiffEqError) {
        guard maxStiffSteps >= 1, maxNonStiffSteps >= 1 else {
            throw .invalidStepOption(
                "AutoSwitch: maxStiffSteps and maxNonStiffSteps must be at least 1, got \(maxStiffSteps) and \(maxNonStiffSteps)")
        }
        guard stiffTolerance.isFinite, stiffTolerance > 0, nonStiffTolerance.isFinite, nonStiffTolerance > 0 else {
            throw .invalidStepOption(
                "AutoSwitch: stiffTolerance and nonStiffTolerance must be positive and finite, got \(stiffTolerance) and \(nonStiffTolerance)")
        }
    }
}

/// A non-stiff explicit Runge-Kutta method and a stiff Rosenbrock method switched on stiffness:
/// `AutoTsit5(Rosenbrock23())` and `AutoVern7(Rodas5P())` are the DifferentialEquations.jl names.
public struct AutoSwitch<NonStiffAlgorithm: ExplicitRKAlgorithm, StiffAlgorithm: RosenbrockAlgorithm>: ODEAlgorithm, Sendable {
    public var nonStiff: NonStiffAlgorithm
    public var stiff: StiffAlgorithm
    public var parameters: AutoSwitchParameters

    public init(nonStiff: NonStiffAlgorithm, stiff: StiffAlgorithm, parameters: AutoSwitchParameters = .init()) {
        self.nonStiff = nonStiff
        self.stiff = stiff
        self.parameters = parameters
    }

    public var name: String { "Auto\(nonStiff.name)(\(stiff.name))" }

    /// The smaller of the two methods' exponents (the safe side for an error estimate).
    public var toleranceExponent: Double? {
        guard let a = nonStiff.toleranceExponent, let b = stiff.toleranceExponent else { return nil }
        return min(a, b)
    }

    @inlinable
    public func makeIntegrator<F: ODEFunction>(_ problem: ODEProblem<F>, options: SolveOptions = .init())
        throws(DiffEqError) -> ODEIntegrator<AutoSwitchStepper<ExplicitRKStepper<F>, ArrayRosenbrockStepper<F>>>
    {
        let n = problem.resolvedInitialState().count
        var explicit = ExplicitRKStepper<F>(tableau: nonStiff.tableau, count: n)
        explicit.tracksStiffness = true
        let stepper = AutoSwitchStepper(
            nonStiff: explicit, stiff: try stiff.makeStepper(problem, options: options), count: n, parameters: parameters)
        return try ODEIntegrator(problem, stepper: stepper, options: options)
    }

    @inlinable
    public func solve<F: ODEFunction>(_ problem: ODEProblem<F>, options: SolveOptions) throws(DiffEqError)
        -> ODESolution<F.Scalar>
    {
        var integrator = try makeIntegrator(problem, options: options)
        return integrator.solve()
    }
}

/// `Tsit5` switching to `stiff` where the problem is stiff.
public func AutoTsit5<S: RosenbrockAlgorithm>(_ stiff: S) -> AutoSwitch<Tsit5, S> { AutoSwitch(nonStiff: Tsit5(), stiff: stiff) }

/// `Vern7` switching to `stiff` where the problem is stiff.
public func AutoVern7<S: RosenbrockAlgorithm>(_ stiff: S) -> AutoSwitch<Vern7, S> { AutoSwitch(nonStiff: Vern7(), stiff: stiff) }
