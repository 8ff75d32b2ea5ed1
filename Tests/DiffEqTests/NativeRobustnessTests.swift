// Regressions from issue 14 (fuzzing from outside) and the smaller items of issue 13, for the
// native integrators: a failed solve keeps the point where it stopped (as CVODE does) and its
// dense output refuses times it did not reach; `reinit` refuses restart times outside the span;
// fixed steps of T/N land in N steps.
import DiffEq
import Foundation
import Testing
import ProblemLibrary

/// `du = -u` until `t = wall`, NaN from there on: every method fails near the wall.
private struct NaNWall: ODEModel {
    let wall: Double
    func rhs<S: DiffEqScalar>(_ du: inout [S], _ u: [S], _ p: [S], _ t: S) {
        for i in u.indices { du[i] = t.primal < wall ? -u[i] : S(Double.nan) }
    }
}

private struct RobustDecay: ODEModel {
    func rhs<S: DiffEqScalar>(_ du: inout [S], _ u: [S], _ p: [S], _ t: S) { for i in u.indices { du[i] = -u[i] } }
}

/// Every native method family with a dense output, on any problem.
private let nativeFamilies = ["Tsit5", "Vern7", "RK4", "Rodas5P", "Rosenbrock23", "KenCarp4", "TRBDF2", "Kvaerno5", "AutoTsit5"]

private func nativeSolve<F: ODEFunction>(_ name: String, _ prob: ODEProblem<F>, _ o: SolveOptions) throws(DiffEqError)
    -> ODESolution<F.Scalar>
{
    switch name {
    case "Tsit5": return try solve(prob, Tsit5(), options: o)
    case "Vern7": return try solve(prob, Vern7(), options: o)
    case "RK4": return try solve(prob, RK4(), options: o)
    case "Rodas5P": return try solve(prob, Rodas5P(), options: o)
    case "Rosenbrock23": return try solve(prob, Rosenbrock23(), options: o)
    case "KenCarp4": return try solve(prob, KenCarp4(), options: o)
    case "TRBDF2": return try solve(prob, TRBDF2(), options: o)
    case "Kvaerno5": return try solve(prob, Kvaerno5(), options: o)
    default: return try solve(prob, AutoTsit5(Rosenbrock23()), options: o)
    }
}

@Suite struct FailedSolveOutputTests {
    /// Issue 14, item 2: with `saveat` past the failure and `dense: true`, nothing was saved and
    /// `sol(t)` trapped for the Rosenbrock methods ("Index out of range": the output was sized
    /// from the empty saved states) and returned `[]` for the others. Now every family keeps the
    /// failure point, returns full states inside what it integrated, and throws outside.
    @Test(arguments: nativeFamilies) func aFailedSolveKeepsItsEndAndItsDenseOutputRefusesTimesBeyond(_ name: String) throws {
        let prob = ODEProblem(model: NaNWall(wall: 0.5), u0: [1.0, 2.0], tspan: (0, 1), p: [])
        let sol = try nativeSolve(name, prob, SolveOptions(saveat: .times([0.8, 0.9]), dense: true))
        #expect(!sol.retcode.isSuccessful, "\(name): \(sol.retcode)")
        #expect(sol.message != nil)
        // The failure point, as CVODE keeps it: one point, before the wall, finite.
        #expect(sol.t.count == 1, "\(name): \(sol.t)")
        let tEnd = try #require(sol.t.last)
        #expect(tEnd > 0 && tEnd <= 0.5, "\(name): stopped at \(tEnd)")
        #expect(sol.u.last?.count == 2 && sol.u.last!.allSatisfy(\.isFinite))
        // Inside what was integrated: a full, accurate state (exp(-t) with a loose tolerance).
        let mid = try sol(tEnd / 2)
        #expect(mid.count == 2)
        #expect(abs(mid[0] - exp(-tEnd / 2)) < 1e-2, "\(name): \(mid)")
        // Beyond it, and at NaN: a typed error, never a trap or an empty state.
        for t in [0.85, tEnd + 1e-3, .nan] {
            #expect(throws: InterpolationError.self, "\(name) at \(t)") { try sol(t) }
        }
    }

    /// A solve that fails at its first step has no dense output: `sol(t)` throws.
    @Test(arguments: nativeFamilies) func aSolveThatFailsAtOnceHasNothingToInterpolate(_ name: String) throws {
        let prob = ODEProblem(model: NaNWall(wall: -1), u0: [1.0, 2.0], tspan: (0, 1), p: [])
        let sol = try nativeSolve(name, prob, SolveOptions(saveat: .times([0.5]), dense: true))
        #expect(!sol.retcode.isSuccessful)
        #expect(sol.t == [0], "\(name): the failure point is t0: \(sol.t)")
        #expect(throws: InterpolationError.noDenseOutput) { try sol(0.25) }
    }

    /// The fixed-size form keeps the failure point too.
    @Test func aFailedFixedSizeSolveKeepsItsEnd() throws {
        let prob = TestProblems.staticLorenz(tEnd: 100)
        let sol = try solve(prob, Tsit5(), saveat: .times([50, 60]), maxiters: 20)
        #expect(sol.retcode == .maxIters)
        #expect(sol.t.count == 1 && sol.t[0] > 0 && sol.t[0] < 50, "\(sol.t)")
    }
}

@Suite struct ReinitTests {
    fileprivate let problem = ODEProblem(model: RobustDecay(), u0: [1.0], tspan: (0, 1), p: [])

    /// Issue 14, item 4: `reinit(t0: tspan.1)` then `solve()` with `saveat` returned `.success`
    /// with NaN states (an interpolation inside a zero-length step); any finite t0 was accepted.
    @Test(arguments: [1.0, 1.5, -0.5, .nan, .infinity]) func aRestartAtOrOutsideTheEndIsRefused(_ t0: Double) throws {
        var integ = try Tsit5().makeIntegrator(problem, options: SolveOptions(saveat: .every(0.25)))
        #expect(throws: DiffEqError.self) { try integ.reinit(t0: t0) }
        var backward = try Tsit5().makeIntegrator(
            ODEProblem(model: RobustDecay(), u0: [1.0], tspan: (1, 0), p: []), options: SolveOptions(saveat: .every(0.25)))
        #expect(throws: DiffEqError.self) { try backward.reinit(t0: 1 - t0) }
    }

    /// With `reinit(t0: 0.5)`, the save points before the restart were extrapolated backwards
    /// and reported as success. Now the solution holds only what this run integrated.
    @Test func aRestartInsideTheSpanSavesOnlyWhatItIntegrates() throws {
        var integ = try Tsit5().makeIntegrator(
            problem, options: SolveOptions(reltol: 1e-8, abstol: 1e-10, saveat: .every(0.25), tstops: [0.3, 0.7]))
        try integ.reinit(u0: [2.0], t0: 0.5)
        let sol = integ.solve()
        #expect(sol.retcode == .success)
        #expect(sol.t == [0.5, 0.75, 1.0])
        for (t, u) in zip(sol.t, sol.u) { #expect(abs(u[0] - 2 * exp(-(t - 0.5))) < 1e-7) }
        // The stop before the restart is skipped (it was a target behind t), the one after kept.
        #expect(sol.stats.naccept >= 2)
    }

    @Test func aRestartWithABadStateIsRefused() throws {
        var integ = try Tsit5().makeIntegrator(problem, options: .init())
        #expect(throws: DiffEqError.dimensionMismatch(what: "reinit u0", expected: 1, got: 2)) { try integ.reinit(u0: [1, 2]) }
        #expect(throws: DiffEqError.nonFiniteInitialState(component: 0)) { try integ.reinit(u0: [.nan]) }
    }
}

@Suite struct FixedStepLandingTests {
    /// Issue 13 (smaller): a fixed-step solve with `dt = T/N` took N + 1 steps, the last a few
    /// ulps long (RK4 with N = 500). Every N up to 2000 on three spans now takes exactly N.
    @Test(arguments: [1.0, 10.0, 7.3]) func stepsOfTOverNTakeNSteps(_ tEnd: Double) throws {
        let prob = ODEProblem(model: RobustDecay(), u0: [1.0], tspan: (0, tEnd), p: [])
        var extra: [Int] = []
        for n in stride(from: 1, through: 2000, by: 7) {
            let sol = try solve(prob, Euler(), dt: tEnd / Double(n), adaptive: false)
            if sol.stats.naccept != n || sol.t.last != tEnd { extra.append(n) }
        }
        #expect(extra.isEmpty, "N with a step too many: \(extra.prefix(10))")
        let rk4 = try solve(prob, RK4(), saveEverystep: true, dt: tEnd / 500, adaptive: false)
        #expect(rk4.stats.naccept == 500 && rk4.t.count == 501)
        let fixedSize = try solve(TestProblems.staticLorenz(tEnd: tEnd), RK4(), dt: tEnd / 500, adaptive: false)
        #expect(fixedSize.stats.naccept == 500)
    }

    /// A genuinely short last step is kept: dt = 0.3 on [0, 1] ends with a step of 0.1.
    @Test func aShortLastStepThatIsNotRoundingIsKept() throws {
        let prob = ODEProblem(model: RobustDecay(), u0: [1.0], tspan: (0, 1), p: [])
        let sol = try solve(prob, Euler(), saveEverystep: true, dt: 0.3, adaptive: false)
        #expect(sol.t.count == 5)
        #expect(abs(sol.t[3] - 0.9) < 1e-15 && sol.t[4] == 1)
    }
}

@Suite struct FixedSizeSavingTests {
    /// The saved states' buffer of a fixed-size solve: where it is and how much it holds.
    private func savedBuffer<S: ODEStepper>(_ integrator: ODEIntegrator<S>) -> (address: UnsafeRawPointer?, capacity: Int)
    where S.Function: StaticODEFunction {
        let saved = integrator.solution.u
        return (saved.withUnsafeBufferPointer { UnsafeRawPointer($0.baseAddress) }, saved.capacity)
    }

    /// Issue 14, item 5: a fixed-size solve that saved every step was quadratic in its steps
    /// (242,903 steps: 33.8 s against 0.09 s for the array form): every append copied the saved
    /// states, because `loop.u` was read through a copy of the whole loop state that shared the
    /// arrays during the append. Structural check: between two growths of its capacity the
    /// buffer never moves (a copy-on-write append allocates a new one at every step).
    @Test func savingEveryStepAppendsInPlace() throws {
        var rk = try Tsit5().makeIntegrator(
            TestProblems.staticLorenz(tEnd: 1000), options: SolveOptions(reltol: 1e-8, abstol: 1e-8, saveEverystep: true))
        var rosenbrock = try Rodas5P().makeIntegrator(
            TestProblems.staticLorenz(tEnd: 1000), options: SolveOptions(reltol: 1e-6, abstol: 1e-6, saveEverystep: true))
        var moves = (rk: 0, rosenbrock: 0)
        var steps = 0
        var (a, b) = (savedBuffer(rk), savedBuffer(rosenbrock))
        while steps < 3000, rk.step(), rosenbrock.step() {
            steps += 1
            let (na, nb) = (savedBuffer(rk), savedBuffer(rosenbrock))
            if na.capacity == a.capacity && na.address != a.address { moves.rk += 1 }
            if nb.capacity == b.capacity && nb.address != b.address { moves.rosenbrock += 1 }
            (a, b) = (na, nb)
        }
        #expect(steps == 3000)
        #expect(moves.rk == 0 && moves.rosenbrock == 0, "buffer moved without growing: \(moves) in \(steps) steps")
    }
}
