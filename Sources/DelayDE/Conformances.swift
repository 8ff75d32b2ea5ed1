import DiffEqCore
import ExplicitRK
import StiffSolvers

// Which native methods the method of steps wraps: those with a dense output of their own. Each
// family builds its integrator with its public `makeIntegrator`; the driver steps it.

extension MethodOfStepsAlgorithm where Self: ExplicitRKAlgorithm {
    public var methodOrder: Int { tableau.order }

    @inlinable
    public func runMethodOfSteps<D: DDEFunction>(
        _ problem: ODEProblem<DelayedRHS<D>>, options: SolveOptions, driver: inout MethodOfStepsDriver<D>
    ) throws(DiffEqError) -> ODESolution<D.Scalar> {
        var integrator = try makeIntegrator(problem, options: options)
        return driver.run(&integrator)
    }
}

extension MethodOfStepsAlgorithm where Self: RosenbrockAlgorithm {
    public var methodOrder: Int { tableau.order }

    @inlinable
    public func runMethodOfSteps<D: DDEFunction>(
        _ problem: ODEProblem<DelayedRHS<D>>, options: SolveOptions, driver: inout MethodOfStepsDriver<D>
    ) throws(DiffEqError) -> ODESolution<D.Scalar> {
        var integrator = try makeIntegrator(problem, options: options)
        return driver.run(&integrator)
    }
}

extension MethodOfStepsAlgorithm where Self: SDIRKAlgorithm {
    public var methodOrder: Int { tableau.order }

    @inlinable
    public func runMethodOfSteps<D: DDEFunction>(
        _ problem: ODEProblem<DelayedRHS<D>>, options: SolveOptions, driver: inout MethodOfStepsDriver<D>
    ) throws(DiffEqError) -> ODESolution<D.Scalar> {
        var integrator = try makeIntegrator(problem, options: options)
        return driver.run(&integrator)
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
