import DiffEq
import Testing
import ProblemLibrary

/// ``GlobalErrorControl`` on solutions with events: the points saved twice around an affect and
/// the end of a terminating event must not be mistaken for (or hide) a global error.
@Suite struct GlobalErrorControlEventTests {
    /// Arenstorf stopped where y crosses zero upward after t = 16 (t ≈ 16.67). Without a common
    /// end point the end state was not compared: the estimate was 0 after two solves, the end
    /// state 15 tolerances off.
    @Test(arguments: [false, true])
    func aTerminatingEventEndStateIsCompared(saveEverystep: Bool) throws {
        let prob = TestProblems.arenstorf(tEnd: TestProblems.arenstorfPeriod + 1)
        let stop = CallbackSet(ContinuousCallback<Double>(condition: { u, t, p in t < 16 ? -1.0 : u[1] }, affect: { $0.terminate() }))
        let reference = try solve(prob, Vern9(), reltol: 1e-13, abstol: 1e-13, saveEverystep: false, callback: stop)
        let sol = try solve(
            prob, GlobalErrorControl(DP5()), reltol: 1e-6, abstol: 1e-6, saveEverystep: saveEverystep, dense: false, callback: stop)
        #expect(sol.retcode == .terminated)
        let estimate = try #require(sol.globalErrorEstimate)
        #expect(estimate > 0 && estimate <= 1)
        let error = zip(sol.u.last!, reference.u.last!).map { abs($0 - $1) / (1e-6 + 1e-6 * abs($1)) }.max()!
        #expect(error <= 10, "end state \(error) tolerances off")
    }

    /// A dose at a tstop, saved before and after: the second occurrence was compared with the
    /// other solve's state before the dose, an estimate of ~10⁶ that drove the solves to the
    /// tolerance floor.
    @Test func aDoseAtATstopIsComparedSideBySide() throws {
        let prob = ODEProblem(f: { du, u, p, t in du[0] = -u[0] }, u0: [1.0], tspan: (0, 10))
        let dose = CallbackSet(DiscreteCallback<Double>(condition: { u, t, p in t == 5 }, affect: { $0.u[0] += 1 }))
        for saveat: SaveAt? in [nil, .times([2, 5, 8])] {
            let sol = try solve(prob, GlobalErrorControl(DP5()), reltol: 1e-6, abstol: 1e-8, saveat: saveat, tstops: [5], callback: dose)
            #expect(sol.retcode == .success, "\(sol.message ?? "")")
            #expect(try #require(sol.globalErrorEstimate) <= 1)
        }
    }

    /// A bouncing ball: each bounce is saved on both sides of the jump and located at slightly
    /// different times by the two solves; the interpolant across the jump measured the jump.
    @Test func bouncesLocatedAtDifferentTimesAreNotComparedAcrossTheJump() throws {
        let prob = ODEProblem(f: { du, u, p, t in du[0] = u[1]; du[1] = -p[0] }, u0: [50.0, 0], tspan: (0, 15), p: [9.81])
        let bounce = CallbackSet(ContinuousCallback<Double>(
            condition: { u, t, p in u[0] }, upcrossing: nil, downcrossing: { ctx in ctx.u[1] = -0.9 * ctx.u[1] }))
        let sol = try solve(prob, GlobalErrorControl(DP5()), reltol: 1e-6, abstol: 1e-6, callback: bounce)
        #expect(sol.retcode == .success, "\(sol.message ?? "")")
        #expect(try #require(sol.globalErrorEstimate) <= 1)
    }

    /// An algorithm that does not declare its ``ODEAlgorithm/toleranceExponent`` (here one that
    /// ignores the tolerances) is refused; a default exponent made its two identical solves an
    /// estimate of 0, success with the end state 10⁷ tolerances off.
    @Test func anAlgorithmWithoutAnExponentIsRefused() {
        struct FixedStepDP5: ODEAlgorithm {
            var name: String { "FixedStepDP5" }
            func solve<F: ODEFunction>(_ problem: ODEProblem<F>, options: SolveOptions) throws(DiffEqError)
                -> ODESolution<F.Scalar>
            {
                var o = options
                o.adaptive = false
                o.dt = 0.05
                return try DP5().solve(problem, options: o)
            }
        }
        #expect(FixedStepDP5().toleranceExponent == nil)
        #expect(throws: DiffEqError.self) {
            try solve(TestProblems.arenstorf(), GlobalErrorControl(FixedStepDP5()), reltol: 1e-6, abstol: 1e-6)
        }
    }

    /// reltol at or below the floor leaves no tighter solve: refused before any work (it used to
    /// run the full solve at reltol 1e-15, 50 000 f evaluations, and return it unestimated).
    @Test func aReltolAtTheFloorThrowsBeforeAnyWork() {
        #expect(throws: DiffEqError.self) {
            try solve(TestProblems.arenstorf(), GlobalErrorControl(DP5()), reltol: 1e-15, abstol: 1e-15, saveEverystep: false)
        }
    }

    /// In `Float` the floor scales with its precision: tolerances of 1e-5 used to be driven to
    /// reltol 1e-14 (61 million f evaluations on Arenstorf, ending at maxiters).
    @Test func theFloorFollowsTheScalarsPrecision() throws {
        let prob = TestProblems.arenstorf(Float.self)
        #expect(throws: DiffEqError.self) {
            try solve(prob, GlobalErrorControl(DP5()), reltol: 1e-6, abstol: 1e-6, saveEverystep: false)
        }
        let sol = try solve(prob, GlobalErrorControl(DP5()), reltol: 1e-5, abstol: 1e-5, saveEverystep: false)
        #expect(sol.retcode == .globalToleranceNotMet)
        #expect(sol.stats.nf < 1_000_000)
    }
}
