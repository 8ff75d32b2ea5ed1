import DiffEqCore

/// The algorithms of this family: a tableau run by ``SDIRKStepper`` (arrays) or
/// ``StaticSDIRKStepper`` (fixed-size states, ``StaticODEProblem``), with a choice of Jacobian
/// and Newton settings.
///
/// ```swift
/// let sol = try solve(TestProblems.rober(), KenCarp4(), reltol: 1e-6, abstol: 1e-10)
/// var integrator = try Kvaerno5().makeIntegrator(TestProblems.hires(), options: SolveOptions(reltol: 1e-6))
/// while integrator.step() {}
/// ```
public protocol SDIRKAlgorithm: ODEAlgorithm, StaticODEAlgorithm, Sendable {
    var tableau: SDIRKTableau { get }
    /// How `J = ∂f/∂u` is obtained (``JacobianSource/automatic``: analytic, else forward-mode AD
    /// for generic models, else finite differences).
    var jacobian: JacobianSource { get }
    /// The Newton iteration and reuse settings.
    var newton: SDIRKNewtonOptions { get }
    /// How the linear systems with `W` are solved (``LinearSolver/automatic``: from the
    /// right-hand side's ``JacobianStructure``), as `linsolve` in DifferentialEquations.jl.
    var linearSolver: LinearSolver { get }
}

extension SDIRKAlgorithm {
    public var name: String { tableau.name }
    public var linearSolver: LinearSolver { .automatic }

    /// From the orders of the embedded pair (2/3 for the second-order methods with a
    /// third-order estimate).
    public var toleranceExponent: Double? {
        DiffEqCore.toleranceExponent(order: tableau.order, embeddedOrder: tableau.embeddedOrder)
    }

    /// An integrator for step-by-step use (`step()`, `t`, `u`, `dt`), as `init` in
    /// DifferentialEquations.jl.
    @inlinable
    public func makeIntegrator<F: ODEFunction>(_ problem: ODEProblem<F>, options: SolveOptions = .init())
        throws(DiffEqError) -> ODEIntegrator<ArraySDIRKStepper<F>>
    {
        let n = problem.resolvedInitialState().count
        let stepper = ArraySDIRKStepper(
            tableau: tableau, function: problem.f, count: n, jacobian: jacobian, newton: newton,
            fixedStep: !options.adaptive, linearSolver: linearSolver)
        return try ODEIntegrator(problem, stepper: stepper, options: options)
    }

    /// Solves `problem`. When the solve stops because the implicit stages could not be solved
    /// (Newton divergence or a singular iteration matrix at every step size tried), the return
    /// code is ``ReturnCode/convergenceFailure`` and the message says why, where, and how often
    /// (``SDIRKStepper/explainFailure(_:)``).
    @inlinable
    public func solve<F: ODEFunction>(_ problem: ODEProblem<F>, options: SolveOptions) throws(DiffEqError)
        -> ODESolution<F.Scalar>
    {
        var integrator = try makeIntegrator(problem, options: options)
        return integrator.solve()
    }
}

extension SDIRKAlgorithm {
    /// An integrator for a fixed-size state, for step-by-step use: the one loop
    /// (``ODEIntegrator``) with this method's fixed-size stepper (``StaticSDIRKStepper``).
    @inlinable
    public func makeIntegrator<F: StaticODEFunction>(_ problem: StaticODEProblem<F>, options: SolveOptions = .init())
        throws(DiffEqError) -> ODEIntegrator<StaticSDIRKStepper<F>> where F.State.Scalar: StaticRosenbrockScalar
    {
        let stepper = StaticSDIRKStepper(
            tableau: tableau, function: problem.f, jacobian: jacobian, newton: newton, fixedStep: !options.adaptive)
        return try ODEIntegrator(problem, stepper: stepper, options: options)
    }

    /// Solves a fixed-size problem with this method; repeated stage-solve failures end it with
    /// ``ReturnCode/convergenceFailure`` and the array form's message.
    @inlinable
    public func solve<F: StaticODEFunction>(_ problem: StaticODEProblem<F>, options: SolveOptions)
        throws(DiffEqError) -> StaticODESolution<F.State> where F.State.Scalar: StaticRosenbrockScalar
    {
        var integrator = try makeIntegrator(problem, options: options)
        return integrator.solve()
    }
}

extension SDIRKNewtonOptions {
    /// Throws unless every setting lies where the iteration means something: at least one
    /// iteration (`maxIterations: -1` trapped in the stage loop's range, `0` failed every stage
    /// with "contraction rate 0.0"), `0 < kappa ≤ 1` (above 1 the iteration error could exceed
    /// the step's error tolerance), a rate in `[0, 1]` (a contraction rate is below 1) and a
    /// finite threshold `≥ 0`.
    public func validate(method: String) throws(DiffEqError) {
        guard maxIterations >= 1 else {
            throw .invalidStepOption("\(method): newton.maxIterations must be at least 1, got \(maxIterations)")
        }
        guard kappa.isFinite, kappa > 0, kappa <= 1 else {
            throw .invalidStepOption("\(method): newton.kappa must lie in (0, 1], got \(kappa)")
        }
        guard slowConvergenceRate >= 0, slowConvergenceRate <= 1 else {
            throw .invalidStepOption("\(method): newton.slowConvergenceRate must lie in [0, 1], got \(slowConvergenceRate)")
        }
        guard refactorThreshold.isFinite, refactorThreshold >= 0 else {
            throw .invalidStepOption("\(method): newton.refactorThreshold must be finite and >= 0, got \(refactorThreshold)")
        }
    }
}
