import DiffEqCore
import Glibc
import ProblemLibrary
import StiffSolvers
import Testing

/// A ball under gravity bouncing with restitution `e`, u = [height, velocity], in both forms
/// (closures: forward-difference Jacobians in both, so both forms take the same steps).
private let gravity = 9.81
private func arrayBall(tEnd: Double = 15) -> ODEProblem<ClosureRHS<Double>> {
    ODEProblem(f: { du, u, p, t in du[0] = u[1]; du[1] = -p[0] }, u0: [50, 0], tspan: (0, tEnd), p: [gravity])
}
private func fixedBall(tEnd: Double = 15) -> StaticODEProblem<StaticClosureRHS<SIMD2<Double>, [Double]>> {
    StaticODEProblem(f: { u, p, t in SIMD2(u[1], -p[0]) }, u0: SIMD2(50, 0), tspan: (0, tEnd), p: [gravity])
}

/// What the one loop (`ODEIntegrator`, issue #15 item 1) gives a fixed-size Rosenbrock solve
/// that the frozen fixed-size loop refused: dense output, events and `isOutOfDomain`. Each is
/// checked against the array form bit for bit (both forms run the same operations per
/// component in the same order, `StaticRosenbrockTests`), and against an analytic value where
/// there is one.
@Suite struct StaticRosenbrockLoopTests {
    /// `sol(t)` and `sol.derivative(t)` of a fixed-size solve with `dense: true` are the array
    /// form's, to the bit, on VDPOL (n = 2, factors by value) and HIRES (n = 8, factors in
    /// memory); so are the steps and statistics.
    @Test(arguments: RosMethod.allCases)
    func denseOutputMatchesTheArrayFormBitwise(method: RosMethod) throws {
        let options = SolveOptions(reltol: 1e-6, abstol: 1e-6, dense: true)
        let a = try method.solve(TestProblems.vanDerPol(), options: options)
        let b = try method.solveStatic(TestProblems.staticVanDerPol(), options: options)
        StaticRosenbrockTests.expectSame(b, a, "VDPOL \(method)")
        #expect(b.denseOutput != nil)
        let tEnd = a.t.last!
        for t in stride(from: 0.0, through: tEnd, by: tEnd / 997) {
            #expect(try b(t).array == a(t), "VDPOL \(method) at t = \(t)")
            #expect(try b.derivative(t).array == a.derivative(t), "VDPOL \(method) at t = \(t)")
        }
        #expect(throws: InterpolationError.self) { try b(tEnd + 1) }
        let c = try method.solve(TestProblems.hires(), options: options)
        let d = try method.solveStatic(TestProblems.staticHires(), options: options)
        StaticRosenbrockTests.expectSame(d, c, "HIRES \(method)")
        for t in stride(from: 0.0, through: 321.8122, by: 1.37) {
            #expect(try d(t).array == c(t), "HIRES \(method) at t = \(t)")
        }
    }

    /// Without `dense: true` a fixed-size solve keeps none (the fast path's default).
    @Test func noDenseOutputUnlessAsked() throws {
        let sol = try Rodas5P().solve(TestProblems.staticVanDerPol(), options: SolveOptions(reltol: 1e-6, abstol: 1e-6))
        #expect(sol.denseOutput == nil)
        #expect(throws: InterpolationError.noDenseOutput) { try sol(0.5) }
    }

    /// The bouncing ball with a continuous event on a `SIMD2` state, Rodas5P: the bounce times
    /// agree with the analytic ones (first impact at sqrt(2 h0 / g), then flights of
    /// 2 e^k sqrt(2 h0 / g)) to 1e-9, and the whole solution is the array form's bit for bit.
    @Test func bouncingBallEventsOnAFixedSizeState() throws {
        let e = 0.9
        let bounce = ContinuousCallback<Double>(
            condition: { u, t, p in u[0] }, upcrossing: nil, downcrossing: { ctx in ctx.u[1] = -e * ctx.u[1] })
        var fixed = fixedBall()
        fixed.callbacks = CallbackSet(bounce)
        let options = SolveOptions(reltol: 1e-10, abstol: 1e-10)
        let b = try Rodas5P().solve(fixed, options: options)
        var array = arrayBall()
        array.callbacks = CallbackSet(bounce)
        let a = try Rodas5P().solve(array, options: options)
        #expect(b.retcode == .success)
        StaticRosenbrockTests.expectSame(b, a, "bouncing ball")
        var events: [Double] = []
        for i in 1..<b.t.count where b.t[i] == b.t[i - 1] { events.append(b.t[i]) }
        let t1 = (2 * 50 / gravity).squareRoot()
        var expected = [t1]
        var k = 1.0
        while expected.last! + 2 * pow(e, k) * t1 <= 15 {
            expected.append(expected.last! + 2 * pow(e, k) * t1)
            k += 1
        }
        #expect(events.count == expected.count)
        for (x, y) in zip(events, expected) { #expect(abs(x - y) < 1e-9, "bounce at \(x), analytic \(y)") }
    }

    /// A terminating event and a discrete callback that changes a parameter, on a stiff
    /// fixed-size system (`u' = −p u` with `p = 1000`, then 10 after t = 0.001): the same
    /// steps and values as the array form, and the stop where `u₀` reaches 1/4.
    @Test func terminatingAndDiscreteCallbacks() throws {
        let slow = DiscreteCallback<Double>(condition: { u, t, p in t > 1e-3 }, affect: { ctx in ctx.p[0] = 10 })
        let stop = ContinuousCallback<Double>(condition: { u, t, p in u[0] - 0.25 }, affect: { ctx in ctx.terminate() })
        let callbacks = CallbackSet(continuous: [stop], discrete: [slow])
        var fixed = StaticODEProblem(
            f: { (u: StaticVector<2>, p: [Double], t: Double) -> StaticVector<2> in [-p[0] * u[0], p[0] * u[0]] },
            u0: [1, 0], tspan: (0, 10), p: [1000.0])
        fixed.callbacks = callbacks
        var array = ODEProblem(
            f: { du, u, p, t in du[0] = -p[0] * u[0]; du[1] = p[0] * u[0] }, u0: [1.0, 0], tspan: (0, 10), p: [1000.0])
        array.callbacks = callbacks
        let options = SolveOptions(reltol: 1e-9, abstol: 1e-12)
        let b = try Rodas5P().solve(fixed, options: options)
        let a = try Rodas5P().solve(array, options: options)
        #expect(b.retcode == .terminated)
        StaticRosenbrockTests.expectSame(b, a, "terminating event")
        #expect(abs(b.u.last![0] - 0.25) < 1e-10)
        // u₀ + u₁ = 1 is a linear invariant every Rosenbrock step keeps (to rounding).
        #expect(abs(b.u.last![0] + b.u.last![1] - 1) < 1e-13)
    }

    /// The options' domain test sees the candidate state's components and the parameters: the
    /// falling ball (no bounce) leaves `height ≥ −1` at t = sqrt(2·51/g) = 3.2245 s, so the solve
    /// ends there as `dtLessThanMin` with every saved height inside, in both forms alike.
    @Test func isOutOfDomainOnAFixedSizeState() throws {
        let check: DomainCheck = { u, p, t in u[0] < -1 || p[0] != gravity }
        let options = SolveOptions(reltol: 1e-6, abstol: 1e-6, isOutOfDomain: check)
        let b = try Rodas5P().solve(fixedBall(tEnd: 4), options: options)
        let a = try Rodas5P().solve(arrayBall(tEnd: 4), options: options)
        #expect(b.retcode == .dtLessThanMin && a.retcode == .dtLessThanMin)
        StaticRosenbrockTests.expectSame(b, a, "isOutOfDomain")
        #expect(b.u.allSatisfy { $0[0] >= -1 })
        #expect(abs(b.t.last! - (2 * 51 / gravity).squareRoot()) < 1e-3, "stopped at \(b.t.last!)")
    }

    /// The past read during the solve (what a delay equation needs): `interpolate(at:into:)` at
    /// the middle of every accepted step equals the finished solution's `sol(t)`.
    @Test func pastReadDuringTheSolve() throws {
        var integrator = try Rodas5P().makeIntegrator(
            TestProblems.staticVanDerPol(), options: SolveOptions(reltol: 1e-6, abstol: 1e-6, dense: true))
        var reads: [(Double, [Double])] = []
        var tPrev = 0.0
        while integrator.step() {
            let mid = 0.5 * (tPrev + integrator.t)
            var out = SIMD2<Double>()
            try integrator.interpolate(at: mid, into: &out)
            reads.append((mid, [out[0], out[1]]))
            tPrev = integrator.t
        }
        #expect(integrator.retcode == .success && reads.count > 10)
        let sol = integrator.solution
        for (t, value) in reads { #expect(try sol(t).array == value, "t = \(t)") }
    }
}
