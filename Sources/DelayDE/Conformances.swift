import DiffEqCore
import ExplicitRK
import StiffSolvers

// Which native methods the method of steps wraps: those with a dense output of their own. Each
// family builds its stepper; the driver wraps it (fixed-point iteration) and steps it.

extension MethodOfStepsAlgorithm where Self: ExplicitRKAlgorithm {
    public var methodOrder: Int { tableau.order }

    @inlinable
    public func runMethodOfSteps<D: DDEFunction>(
        _ problem: ODEProblem<DelayedRHS<D>>, options: SolveOptions, driver: inout MethodOfStepsDriver<D>
    ) throws(DiffEqError) -> ODESolution<D.Scalar> {
        let stepper = ExplicitRKStepper<DelayedRHS<D>>(
            tableau: tableau, count: problem.resolvedInitialState().count, estimatingError: options.adaptive)
        return try driver.run(problem, stepper: consume stepper, options: options)
    }
}

extension MethodOfStepsAlgorithm where Self: RosenbrockAlgorithm {
    public var methodOrder: Int { tableau.order }

    @inlinable
    public func runMethodOfSteps<D: DDEFunction>(
        _ problem: ODEProblem<DelayedRHS<D>>, options: SolveOptions, driver: inout MethodOfStepsDriver<D>
    ) throws(DiffEqError) -> ODESolution<D.Scalar> {
        try driver.run(problem, stepper: makeStepper(problem, options: options), options: options)
    }
}

extension MethodOfStepsAlgorithm where Self: SDIRKAlgorithm {
    public var methodOrder: Int { tableau.order }

    @inlinable
    public func runMethodOfSteps<D: DDEFunction>(
        _ problem: ODEProblem<DelayedRHS<D>>, options: SolveOptions, driver: inout MethodOfStepsDriver<D>
    ) throws(DiffEqError) -> ODESolution<D.Scalar> {
        // The SDIRK stepper's initialiser is internal to StiffSolvers: take it from an integrator.
        // Its Newton iterations take the delayed block into their Jacobian (`jacobianCoupling`).
        driver.history.jacobianCoupling = true
        return try driver.run(problem, stepper: makeIntegrator(problem, options: options).method, options: options)
    }
}

extension Tsit5: MethodOfStepsAlgorithm {}
extension DP5: MethodOfStepsAlgorithm {}
extension BS3: MethodOfStepsAlgorithm {}
extension Vern6: MethodOfStepsAlgorithm {}
extension Vern7: MethodOfStepsAlgorithm {}
extension Vern8: MethodOfStepsAlgorithm {}
extension Vern9: MethodOfStepsAlgorithm {}
extension Rosenbrock23: MethodOfStepsAlgorithm {}
extension Rodas4: MethodOfStepsAlgorithm {}
extension Rodas5P: MethodOfStepsAlgorithm {}
extension KenCarp4: MethodOfStepsAlgorithm {}
extension Kvaerno5: MethodOfStepsAlgorithm {}
extension TRBDF2: MethodOfStepsAlgorithm {}
