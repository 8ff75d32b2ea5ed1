import DiffEqCore

/// The algorithms of the Rosenbrock family: a ``RosenbrockTableau`` run by
/// ``RosenbrockStepper``, with a choice of how the Jacobian is obtained.
///
/// Every method solves `M du/dt = f(u, p, t)` with a constant, possibly singular mass matrix
/// (index-1 DAEs), over any scalar type (`Double`, `Float`, dual numbers).
public protocol RosenbrockAlgorithm: ODEAlgorithm, StaticODEAlgorithm, Sendable {
    var tableau: RosenbrockTableau { get }
    /// `.automatic`: the analytic Jacobian if the right-hand side has one, else forward-mode AD
    /// for a generic model, else finite differences. `.finiteDifferences` (`.centralDifferences`) forces forward (central) differences.
    /// (`∂f/∂t` is always a forward difference in `t`; see ``RosenbrockStepper``.)
    var jacobian: JacobianSource { get }
    /// How the linear systems with `W` are solved (``LinearSolver/automatic``: from the
    /// right-hand side's ``JacobianStructure``), as `linsolve` in DifferentialEquations.jl.
    var linearSolver: LinearSolver { get }
}

extension RosenbrockAlgorithm {
    public var name: String { tableau.name }
    public var linearSolver: LinearSolver { .automatic }

    /// From the orders of the embedded pair (2/3 for the second-order methods with a
    /// third-order estimate).
    public var toleranceExponent: Double? {
        DiffEqCore.toleranceExponent(order: tableau.order, embeddedOrder: tableau.embeddedOrder)
    }

    /// The stepper for `problem` (validates the options, which fixes the mass matrix).
    @inlinable
    public func makeStepper<F: ODEFunction>(
        _ problem: ODEProblem<F>, options: SolveOptions, diagnostics: RosenbrockDiagnostics = RosenbrockDiagnostics()
    ) throws(DiffEqError) -> ArrayRosenbrockStepper<F> {
        let setup = try SolveSetup(problem, options)
        return RosenbrockStepper(
            tableau: tableau, function: problem.f, count: setup.count, massMatrix: setup.massMatrix,
            jacobian: jacobian, linearSolver: linearSolver, diagnostics: diagnostics)
    }

    /// An integrator for step-by-step use (`step()`, `t`, `u`, `dt`), as `init` in
    /// DifferentialEquations.jl. Keep `diagnostics` to learn why an integration that ended
    /// with `.unstable` stopped (``RosenbrockDiagnostics/failureMessage(method:)`` is non-nil
    /// when `W` stayed singular).
    @inlinable
    public func makeIntegrator<F: ODEFunction>(
        _ problem: ODEProblem<F>, options: SolveOptions = .init(),
        diagnostics: RosenbrockDiagnostics = RosenbrockDiagnostics()
    ) throws(DiffEqError) -> ODEIntegrator<ArrayRosenbrockStepper<F>> {
        try ODEIntegrator(
            problem, stepper: makeStepper(problem, options: options, diagnostics: diagnostics), options: options)
    }

    /// Solves `problem`. A solve that ends because `W` stayed singular returns
    /// ``ReturnCode/convergenceFailure`` with a message saying where
    /// (``RosenbrockStepper/explainFailure(_:)``).
    @inlinable
    public func solve<F: ODEFunction>(_ problem: ODEProblem<F>, options: SolveOptions) throws(DiffEqError)
        -> ODESolution<F.Scalar>
    {
        var integrator = try makeIntegrator(problem, options: options)
        return integrator.solve()
    }
}

extension RosenbrockAlgorithm {
    /// An integrator for a fixed-size state, for step-by-step use: the one loop
    /// (``ODEIntegrator``) with this method's stepper on the fixed-size linear system.
    @inlinable
    public func makeIntegrator<F: StaticODEFunction>(_ problem: StaticODEProblem<F>, options: SolveOptions = .init())
        throws(DiffEqError) -> ODEIntegrator<StaticRosenbrockStepper<F>> where F.State.Scalar: StaticRosenbrockScalar
    {
        try ODEIntegrator(
            problem,
            stepper: StaticRosenbrockStepper(
                tableau: tableau, function: problem.f, jacobian: jacobian, massMatrix: problem.massMatrix),
            options: options)
    }

    /// Solves a fixed-size problem with this method. A solve that ends because `W` stayed
    /// singular returns ``ReturnCode/convergenceFailure`` with a message saying where.
    @inlinable
    public func solve<F: StaticODEFunction>(_ problem: StaticODEProblem<F>, options: SolveOptions)
        throws(DiffEqError) -> StaticODESolution<F.State> where F.State.Scalar: StaticRosenbrockScalar
    {
        var integrator = try makeIntegrator(problem, options: options)
        return integrator.solve()
    }
}
