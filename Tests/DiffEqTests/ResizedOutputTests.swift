// Regression: a right-hand side that changes the length of `du` (the closure form can reassign
// it) trapped inside the library with "Index out of range" when shorter (in the initial step
// size, or in a stage of the method), and was silently accepted when longer. It is now handled
// as a non-finite output of f: a failure return code with a message, never a trap.
import DiffEq
import Testing
import SundialsBridge

@Suite struct ResizedOutputTests {
    static var shrinkAtOnce: ODEProblem<ClosureRHS<Double>> { ODEProblem(f: { du, u, _, _ in du = [-u[0]] }, u0: [1.0, 2.0], tspan: (0, 1)) }
    static var shrinkLater: ODEProblem<ClosureRHS<Double>> { ODEProblem(
        f: { du, u, _, t in if t > 0.3 { du = [-u[0]] } else { du[0] = -u[0]; du[1] = -u[1] } },
        u0: [1.0, 2.0], tspan: (0, 1)) }
    static var grow: ODEProblem<ClosureRHS<Double>> { ODEProblem(f: { du, u, _, _ in du = [-u[0], -u[1], 5] }, u0: [1.0, 2.0], tspan: (0, 1)) }

    @Test(arguments: [0, 1, 2]) func aResizedDuEndsTheSolveWithAMessage(_ which: Int) throws {
        let problem = [Self.shrinkAtOnce, Self.shrinkLater, Self.grow][which]
        let solutions = [
            try solve(problem, Tsit5()), try solve(problem, Vern9()), try solve(problem, RK4(), dt: 0.01),
            try solve(problem, Rodas5P()), try solve(problem, TRBDF2()), try solve(problem, KenCarp4()),
            try solve(problem, AutoTsit5(Rosenbrock23())), try solve(problem, CVODE_Adams()),
            try solve(problem, CVODE_BDF()), try solve(problem, GlobalErrorControl(DP5())),
        ]
        for sol in solutions {
            #expect(!sol.retcode.isSuccessful, "\(sol.algorithm): \(sol.retcode)")
            #expect(sol.message != nil, "\(sol.algorithm)")
            #expect(sol.u.allSatisfy { $0.count == 2 }, "\(sol.algorithm)")
        }
    }
}
