// Regression: the integrator's settable `u` and `dt` with bad values. `u` of another length hit
// a precondition (a trap); `dt` of the wrong sign stepped out of the span and still ended in
// `.success`; `dt` zero or NaN ran to `maxiters` without moving. Now: the wrong sign is taken as
// a magnitude, and a bad length or a zero/NaN dt ends the integration with `.failure` and a
// message.
import DiffEq
import Testing
import ProblemLibrary

private struct SetterDecay: ODEModel {
    func rhs<S: DiffEqScalar>(_ du: inout [S], _ u: [S], _ p: [S], _ t: S) { for i in u.indices { du[i] = -u[i] } }
}

@Suite struct IntegratorSetterTests {
    fileprivate let problem = ODEProblem(model: SetterDecay(), u0: [1.0, 2.0], tspan: (0, 1), p: [])

    @Test func settingUToAnotherLengthFailsWithAMessage() throws {
        var integ = try Tsit5().makeIntegrator(problem, options: .init())
        integ.step()
        let before = integ.u
        integ.u = [1, 2, 3]
        #expect(integ.u == before)
        #expect(integ.retcode == .failure)
        #expect(integ.message?.contains("length") == true)
        #expect(integ.step() == false)
    }

    @Test(arguments: [0.0, .nan, .infinity]) func settingDtToZeroOrNonFiniteFailsWithAMessage(_ dt: Double) throws {
        var integ = try Tsit5().makeIntegrator(problem, options: .init())
        integ.dt = dt
        let sol = integ.solve()
        #expect(sol.retcode == .failure)
        #expect(sol.message?.contains("dt") == true)
        #expect(sol.stats.naccept == 0)
        var fixed = try Tsit5().makeIntegrator(TestProblems.staticLorenz(), options: .init())
        fixed.dt = dt
        #expect(fixed.solve().retcode == .failure)
    }

    @Test func aDtOfTheWrongSignStepsInsideTheSpan() throws {
        var integ = try Tsit5().makeIntegrator(problem, options: .init(maxiters: 1000))
        integ.dt = -0.1
        #expect(integ.dt == 0.1)
        let sol = integ.solve()
        #expect(sol.retcode == .success)
        #expect(sol.t.allSatisfy { $0 >= 0 && $0 <= 1 })
        var backward = try Rodas5P().makeIntegrator(problem.remake(tspan: (1, 0)), options: .init())
        backward.dt = 0.1
        #expect(backward.dt == -0.1)
        let back = backward.solve()
        #expect(back.retcode == .success && back.t.allSatisfy { $0 >= 0 && $0 <= 1 })
        var fixed = try Tsit5().makeIntegrator(TestProblems.staticLorenz(), options: .init())
        fixed.dt = -0.01
        let f = fixed.solve()
        #expect(f.retcode == .success && f.t.allSatisfy { $0 >= 0 && $0 <= 10 })
    }

    /// Fuzzer case 1:7497: `t` set to the end of the span, then `solve()` with `saveat`, returned
    /// `.success` with NaN states (the save code interpolated inside a zero-length step). A time
    /// at or past the end, before the start or non-finite now ends the integration with a
    /// failure and a message, as `reinit(t0:)` refuses it.
    @Test(arguments: [1.0, 1.5, -0.5, .nan, .infinity]) func settingTOutsideTheSpanFailsWithAMessage(_ t: Double) throws {
        var integ = try DP5().makeIntegrator(problem, options: .init(saveat: .times([0, 0.38, 0.54, 0.64])))
        integ.t = t
        #expect(integ.t == 0)
        let sol = integ.solve()
        #expect(sol.retcode == .failure)
        #expect(sol.message?.contains("t was set") == true)
        #expect(sol.u.allSatisfy { $0.allSatisfy(\.isFinite) })
    }

    /// `t` set forward inside the span: the save times it jumped over were never integrated, so
    /// they are skipped rather than extrapolated to; the later ones are saved from the new start.
    @Test func settingTForwardSkipsTheSaveTimesJumpedOver() throws {
        var integ = try DP5().makeIntegrator(problem, options: .init(reltol: 1e-8, abstol: .scalar(1e-10), saveat: .times([0.1, 0.3, 0.6, 0.9])))
        integ.t = 0.5
        let sol = integ.solve()
        #expect(sol.retcode == .success)
        #expect(sol.t == [0.6, 0.9])
        // The state at 0.5 was kept (u0), so u(t) = u0·exp(-(t - 0.5)).
        for (t, u) in zip(sol.t, sol.u) {
            #expect(abs(u[0] - exp(-(t - 0.5))) < 1e-7 && abs(u[1] - 2 * exp(-(t - 0.5))) < 1e-7)
        }
    }
}
