import Glibc
import Testing
import DiffEqCore
import ExplicitRK
import ProblemLibrary

/// A ball under gravity bouncing with restitution `e`, u = [height, velocity], in both forms.
private let gravity = 9.81
private func arrayBall(tEnd: Double = 15) -> ODEProblem<ClosureRHS<Double>> {
    ODEProblem(f: { du, u, p, t in du[0] = u[1]; du[1] = -p[0] }, u0: [50, 0], tspan: (0, tEnd), p: [gravity])
}
private func fixedBall(tEnd: Double = 15) -> StaticODEProblem<StaticClosureRHS<SIMD2<Double>, [Double]>> {
    StaticODEProblem(f: { u, p, t in SIMD2(u[1], -p[0]) }, u0: SIMD2(50, 0), tspan: (0, tEnd), p: [gravity])
}

/// What the one loop (`ODEIntegrator` over `DiffEqState`, issue #15 item 1) gives a fixed-size
/// explicit RK solve that its own loop could not: dense output, events, `isOutOfDomain`, and the
/// past read during the solve. Each is checked against the array form bit for bit (both forms
/// run the same operations per component in the same order), and against an analytic value
/// where there is one.
@Suite struct FixedSizeLoopTests {
    /// `sol(t)` and `sol.derivative(t)` of a fixed-size solve with `dense: true` are the array
    /// form's, to the bit, for methods with and without lazily computed extra stages and for a
    /// fixed-step method's linear interpolant; the statistics (the extra stages' evaluations
    /// included) are the same.
    @Test(arguments: [("Tsit5", 0), ("Vern7", 1), ("DP8", 2), ("BS3", 3), ("RK4 fixed", 4)])
    func denseOutputMatchesArrayForm(_ name: String, _ index: Int) throws {
        let algorithms: [any ExplicitRKAlgorithm] = [Tsit5(), Vern7(), DP8(), BS3(), RK4()]
        var options = SolveOptions(reltol: 1e-8, abstol: 1e-8, dense: true)
        if index == 4 { options = SolveOptions(dense: true, dt: 0.01, adaptive: false) }
        let a = try algorithms[index].solve(TestProblems.lorenz(tEnd: 3), options: options)
        let b = try algorithms[index].solve(TestProblems.staticLorenz(tEnd: 3), options: options)
        #expect(b.stats == a.stats, "\(name)")
        #expect(b.u.map(\.array) == a.u, "\(name)")
        #expect(b.denseOutput != nil, "\(name)")
        for t in stride(from: 0.0, through: 3.0, by: 0.0137) {
            #expect(try b(t).array == a(t), "\(name) at t = \(t)")
            #expect(try b.derivative(t).array == a.derivative(t), "\(name) at t = \(t)")
        }
        #expect(throws: InterpolationError.self) { try b(3.5) }
    }

    /// Without `dense: true` a fixed-size solve keeps none (the fast path's default), and says so.
    @Test func noDenseOutputUnlessAsked() throws {
        let sol = try solve(TestProblems.staticLorenz(tEnd: 1), Tsit5(), reltol: 1e-6, abstol: 1e-6)
        #expect(sol.denseOutput == nil)
        #expect(throws: InterpolationError.noDenseOutput) { try sol(0.5) }
    }

    /// The bouncing ball with a continuous event on a `SIMD2` state: the bounce times agree
    /// with the analytic ones (first impact at sqrt(2 h0 / g), then flights of 2 e^k v1 / g) to
    /// 1e-9, and the whole solution is the array form's bit for bit.
    @Test func bouncingBallEventsOnAFixedSizeState() throws {
        let e = 0.9
        let bounce = ContinuousCallback<Double>(
            condition: { u, t, p in u[0] }, upcrossing: nil, downcrossing: { ctx in ctx.u[1] = -e * ctx.u[1] })
        var fixed = fixedBall()
        fixed.callbacks = CallbackSet(bounce)
        let b = try solve(fixed, Tsit5(), reltol: 1e-10, abstol: 1e-10)
        let a = try solve(arrayBall(), Tsit5(), reltol: 1e-10, abstol: 1e-10, callback: CallbackSet(bounce))
        #expect(b.retcode == .success)
        #expect(b.t == a.t && b.u.map(\.array) == a.u && b.stats == a.stats)
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

    /// A terminating event and a discrete callback on a `FixedVector` state; the parameters are
    /// an array of the state's scalar, so the affect can change them (as in the array form).
    @Test func terminatingAndDiscreteCallbacks() throws {
        struct Decay: StaticODEFunction {
            func callAsFunction(_ u: StaticVector<2>, _ p: [Double], _ t: Double) -> StaticVector<2> {
                [-p[0] * u[0], p[0] * u[0]]
            }
        }
        let halve = DiscreteCallback<Double>(condition: { u, t, p in t > 0.5 }, affect: { ctx in ctx.p[0] = 0.5 })
        let stop = ContinuousCallback<Double>(condition: { u, t, p in u[0] - 0.25 }, affect: { ctx in ctx.terminate() })
        let callbacks = CallbackSet(continuous: [stop], discrete: [halve])
        let fixed = StaticODEProblem(Decay(), u0: [1, 0], tspan: (0, 10), p: [2.0], callbacks: callbacks)
        let array = ODEProblem(
            f: { du, u, p, t in du[0] = -p[0] * u[0]; du[1] = p[0] * u[0] }, u0: [1.0, 0], tspan: (0, 10), p: [2.0])
        let b = try solve(fixed, Tsit5(), reltol: 1e-9, abstol: 1e-12)
        let a = try solve(array, Tsit5(), reltol: 1e-9, abstol: 1e-12, callback: callbacks)
        #expect(b.retcode == .terminated)
        #expect(b.t == a.t && b.u.map(\.array) == a.u)
        // Rate 2 until the first step past t = 0.5 (where the discrete callback fires), 0.5
        // after it: u0 reaches 1/4 later than ln(4)/2 = 0.69 at rate 2 alone.
        #expect(b.t.last! > log(4.0) / 2)
        #expect(abs(b.u.last![0] - 0.25) < 1e-10)
    }

    /// The options' domain test sees the candidate state's components and the parameters: the
    /// falling ball (no bounce) leaves `height ≥ −1` at t = sqrt(2·51/g) = 3.2245 s, so the solve
    /// ends there as `dtLessThanMin` with every saved height inside, in both forms alike.
    @Test func isOutOfDomainOnAFixedSizeState() throws {
        let check: DomainCheck = { u, p, t in u[0] < -1 || p[0] != gravity }
        let options = SolveOptions(reltol: 1e-6, abstol: 1e-6, isOutOfDomain: check)
        let b = try solve(fixedBall(tEnd: 4), Tsit5(), options: options)
        let a = try solve(arrayBall(tEnd: 4), Tsit5(), options: options)
        #expect(b.retcode == .dtLessThanMin && a.retcode == .dtLessThanMin)
        #expect(b.t == a.t && b.u.map(\.array) == a.u && b.stats == a.stats)
        #expect(b.u.allSatisfy { $0[0] >= -1 })
        #expect(abs(b.t.last! - (2 * 51 / gravity).squareRoot()) < 1e-3, "stopped at \(b.t.last!)")
    }

    /// The past read during the solve (what a delay equation needs) on a dual fixed-size state:
    /// `interpolate(at:into:)` at the middle of every accepted step equals the finished
    /// solution's `sol(t)`, partials included.
    @Test func pastReadDuringTheSolveWithDualState() throws {
        typealias D = Dual<2, Double>
        struct LV: StaticODEFunction {
            func callAsFunction(_ u: FixedVector<2, D>, _ p: FixedVector<2, D>, _ t: Double) -> FixedVector<2, D> {
                let xy = u[0] * u[1]
                return FixedVector([p[0] * u[0] - xy, xy - p[1] * u[1]] as InlineArray)
            }
        }
        var a = D(constant: 1.5)
        a.partials[0] = 1
        var c = D(constant: 3)
        c.partials[1] = 1
        let problem = StaticODEProblem(
            LV(), u0: FixedVector([D(1.0), D(1.0)] as InlineArray), tspan: (0, 5), p: FixedVector([a, c] as InlineArray))
        var integrator = try Tsit5().makeIntegrator(problem, options: SolveOptions(reltol: 1e-8, abstol: 1e-8, dense: true))
        var reads: [(Double, [D])] = []
        var tPrev = 0.0
        while integrator.step() {
            let mid = 0.5 * (tPrev + integrator.t)
            var out = FixedVector<2, D>()
            try integrator.interpolate(at: mid, into: &out)
            reads.append((mid, out.components))
            tPrev = integrator.t
        }
        #expect(integrator.retcode == .success && reads.count > 10)
        let sol = integrator.solution
        for (t, value) in reads { #expect(try sol(t).components == value, "t = \(t)") }
        #expect(throws: InterpolationError.self) {
            var out = FixedVector<2, D>()
            try integrator.interpolate(at: 6, into: &out)
        }
    }
}
