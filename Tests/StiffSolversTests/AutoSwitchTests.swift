import Glibc
import Testing
import DiffEqCore
import ExplicitRK
import ProblemLibrary
import StiffSolvers
import SundialsBridge

@Suite struct AutoSwitchTests {
    @Test func explicitStabilityBoundariesArePublishedValues() {
        // Classical RK4: the real stability interval is [-2.785, 0] (HNW I, §IV.2, Fig. 2.1).
        #expect(abs(ButcherTableau.rk4.realStabilityBoundary - 2.785293563405) < 1e-6)
        // Forward Euler: |1 + z| ≤ 1 reaches -2.
        #expect(abs(ButcherTableau.euler.realStabilityBoundary - 2) < 1e-9)
        // Tsit5's interval is about [-3.5, 0].
        #expect(abs(ButcherTableau.tsit5.realStabilityBoundary - 3.5) < 0.1)
    }

    @Test func nonStiffProblemStaysOnTheExplicitMethod() throws {
        var integ = try AutoTsit5(Rosenbrock23()).makeIntegrator(
            TestProblems.lotkaVolterra(), options: .init(reltol: 1e-8, abstol: 1e-10))
        let sol = integ.solve()
        #expect(sol.retcode == .success)
        let switches = integ.method.switches
        #expect(switches == 0)
        let ref = try solve(TestProblems.lotkaVolterra(), Vern9(), reltol: 1e-13, abstol: 1e-13).u.last!
        for i in 0..<2 { #expect(abs(sol.u.last![i] - ref[i]) < 1e-6) }
    }

    @Test func stiffProblemSwitchesAndMatchesTheReference() throws {
        // ROBER to t = 1e5: hopeless for Tsit5 alone (it stalls in tiny steps), routine after the
        // switch to Rosenbrock23.
        let prob = TestProblems.rober(tEnd: 1e5)
        var integ = try AutoTsit5(Rosenbrock23()).makeIntegrator(prob, options: .init(reltol: 1e-6, abstol: 1e-10))
        let sol = integ.solve()
        #expect(sol.retcode == .success)
        let switches = integ.method.switches
        #expect(switches >= 1)
        #expect(sol.stats.naccept < 5_000)
        let tsit5Alone = try solve(prob, Tsit5(), reltol: 1e-6, abstol: 1e-10, maxiters: 20_000)
        #expect(tsit5Alone.retcode == .maxIters)
        let ref = try solve(prob, CVODE_BDF(), reltol: 1e-10, abstol: 1e-14).u.last!
        for i in 0..<3 { #expect(abs(sol.u.last![i] - ref[i]) <= 1e-4 * abs(ref[i]) + 1e-9, "component \(i)") }
        let vern = try solve(prob, AutoVern7(Rodas5P()), reltol: 1e-6, abstol: 1e-10)
        #expect(vern.retcode == .success && vern.algorithm == "AutoVern7(Rodas5P)")
        for i in 0..<3 { #expect(abs(vern.u.last![i] - ref[i]) <= 1e-4 * abs(ref[i]) + 1e-9, "component \(i)") }
    }

    @Test func stiffnessThatComesAndGoesSwitchesBothWays() throws {
        // u' = -λ(t) (u - cos t) - sin t, u(0) = 2: u = cos t + e^(-∫λ), with λ(t) = 1 + 1e4
        // for t < 5 falling smoothly to 1 after (a tanh ramp at t = 5): stiff, then not.
        let prob = ODEProblem(
            f: { du, u, p, t in
                let lambda = 1 + 5e3 * (1 - tanh(10 * (t - 5)))
                du[0] = -lambda * (u[0] - cos(t)) - sin(t)
            }, u0: [2.0], tspan: (0, 20))
        var integ = try AutoTsit5(Rosenbrock23()).makeIntegrator(prob, options: .init(reltol: 1e-6, abstol: 1e-8))
        let sol = integ.solve()
        #expect(sol.retcode == .success)
        let (switches, endsStiff) = (integ.method.switches, integ.method.isUsingStiffMethod)
        #expect(switches >= 2, "switched \(switches) times")
        #expect(!endsStiff)
        // Far from t = 0 the transient is gone: u = cos t, also through the dense output.
        for t in [3.0, 7.5, 12.25, 19.0] { #expect(abs(try sol(t)[0] - cos(t)) < 1e-5, "u(\(t))") }
        #expect(abs(sol.u.last![0] - cos(20.0)) < 1e-5)
    }
}
