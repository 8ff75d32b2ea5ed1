import DiffEqCore
import Glibc
import ProblemLibrary
import StiffSolvers
import Testing

/// ROBER without its analytic Jacobian: the generic form, so `J` comes from forward-mode AD.
struct RosRoberNoJacobian: ODEModel {
    func rhs<S: DiffEqScalar>(_ du: inout [S], _ u: [S], _ p: [S], _ t: S) {
        Rober().rhs(&du, u, p, t)
    }
}

@Suite struct RosenbrockStatsTests {
    static let options = SolveOptions(reltol: 1e-6, abstol: 1e-10, saveEverystep: false)

    /// The reuse rule in the counters: one `J` per accepted step (a rejected attempt reuses the
    /// `J` of its starting point), one LU factorization per attempt, one linear solve per stage,
    /// or two in an attempt whose stage solves are refined (`γ|h|·max|J| > 1e3`,
    /// ``StageRefinement``; ROBER reaches that).
    static func expectReuseRule(_ stats: SolverStats, stages: Int) {
        #expect(stats.naccept > 0)
        #expect(stats.njacs == stats.naccept)
        #expect(stats.nluFactorizations == stats.naccept + stats.nreject)
        let attempts = stats.naccept + stats.nreject
        #expect(stats.nlinsolves % stages == 0)
        #expect(stats.nlinsolves >= stages * attempts && stats.nlinsolves <= 2 * stages * attempts)
        #expect(stats.nnonliniter == 0)
    }

    @Test(arguments: RosMethod.allCases)
    func analyticJacobianWhenTheModelHasOne(method: RosMethod) throws {
        let sol = try method.solve(TestProblems.rober(tEnd: 1e5), options: Self.options)
        #expect(sol.retcode == .success)
        #expect(sol.stats.njacsAD == 0 && sol.stats.njacsFiniteDifference == 0)
        Self.expectReuseRule(sol.stats, stages: method.tableau.stages)
        #expect(sol.stats.nreject > 0, "the solve should exercise a rejection")
    }

    @Test(arguments: RosMethod.allCases)
    func forwardModeADForAGenericModel(method: RosMethod) throws {
        let prob = ODEProblem(model: RosRoberNoJacobian(), u0: [1.0, 0, 0], tspan: (0, 1e5), p: [0.04, 3e7, 1e4])
        let sol = try method.solve(prob, options: Self.options)
        #expect(sol.retcode == .success)
        #expect(sol.stats.njacsAD == sol.stats.njacs && sol.stats.njacsFiniteDifference == 0)
        Self.expectReuseRule(sol.stats, stages: method.tableau.stages)
        // Same solution as with the analytic Jacobian.
        let analytic = try method.solve(TestProblems.rober(tEnd: 1e5), options: Self.options)
        for i in 0..<3 {
            #expect(abs(sol.u.last![i] - analytic.u.last![i]) <= 1e-10 + 1e-6 * abs(analytic.u.last![i]))
        }
    }

    /// `makeIntegrator` + `step()` computes the same solution as `solve`.
    @Test func integratorStepByStep() throws {
        let prob = TestProblems.hires()
        var integrator = try Rodas5P().makeIntegrator(prob, options: Self.options)
        var steps = 0
        while integrator.step() { steps += 1 }
        #expect(integrator.retcode == .success && integrator.t == 321.8122)
        let sol = try Rodas5P().solve(prob, options: Self.options)
        #expect(integrator.u == sol.u.last!)
        #expect(steps + 1 == sol.stats.naccept)
    }

    /// `.finiteDifferences` overrides the analytic Jacobian; each difference Jacobian costs `n`
    /// evaluations of `f`, counted in `nf`.
    @Test(arguments: RosMethod.allCases)
    func finiteDifferencesWhenAsked(method: RosMethod) throws {
        let sol = try method.solve(TestProblems.rober(tEnd: 1e5), options: Self.options, jacobian: .finiteDifferences)
        #expect(sol.retcode == .success)
        #expect(sol.stats.njacsFiniteDifference == sol.stats.njacs && sol.stats.njacsAD == 0)
        Self.expectReuseRule(sol.stats, stages: method.tableau.stages)
        #expect(sol.stats.nf >= 3 * sol.stats.njacs)
    }

    /// Function evaluations per accepted step without rejections: the stages after the first,
    /// one for `∂f/∂t`, and `f(t, u)` unless the method is FSAL (Rosenbrock23).
    @Test(arguments: RosMethod.allCases)
    func functionEvaluationsPerStep(method: RosMethod) throws {
        let prob = ODEProblem(model: RosProtheroRobinson(), u0: [0.0], tspan: (0, 1), p: [-10.0])
        let sol = try method.solve(prob, options: SolveOptions(saveEverystep: false, dt: 0.125, adaptive: false))
        let s = method.tableau.stages
        let perStep = (s - 1) + 1 + (method.tableau.isFSAL ? 0 : 1)
        // f(t0, u0) once at the start (it is the first step's f(t, u)), then 8 steps.
        #expect(sol.stats.nf == 1 + 8 * perStep - (method.tableau.isFSAL ? 0 : 1))
    }
}

/// ROBER with the autonomy declaration withheld: the same equations, so the solve must be the
/// same, with one more evaluation of `f` per Jacobian (the `∂f/∂t` difference quotient).
struct RosRoberUndeclared: ODEModel {
    func rhs<S: DiffEqScalar>(_ du: inout [S], _ u: [S], _ p: [S], _ t: S) { Rober().rhs(&du, u, p, t) }
    var hasAnalyticJacobian: Bool { true }
    func jacobian<S: DiffEqScalar>(_ J: inout [S], _ u: [S], _ p: [S], _ t: S) { Rober().jacobian(&J, u, p, t) }
}

@Suite struct RosenbrockAutonomyTests {
    /// Declaring ROBER autonomous skips `∂f/∂t` (exactly zero for it) and changes nothing else:
    /// bitwise the same solution and step sequence.
    @Test(arguments: RosMethod.allCases)
    func autonomousSkipsTimeDerivative(method: RosMethod) throws {
        let options = SolveOptions(reltol: 1e-6, abstol: 1e-10, saveEverystep: false)
        let declared = TestProblems.rober(tEnd: 1e5)
        let undeclared = ODEProblem(model: RosRoberUndeclared(), u0: [1.0, 0, 0], tspan: (0, 1e5), p: [0.04, 3e7, 1e4])
        #expect(declared.f.isAutonomous && !undeclared.f.isAutonomous)
        let a = try method.solve(declared, options: options)
        let b = try method.solve(undeclared, options: options)
        #expect(a.retcode == .success && b.retcode == .success)
        #expect(a.u.last! == b.u.last!)
        #expect(a.stats.naccept == b.stats.naccept && a.stats.nreject == b.stats.nreject)
        #expect(a.stats.njacs == b.stats.njacs)
        #expect(b.stats.nf - a.stats.nf == b.stats.njacs)
    }
}

@Suite struct RosenbrockScalarTests {
    /// Forward-mode sensitivity through a Rodas5P solve: ROBER on [0, 40] with `k1` a
    /// `Dual<1, Double>` seeded in its partial. The partials of `u(40)` match central differences
    /// of two `Double` solves (`k1 ± 1e-6·k1`). Both are computed to reltol 1e-10, and the error
    /// control sees the partials (DESIGN.md §4), so they agree to 1e-6 relative.
    @Test func dualParameterSensitivityMatchesCentralDifferences() throws {
        typealias D = Dual<1, Double>
        let k: [Double] = [0.04, 3e7, 1e4]
        let options = SolveOptions(reltol: 1e-10, abstol: 1e-14, saveEverystep: false)
        let pd: [D] = [D(k[0], seed: 0), D(constant: k[1]), D(constant: k[2])]
        let dualProb = ODEProblem(model: Rober(), u0: [D(1.0), D(0.0), D(0.0)], tspan: (0, 40), p: pd)
        let dual = try Rodas5P().solve(dualProb, options: options)
        #expect(dual.retcode == .success)
        let delta = 1e-6 * k[0]
        var ends: [[Double]] = []
        for k1 in [k[0] + delta, k[0] - delta] {
            let prob = ODEProblem(model: Rober(), u0: [1.0, 0, 0], tspan: (0, 40), p: [k1, k[1], k[2]])
            let sol: ODESolution<Double> = try Rodas5P().solve(prob, options: options)
            ends.append(try #require(sol.u.last))
        }
        let (plus, minus) = (ends[0], ends[1])
        let end = try #require(dual.u.last)
        for i in 0..<3 {
            let fd = (plus[i] - minus[i]) / (2 * delta)
            let ad = end[i].partials[0]
            #expect(abs(ad - fd) <= 1e-6 * abs(fd) + 1e-9, "component \(i): AD \(ad), FD \(fd)")
        }
        // The Jacobian of a dual solve is the model's analytic one, over duals; W is factored by
        // the generic LU.
        #expect(dual.stats.njacs == dual.stats.naccept && dual.stats.njacsAD == 0)
    }

    /// Float states use LAPACK's sgetrf/sgetrs: HIRES at reltol = abstol = 1e-4 (well above
    /// Float's 1.2e-7 resolution) meets the reference like the Double solve.
    @Test(arguments: RosMethod.allCases)
    func floatSolveMeetsTheReference(method: RosMethod) throws {
        let reltol = 1e-4
        let sol = try method.solve(
            TestProblems.hires(Float.self), options: SolveOptions(reltol: reltol, abstol: 1e-4, saveEverystep: false))
        #expect(sol.retcode == .success)
        let u = sol.u.last!.map { Double($0) }
        let error = tolerancesOfError(u, TestProblems.hiresReference.u, reltol: reltol, abstol: 1e-4)
        #expect(error <= 10, "\(method): \(error) tolerances")
    }

    /// HIRES at reltol 1e-12 with Rodas5P, saved at 100 points between steps: the truth for the
    /// dense-output test.
    static let hiresTimes = (1...100).map { 321.8122 * Double($0) / 101 + 0.123 }
    static let hiresTruth: [[Double]] = {
        let sol = try? Rodas5P().solve(
            TestProblems.hires(), options: SolveOptions(reltol: 1e-12, abstol: 1e-14, saveat: .times(hiresTimes)))
        return sol?.u ?? []
    }()

    /// The dense output between steps: HIRES at reltol 1e-8 (1e-6 for Rosenbrock23) evaluated
    /// at 100 points against the reltol 1e-12 solve. The interpolants have order 2, 3 and 4 (one
    /// below the method's): Rodas5P's is held to 10 tolerances of its solve, the others to 100.
    /// The `saveat` values of the same solve (the in-step interpolant) are the same numbers.
    @Test(arguments: RosMethod.allCases)
    func denseOutputBetweenSteps(method: RosMethod) throws {
        let reltol = method == .rosenbrock23 ? 1e-6 : 1e-8
        #expect(Self.hiresTruth.count == Self.hiresTimes.count)
        let sol = try method.solve(
            TestProblems.hires(),
            options: SolveOptions(reltol: reltol, abstol: .scalar(reltol), saveat: .times(Self.hiresTimes), dense: true))
        #expect(sol.retcode == .success && sol.denseOutput != nil)
        var worst = 0.0
        for (k, t) in sol.t.enumerated() {
            let v = try sol(t)
            worst = max(worst, tolerancesOfError(v, Self.hiresTruth[k], reltol: reltol, abstol: reltol))
            for i in v.indices {
                let bound: Double = 1e-15 + 1e-12 * Swift.abs(v[i])
                #expect(Swift.abs(sol.u[k][i] - v[i]) <= bound)
            }
        }
        #expect(worst <= (method == .rodas5P ? 10 : 100), "\(method): \(worst) tolerances")
    }

    /// Events use the dense output and restart the method: `u' = −u`, reset to 1 whenever `u`
    /// falls through 1/2 (at `t = k ln 2`), so `u(3) = exp(−(3 − 4 ln 2))`. A restart re-evaluates
    /// `J` at the new state: still one `J` per accepted step.
    @Test(arguments: RosMethod.allCases)
    func eventsRestartTheMethod(method: RosMethod) throws {
        let reset = ContinuousCallback<Double>(
            condition: { u, _, _ in u[0] - 0.5 }, upcrossing: nil, downcrossing: { $0.u[0] = 1 })
        var prob = ODEProblem(
            f: { du, u, _, _ in du[0] = -u[0] }, jacobian: { J, _, _, _ in J[0] = -1 }, u0: [1.0], tspan: (0, 3))
        prob.callbacks = CallbackSet(reset)
        let sol = try method.solve(prob, options: SolveOptions(reltol: 1e-8, abstol: 1e-10))
        #expect(sol.retcode == .success)
        let expected = Glibc.exp(-(3 - 4 * Glibc.log(2.0)))
        #expect(abs(sol.u.last![0] - expected) < (method == .rosenbrock23 ? 1e-5 : 1e-7))
        #expect(sol.stats.njacs == sol.stats.naccept)
    }

    /// Backward in time: from `u(1) = e^{-1}` of `u' = −u` back to `u(0) = 1`.
    @Test(arguments: RosMethod.allCases)
    func backwardIntegration(method: RosMethod) throws {
        let prob = ODEProblem(f: { du, u, _, _ in du[0] = -u[0] }, u0: [Double(Glibc.exp(-1.0))], tspan: (1, 0))
        let sol = try method.solve(prob, options: SolveOptions(reltol: 1e-8, abstol: 1e-10))
        #expect(sol.retcode == .success && sol.t.last == 0)
        #expect(abs(sol.u.last![0] - 1) < 1e-6)
    }
}
