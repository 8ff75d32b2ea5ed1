import Glibc
import Testing
import DiffEqCore
import ExplicitRK

/// A ball dropped from height `h0` under gravity `g`, bouncing with restitution `e`:
/// u = [height, velocity].
private func ball(h0: Double = 50, tEnd: Double = 15) -> ODEProblem<ClosureRHS<Double>> {
    ODEProblem(f: { du, u, p, t in du[0] = u[1]; du[1] = -p[0] }, u0: [h0, 0], tspan: (0, tEnd), p: [9.81])
}

/// Analytic bounce times: the first impact at sqrt(2 h0/g), each flight after the k-th bounce
/// lasting 2 e^k v1 / g.
private func bounceTimes(h0: Double, g: Double, e: Double, until tEnd: Double) -> [Double] {
    let t1 = (2 * h0 / g).squareRoot()
    let v1 = g * t1
    var times = [t1]
    var k = 1.0
    while true {
        let next = times.last! + 2 * pow(e, k) * v1 / g
        if next > tEnd { break }
        times.append(next)
        k += 1
    }
    return times
}

@Suite struct CallbackTests {
    @Test func bouncingBallMatchesAnalyticBounceTimes() throws {
        let e = 0.9
        let bounce = ContinuousCallback<Double>(
            condition: { u, t, p in u[0] }, upcrossing: nil,
            downcrossing: { ctx in ctx.u[1] = -e * ctx.u[1] })
        let sol = try solve(ball(), Tsit5(), reltol: 1e-10, abstol: 1e-10, callback: CallbackSet(bounce))
        #expect(sol.retcode == .success)
        let expected = bounceTimes(h0: 50, g: 9.81, e: e, until: 15)
        // Event times are saved twice (before and after the affect).
        var events: [Double] = []
        for i in 1..<sol.t.count where sol.t[i] == sol.t[i - 1] { events.append(sol.t[i]) }
        #expect(events.count == expected.count)
        for (a, b) in zip(events, expected) { #expect(abs(a - b) < 1e-10, "bounce at \(a), analytic \(b)") }
        // The dense output follows the jump: just after a bounce the velocity points up.
        let after = try sol(expected[0] + 1e-6)
        #expect(after[1] > 0)
        #expect(sol.u.allSatisfy { $0[0] > -1e-9 })
    }

    @Test func eventThatChangesNothingKeepsTheAccuracy() throws {
        // u' = -u on [0, 10]: exact e^-10. A continuous callback at t = 3.3 whose affect does
        // nothing cuts one step; the method must restart from the interpolated state, not reuse
        // the last stage of the uncut step (which raised the end error from 4.4e-12 to 6.2e-9).
        let prob = ODEProblem(f: { du, u, p, t in du[0] = -u[0] }, u0: [1.0], tspan: (0, 10))
        let exact = exp(-10.0)
        let plain = try solve(prob, Tsit5(), reltol: 1e-10, abstol: 1e-14)
        let noop = ContinuousCallback<Double>(condition: { u, t, p in t - 3.3 }, affect: { _ in })
        let cut = try solve(prob, Tsit5(), reltol: 1e-10, abstol: 1e-14, callback: CallbackSet(noop))
        #expect(cut.retcode == .success)
        let errPlain = abs(plain.u.last![0] - exact) / exact
        let errCut = abs(cut.u.last![0] - exact) / exact
        #expect(errCut < 10 * max(errPlain, 1e-12), "relative end error \(errCut) with the event, \(errPlain) without")
        #expect(cut.stats.nreject <= plain.stats.nreject + 2)
    }

    @Test func terminatingEventStopsAtTheRightTime() throws {
        // u' = 1, u(0) = 0: u reaches 0.37 at t = 0.37.
        let prob = ODEProblem(f: { du, u, p, t in du[0] = 1 }, u0: [0.0], tspan: (0, 1))
        let stop = ContinuousCallback<Double>(condition: { u, t, p in u[0] - 0.37 }, affect: { $0.terminate() })
        let sol = try solve(prob, Tsit5(), callback: CallbackSet(stop))
        #expect(sol.retcode == .terminated)
        #expect(abs(sol.t.last! - 0.37) < 1e-12)
        // Exponential decay hits a level at t = ln 2.
        let decay = ODEProblem(f: { du, u, p, t in du[0] = -u[0] }, u0: [1.0], tspan: (0, 5))
        let half = ContinuousCallback<Double>(condition: { u, t, p in u[0] - 0.5 }, affect: { $0.terminate() })
        let d = try solve(decay, Tsit5(), reltol: 1e-10, abstol: 1e-12, callback: CallbackSet(half))
        #expect(abs(d.t.last! - log(2.0)) < 1e-9)
    }

    @Test func discreteCallbackChangesAParameter() throws {
        // u' = p u with p switched from -1 to +1 after t passes 1 (checked after each step, so
        // the switch happens at the first step end after t = 1; make that exactly 1 with a tstop).
        let prob = ODEProblem(f: { du, u, p, t in du[0] = p[0] * u[0] }, u0: [1.0], tspan: (0, 2), p: [-1])
        let flip = DiscreteCallback<Double>(condition: { u, t, p in t == 1 }, affect: { $0.p[0] = 1 })
        let sol = try solve(prob, Tsit5(), reltol: 1e-10, abstol: 1e-12, tstops: [1], callback: CallbackSet(flip))
        #expect(sol.retcode == .success)
        // u(1) = e^-1, then grows back: u(2) = e^-1 e^1 = 1.
        #expect(abs(sol.u.last![0] - 1) < 1e-8)
        #expect(abs(try sol(0.5)[0] - exp(-0.5)) < 1e-8)
        #expect(abs(try sol(1.5)[0] - exp(-0.5)) < 1e-8)
    }

    @Test func eventsBackwardInTime() throws {
        // u' = -1 from u(1) = 0 backward: u(t) = 1 - t, reaches 0.25 at t = 0.75.
        let prob = ODEProblem(f: { du, u, p, t in du[0] = -1 }, u0: [0.0], tspan: (1, 0))
        let hit = ContinuousCallback<Double>(condition: { u, t, p in u[0] - 0.25 }, affect: { $0.terminate() })
        let sol = try solve(prob, Tsit5(), callback: CallbackSet(hit))
        #expect(sol.retcode == .terminated)
        #expect(abs(sol.t.last! - 0.75) < 1e-12)
    }

    @Test func integratorAdvanceAndReinit() throws {
        let prob = ODEProblem(f: { du, u, p, t in du[0] = -u[0] }, u0: [1.0], tspan: (0, 3))
        var integ = try Tsit5().makeIntegrator(prob, options: .init(reltol: 1e-10, abstol: 1e-12))
        integ.advance(to: 1.25)
        #expect(integ.t == 1.25)
        #expect(abs(integ.u[0] - exp(-1.25)) < 1e-9)
        integ.p = []
        integ.advance(to: 2)
        #expect(integ.t == 2)
        let steps = integ.stats.naccept
        try integ.reinit(u0: [2.0])
        #expect(throws: DiffEqError.dimensionMismatch(what: "reinit u0", expected: 1, got: 2)) { try integ.reinit(u0: [1, 2]) }
        #expect(integ.t == 0 && integ.u == [2.0] && integ.stats.naccept == 0)
        let sol = integ.solve()
        #expect(sol.retcode == .success)
        #expect(abs(sol.u.last![0] - 2 * exp(-3.0)) < 1e-9)
        #expect(steps > 0)
    }
}

@Test func anAffectThatChangesTheStateLengthEndsTheSolveCleanly() throws {
    let prob = ODEProblem(f: { du, u, p, t in du[0] = 1 }, u0: [0.0], tspan: (0, 1))
    let bad = ContinuousCallback<Double>(condition: { u, t, p in u[0] - 0.5 }, affect: { $0.u = [1, 2] })
    let sol = try solve(prob, Tsit5(), callback: CallbackSet(bad))
    #expect(sol.retcode == .failure)
    #expect(sol.message?.contains("length") == true)
    #expect(abs(sol.t.last! - 0.5) < 1e-12 && sol.u.last!.count == 1)
}
