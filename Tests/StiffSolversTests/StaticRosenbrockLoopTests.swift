import DiffEqCore
import Glibc
import ProblemLibrary
import StiffSolvers
import Testing

/// A ball falling from 50 m under gravity, u = [height, velocity], in both forms with the
/// analytic Jacobian `[[0, 1], [0, 0]]` (so both forms take the same steps).
let gravity = 9.81
struct FallingBall: StaticODEFunction {
    var hasAnalyticJacobian: Bool { true }
    func callAsFunction(_ u: SIMD2<Double>, _ g: Double, _ t: Double) -> SIMD2<Double> { SIMD2(u[1], -g) }
    func jacobian(_ u: SIMD2<Double>, _ g: Double, _ t: Double) -> SIMD2<Double>.SquareMatrix {
        var J = SIMD2<Double>.SquareMatrix()
        J[0, 1] = 1
        return J
    }
}
func fallingBall(until tEnd: Double) -> (fixed: StaticODEProblem<FallingBall>, array: ODEProblem<ClosureRHS<Double>>) {
    let fixed = StaticODEProblem(FallingBall(), u0: SIMD2(50, 0), tspan: (0, tEnd), p: gravity)
    let array = ODEProblem(
        f: { du, u, p, t in du[0] = u[1]; du[1] = -p[0] }, jacobian: { J, _, _, _ in J[2] = 1 }, u0: [50, 0],
        tspan: (0, tEnd), p: [gravity])
    return (fixed, array)
}

/// A stiff `u' = (−p u₀, p u₀)`, `p = 1000` then 10 after t = 0.001 (a discrete callback), that
/// a continuous callback terminates where `u₀ = 1/4`, in both forms; `u₀ + u₁ = 1` is a linear
/// invariant every Runge-Kutta or Rosenbrock step keeps to rounding.
func switchingDecay() -> (fixed: StaticODEProblem<StaticClosureRHS<StaticVector<2>, [Double]>>, array: ODEProblem<ClosureRHS<Double>>) {
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
    return (fixed, array)
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
        try BothFormsChecks.expectSameDenseOutput(method)
        // Without `dense: true` the fixed-size form keeps none (its fast path's default).
        let plain = SolveOptions(reltol: 1e-6, abstol: 1e-6)
        #expect(try method.solveStatic(TestProblems.staticVanDerPol(), options: plain).denseOutput == nil)
    }

    /// The ball bouncing with restitution `e` (a continuous event on a `SIMD2` state, Rodas5P
    /// with the analytic Jacobian): bounce `k` comes at `t₁(1 + 2 Σ_{j=1}^{k} e^j)`, `t₁ =
    /// sqrt(2·50/g)`, and every event time found is within 1e-9 of it; the whole solution is the
    /// array form's bit for bit.
    @Test func bouncingBallEventsOnAFixedSizeState() throws {
        try BothFormsChecks.expectBouncingBall(RosMethod.rodas5P)
    }

    /// A terminating event and a discrete callback that changes a parameter, on a stiff
    /// fixed-size system (`u' = −p u` with `p = 1000`, then 10 after t = 0.001): the same
    /// steps and values as the array form, and the stop where `u₀` reaches 1/4.
    @Test func terminatingAndDiscreteCallbacks() throws {
        let (fixed, array) = switchingDecay()
        let options = SolveOptions(reltol: 1e-9, abstol: 1e-12)
        let b = try Rodas5P().solve(fixed, options: options)
        let a = try Rodas5P().solve(array, options: options)
        #expect(b.retcode == .terminated)
        StaticRosenbrockTests.expectSame(b, a, "terminating event")
        #expect(abs(b.u.last![0] - 0.25) < 1e-10)
        // u₀ + u₁ = 1 is a linear invariant every Rosenbrock step keeps (to rounding).
        #expect(abs(b.u.last![0] + b.u.last![1] - 1) < 1e-13)
    }

    /// The options' domain test on a fixed-size Rodas5P solve: the ball falling without a floor
    /// leaves `height ≥ −1` at sqrt(2·51/g) = 3.2245 s, where the solve ends as `dtLessThanMin`
    /// with no saved height below −1, as the array form ends, bit for bit.
    @Test func isOutOfDomainOnAFixedSizeState() throws {
        let belowFloor: DomainCheck = { u, p, t in u[0] < -1 }
        let options = SolveOptions(reltol: 1e-6, abstol: 1e-6, isOutOfDomain: belowFloor)
        let (fixed, array) = fallingBall(until: 4)
        let sol = try Rodas5P().solve(fixed, options: options)
        #expect(sol.retcode == .dtLessThanMin)
        StaticRosenbrockTests.expectSame(sol, try Rodas5P().solve(array, options: options), "isOutOfDomain")
        #expect(sol.u.map { $0[0] }.min()! >= -1)
        #expect(abs(sol.t.last! - (2 * 51 / gravity).squareRoot()) < 1e-3, "stopped at \(sol.t.last!)")
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
