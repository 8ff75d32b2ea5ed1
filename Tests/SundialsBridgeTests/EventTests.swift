import DiffEqCore
import Glibc
import SundialsBridge
import Testing

@Suite struct EventTests {
    /// Regression: an affect that changed the length of `u` hit a precondition (a trap) and one
    /// that changed the length of `p` was taken over silently. Both now end the solve with
    /// `.failure` and a message, the state kept as before the event, as the native methods do.
    @Test(arguments: [false, true]) func anAffectThatResizesUOrPEndsWithAFailure(_ resizeP: Bool) throws {
        let resize: ContinuousCallback<Double>.Affect = { c in if resizeP { c.p = [1, 2] } else { c.u = [1] } }
        let event = ContinuousCallback<Double>(condition: { _, t, _ in t - 0.5 }, affect: resize)
        let tick = DiscreteCallback<Double>(condition: { _, t, _ in t > 0.5 }, affect: resize)
        for callbacks in [CallbackSet(event), CallbackSet(tick)] {
            let problem = ODEProblem(f: { du, u, _, _ in du[0] = -u[0]; du[1] = -u[1] }, u0: [1.0, 2.0], tspan: (0, 1))
                .remake(callbacks: callbacks)
            for sol in [try solve(problem, CVODE_Adams()), try solve(problem, CVODE_BDF())] {
                #expect(sol.retcode == .failure)
                #expect(sol.message?.contains("changed the length") == true, "\(sol.message ?? "")")
                #expect(sol.u.allSatisfy { $0.count == 2 })
                #expect((sol.t.last ?? 1) < 1)
            }
        }
    }

    /// A ball dropped from 10 m (`u = [height, velocity]`, `p = [g]`) that bounces with
    /// restitution 0.9 when the height crosses zero downward.
    func bouncingBall(counter: CallCounter) -> ODEProblem<ClosureRHS<Double>> {
        let bounce = ContinuousCallback<Double>(
            condition: { u, _, _ in u[0] }, upcrossing: nil, downcrossing: { $0.u[1] = -0.9 * $0.u[1] })
        return ODEProblem(
            f: { du, u, p, _ in
                counter.increment()
                du[0] = u[1]
                du[1] = -p[0]
            },
            u0: [10, 0], tspan: (0, 5), p: [9.81]
        ).remake(callbacks: CallbackSet(bounce))
    }

    @Test(arguments: Method.allCases)
    func bouncingBallHitsTheGroundAtTheAnalyticTimes(method: Method) throws {
        let g = 9.81
        let first = (2 * 10 / g).squareRoot()
        let rebound = 0.9 * g * first
        let second = first + 2 * rebound / g
        let counter = CallCounter()
        let sol = try method.algorithm.solve(
            bouncingBall(counter: counter), options: SolveOptions(reltol: 1e-10, abstol: 1e-10))
        #expect(sol.retcode == .success)
        // Each event is saved before and after the affect: a repeated time.
        let events = zip(sol.t, sol.t.dropFirst()).enumerated().filter { $0.element.0 == $0.element.1 }
        try #require(events.count == 2)
        #expect(abs(events[0].element.0 - first) < 1e-7)
        #expect(abs(events[1].element.0 - second) < 1e-7)
        let i = events[0].offset
        #expect(abs(sol.u[i][0]) < 1e-7)
        #expect(abs(sol.u[i + 1][1] + 0.9 * sol.u[i][1]) < 1e-12)
        // The dense output follows the parabola after the bounce.
        let t = 2.5
        let h = rebound * (t - first) - 0.5 * g * (t - first) * (t - first)
        #expect(abs(try sol(t)[0] - h) < 1e-6)
        // Counters add up over the restart at each bounce.
        #expect(sol.stats.nf == counter.count)
        #expect(sol.stats.naccept > 0)
    }

    @Test(arguments: Method.allCases)
    func aTerminatingEventEndsTheSolve(method: Method) throws {
        let stop = ContinuousCallback<Double>(
            condition: { u, _, _ in u[0] - 0.5 }, upcrossing: nil, downcrossing: { $0.terminate() })
        let prob = decayProblem(tspan: (0, 5)).remake(callbacks: CallbackSet(stop))
        let sol = try method.algorithm.solve(prob, options: SolveOptions(reltol: 1e-10, abstol: 1e-12))
        #expect(sol.retcode == .terminated)
        #expect(sol.retcode.isSuccessful)
        #expect(abs(sol.t.last! - 2 * log(2.0)) < 1e-8)
        #expect(abs(sol.u.last![0] - 0.5) < 1e-8)
    }

    @Test func crossingDirectionsFollowTheDirectionOfIntegration() throws {
        let options = SolveOptions(reltol: 1e-10, abstol: 1e-12)
        let onlyUp = CallbackSet(
            ContinuousCallback<Double>(
                condition: { u, _, _ in u[0] - 0.5 }, upcrossing: { $0.terminate() }, downcrossing: nil))
        // Forward, u decreases through 0.5: a downcrossing, ignored.
        let forward = try solve(decayProblem(tspan: (0, 5)).remake(callbacks: onlyUp), CVODE_BDF(), options: options)
        #expect(forward.retcode == .success)
        #expect(forward.t.last == 5)
        // Backward from u(2) = e^-1, u increases through 0.5: an upcrossing.
        let backward = try solve(
            decayProblem(u0: exp(-1.0), tspan: (2, 0)).remake(callbacks: onlyUp), CVODE_BDF(), options: options)
        #expect(backward.retcode == .terminated)
        #expect(abs(backward.t.last! - 2 * log(2.0)) < 1e-8)
    }

    @Test func aDiscreteCallbackChangesTheParameters() throws {
        // From t = 1 on (a tstop, so a step ends there) the decay rate doubles:
        // u(2) = e^-0.5 · e^-1.
        let faster = DiscreteCallback<Double>(
            condition: { _, t, p in t >= 1 && p[0] > -1 }, affect: { $0.p[0] = -1 })
        let prob = decayProblem().remake(callbacks: CallbackSet(faster))
        for method in Method.allCases {
            let sol = try method.algorithm.solve(
                prob, options: SolveOptions(reltol: 1e-10, abstol: 1e-12, tstops: [1]))
            #expect(sol.retcode == .success)
            #expect(relativeError(sol.u.last![0], exp(-1.5)) < 1e-7)
            #expect(relativeError(try sol(1.5)[0], exp(-1.0)) < 1e-6)
        }
    }
}
