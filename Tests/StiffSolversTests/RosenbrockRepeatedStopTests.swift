import DiffEqCore
import StiffSolvers
import Testing

/// A stop given more than once in `tstops` is one stop. Found by the fuzzer (seed 1, cases 2340,
/// 4904 and 7373: Rosenbrock23 on fixed-size states with a stop listed twice): the loop landed on
/// the stop, then was asked for a step of length zero to its copy. A Rosenbrock method cannot
/// take it (`W = M/(γh) − J` with `1/h = ∞`): the fixed-size form then reported a singular `W`
/// (`.convergenceFailure`), the array form and, after the two were merged, both forms stopped
/// as `.unstable` ("f returned NaN or Inf") although `f` never did. OrdinaryDiffEq lands on a
/// repeated stop once and goes on, and so must the solve here: the same solution, bit for bit,
/// as with the stop given once.
@Suite struct RosenbrockRepeatedStopTests {
    /// Van der Pol, μ = 1, over (0, 1): not stiff, so any failure is the stops' doing.
    static let span = (0.0, 1.0)
    static let once: [Double] = [0.75, 0.25]
    static let repeated: [Double] = [0.25, 0.75, 0.25, 0.75, 0.75]

    static func options(_ stops: [Double]) -> SolveOptions {
        SolveOptions(reltol: 1e-6, abstol: 1e-6, tstops: stops)
    }

    static let arrayProblem = ODEProblem(
        f: { du, u, _, _ in
            du[0] = u[1]
            du[1] = (1 - u[0] * u[0]) * u[1] - u[0]
        }, u0: [2.0, 0.0], tspan: span)

    static let staticProblem = StaticODEProblem(
        StaticClosureRHS { (u: StaticVector<2>, _: Double, _: Double) -> StaticVector<2> in
            [u[1], (1 - u[0] * u[0]) * u[1] - u[0]]
        }, u0: [2, 0], tspan: span, p: 0)

    /// The solve with the repeated stops succeeded and equals the one with each stop once, bit
    /// for bit (times, states, statistics), landing on each stop once.
    static func expectOneStop(
        _ sol: (ReturnCode, String?, [Double], [[Double]], SolverStats),
        reference: (ReturnCode, [Double], [[Double]], SolverStats)
    ) {
        #expect(reference.0 == .success)
        #expect(sol.0 == .success, "\(sol.1 ?? "")")
        #expect(sol.2 == reference.1)
        #expect(sol.3 == reference.2)
        #expect(sol.4 == reference.3)
        for stop in once { #expect(sol.2.filter { $0 == stop }.count == 1) }
    }

    @Test(arguments: RosMethod.allCases)
    func repeatedStopIsOneStopForArrays(method: RosMethod) throws {
        let reference = try method.solve(Self.arrayProblem, options: Self.options(Self.once))
        let sol = try method.solve(Self.arrayProblem, options: Self.options(Self.repeated))
        Self.expectOneStop(
            (sol.retcode, sol.message, sol.t, sol.u, sol.stats),
            reference: (reference.retcode, reference.t, reference.u, reference.stats))
    }

    @Test(arguments: RosMethod.allCases)
    func repeatedStopIsOneStopForFixedSizeStates(method: RosMethod) throws {
        let reference = try method.solveStatic(Self.staticProblem, options: Self.options(Self.once))
        let sol = try method.solveStatic(Self.staticProblem, options: Self.options(Self.repeated))
        Self.expectOneStop(
            (sol.retcode, sol.message, sol.t, sol.u.map(\.array), sol.stats),
            reference: (reference.retcode, reference.t, reference.u.map(\.array), reference.stats))
        // And the array form's solution, as for every fixed-size Rosenbrock solve.
        StaticRosenbrockTests.expectSame(
            sol, try method.solve(Self.arrayProblem, options: Self.options(Self.repeated)), "repeated stops, \(method)")
    }

    /// Stepping by hand: the integrator passes the repeated stop as one.
    @Test func integratorPassesARepeatedStop() throws {
        var integrator = try Rosenbrock23().makeIntegrator(
            Self.staticProblem, options: Self.options(Self.repeated))
        var times: [Double] = []
        while integrator.step() { times.append(integrator.t) }
        #expect(integrator.retcode == .success, "\(integrator.message ?? "")")
        #expect(times.filter { $0 == 0.25 }.count == 1)
        #expect(times.filter { $0 == 0.75 }.count == 1)
    }
}
