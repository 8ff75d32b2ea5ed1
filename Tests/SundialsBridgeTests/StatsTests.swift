import DiffEqCore
import SundialsBridge
import Testing

@Suite struct StatsTests {
    @Test func bdfStatisticsArePlausible() throws {
        let counter = CallCounter()
        let prob = ODEProblem(
            f: { (du: inout [Double], u: [Double], p: [Double], _: Double) in
                counter.increment()
                du[0] = -p[0] * u[0] + p[2] * u[1] * u[2]
                du[1] = p[0] * u[0] - p[1] * u[1] * u[1] - p[2] * u[1] * u[2]
                du[2] = p[1] * u[1] * u[1]
            },
            u0: [1, 0, 0], tspan: (0, 1e5), p: [0.04, 3e7, 1e4])
        let sol = try solve(prob, CVODE_BDF(), options: SolveOptions(reltol: 1e-6, abstol: 1e-10))
        let s = sol.stats
        #expect(sol.retcode == .success)
        // Every f call is counted (CVODE's and its difference quotients; the dense output
        // evaluates none).
        #expect(s.nf == counter.count)
        #expect(s.naccept > 0 && s.naccept == sol.t.count - 1)
        #expect(s.nf > s.naccept)
        #expect(s.njacs > 0 && s.njacs < s.naccept)
        #expect(s.nluFactorizations >= s.njacs)
        #expect(s.nnonliniter >= s.naccept)
        #expect(s.nlinsolves == s.nnonliniter)
        #expect(s.nreject >= 0 && s.nreject < s.naccept)
        #expect(s.nnonlinconvfail <= s.nreject)
    }

    @Test func adamsFixedPointUsesNoLinearAlgebra() throws {
        let counter = CallCounter()
        let sol = try solve(decayProblem(counter: counter), CVODE_Adams(), options: SolveOptions(reltol: 1e-8))
        let s = sol.stats
        #expect(sol.retcode == .success)
        #expect(s.nf == counter.count)
        #expect(s.njacs == 0 && s.nluFactorizations == 0 && s.nlinsolves == 0)
        #expect(s.naccept > 0 && s.nnonliniter >= s.naccept)
    }
}
