import DiffEqCore
import ProblemLibrary
import StiffSolvers
import Testing

/// ROBER without its analytic Jacobian, so that the automatic source is forward-mode AD.
struct SDIRKRoberNoJacobian: ODEModel {
    func rhs<S: DiffEqScalar>(_ du: inout [S], _ u: [S], _ p: [S], _ t: S) { Rober().rhs(&du, u, p, t) }
}

/// Newton statistics, Jacobian and W reuse, Jacobian sources, failure handling, and the scalar
/// types (Float, dual numbers).
@Suite struct SDIRKNewtonTests {
    // MARK: Statistics and reuse

    @Test(arguments: SDIRKMethod.allCases)
    func newtonStatisticsAreCounted(method: SDIRKMethod) throws {
        let sol = try SDIRKProblem.hires.solve(reltol: 1e-6, with: method)
        #expect(sol.retcode == .success)
        let st = sol.stats
        let implicitStages = method.tableau.stages - 1
        // Every implicit stage of every accepted step took at least one iteration.
        #expect(st.nnonliniter >= implicitStages * st.naccept)
        // With an analytic Jacobian, f is evaluated once per Newton iteration, plus f(t0, u0) and
        // the initial-step probe (the explicit first stage is FSAL).
        #expect(st.nf == st.nnonliniter + 2)
        #expect(st.njacsAD == 0 && st.njacsFiniteDifference == 0)
        // One solve per iteration plus one per error estimate.
        #expect(st.nlinsolves >= st.nnonliniter + st.naccept)
        // J is reused across steps and W refactored only when γh moved by more than 20%.
        #expect(st.njacs >= 1 && st.njacs < st.naccept)
        #expect(st.nluFactorizations < st.naccept + st.nreject)
    }

    @Test func jacobianSourcesAgreeAndAreCounted() throws {
        let options = SolveOptions(reltol: 1e-7, abstol: 1e-11, saveEverystep: false)
        let analytic = try KenCarp4().solve(TestProblems.rober(tEnd: 1e5), options: options)
        let ad = try KenCarp4().solve(
            ODEProblem(model: SDIRKRoberNoJacobian(), u0: [1.0, 0, 0], tspan: (0, 1e5), p: [0.04, 3e7, 1e4]),
            options: options)
        let fd = try KenCarp4(jacobian: .finiteDifferences).solve(TestProblems.rober(tEnd: 1e5), options: options)
        let closure = try KenCarp4().solve(
            ODEProblem(
                f: { (du: inout [Double], u: [Double], p: [Double], t: Double) in Rober().rhs(&du, u, p, t) },
                u0: [1.0, 0, 0], tspan: (0, 1e5), p: [0.04, 3e7, 1e4]),
            options: options)
        for sol in [analytic, ad, fd, closure] { #expect(sol.retcode == .success) }
        #expect(analytic.stats.njacsAD == 0 && analytic.stats.njacsFiniteDifference == 0)
        #expect(ad.stats.njacsAD == ad.stats.njacs && ad.stats.njacs > 0)
        #expect(fd.stats.njacsFiniteDifference == fd.stats.njacs && fd.stats.njacs > 0)
        #expect(closure.stats.njacsFiniteDifference == closure.stats.njacs && closure.stats.njacs > 0)
        // AD gives the same Jacobian as the analytic one, so the same solve.
        #expect(ad.u.last! == analytic.u.last!)
        // Difference quotients change the iteration, not the solution beyond the tolerance.
        for sol in [fd, closure] {
            for i in 0..<3 {
                let scale = 1e-11 / 1e-7 + abs(analytic.u.last![i])
                #expect(abs(sol.u.last![i] - analytic.u.last![i]) / scale < 1e-6)
            }
        }
    }

    // MARK: Failures

    /// `u' = 32u` with `dt = 1/8` and KenCarp4 (`γ = 1/4`): `W = 1 − γh·32 = 0` exactly at the first
    /// attempt. The step is rejected (no crash), retried at `h/2`, and the solve succeeds.
    @Test func singularIterationMatrixRejectsTheStep() throws {
        let prob = ODEProblem(
            f: { (du: inout [Double], u: [Double], p: [Double], t: Double) in du[0] = 32 * u[0] },
            jacobian: { J, u, p, t in J[0] = 32 }, u0: [1.0], tspan: (0, 0.25))
        let sol = try KenCarp4().solve(prob, options: SolveOptions(reltol: 1e-8, abstol: 1e-10, dt: 0.125))
        #expect(sol.retcode == .success)
        #expect(sol.stats.nnonlinconvfail >= 1)
        #expect(sol.stats.nreject >= 1)
        #expect(abs(sol.u.last![0] / Double.exp(8) - 1) < 1e-6)
        // The same singular W in a fixed-step solve cannot be avoided: a convergence failure.
        let fixed = try KenCarp4().solve(prob, options: SolveOptions(dt: 0.125, adaptive: false))
        #expect(fixed.retcode == .convergenceFailure)
        #expect(fixed.message?.contains("singular") == true)
        #expect(fixed.t.last == 0 && fixed.u.last == [1.0])
    }

    /// A Jacobian that is NaN makes W singular at every step size: the solve stops with
    /// `.convergenceFailure` and a message, keeping what it computed (the initial state).
    @Test(arguments: SDIRKMethod.allCases)
    func alwaysSingularIsAConvergenceFailure(method: SDIRKMethod) throws {
        let prob = ODEProblem(
            f: { (du: inout [Double], u: [Double], p: [Double], t: Double) in du[0] = -u[0] },
            jacobian: { J, u, p, t in J[0] = .nan }, u0: [1.0], tspan: (0, 1))
        let sol = try method.solve(prob, options: SolveOptions())
        #expect(sol.retcode == .convergenceFailure)
        let message = try #require(sol.message)
        #expect(message.contains(method.rawValue) && message.contains("singular"))
        #expect(sol.stats.nnonlinconvfail > 0)
        #expect(sol.stats.naccept == 0)
        #expect(sol.u.last == [1.0])
    }

    /// A Jacobian with the wrong sign: the simplified Newton iteration diverges (or is predicted not
    /// to converge) at large steps, so the step is rejected; it converges once `γh|λ|` is small,
    /// and the solve succeeds with the failures counted.
    @Test func divergingNewtonIsDetectedAndRecovered() throws {
        let prob = ODEProblem(
            f: { (du: inout [Double], u: [Double], p: [Double], t: Double) in du[0] = -1000 * (u[0] - Double.cos(t)) },
            jacobian: { J, u, p, t in J[0] = 1000 }, u0: [1.0], tspan: (0, 0.01))
        let sol = try KenCarp4().solve(prob, options: SolveOptions(reltol: 1e-6, abstol: 1e-8, dt: 1e-2))
        #expect(sol.retcode == .success)
        #expect(sol.stats.nnonlinconvfail > 0)
        #expect(sol.stats.nreject > 0)
        // Same answer as the solve with the right Jacobian.
        let good = try KenCarp4().solve(
            ODEProblem(
                f: { (du: inout [Double], u: [Double], p: [Double], t: Double) in du[0] = -1000 * (u[0] - Double.cos(t)) },
                jacobian: { J, u, p, t in J[0] = -1000 }, u0: [1.0], tspan: (0, 0.01)),
            options: SolveOptions(reltol: 1e-10, abstol: 1e-12))
        #expect(abs(sol.u.last![0] - good.u.last![0]) < 1e-5)
    }

    // MARK: Scalars

    @Test(arguments: SDIRKMethod.allCases)
    func floatStates(method: SDIRKMethod) throws {
        let options = SolveOptions(reltol: 1e-4, abstol: 1e-4, saveEverystep: false)
        let sol = try method.solve(TestProblems.hires(Float.self), options: options)
        #expect(sol.retcode == .success)
        let ref = TestProblems.hiresReference.u
        let u = try #require(sol.u.last).map(Double.init)
        var worst = 0.0
        for (x, r) in zip(u, ref) { worst = max(worst, abs(x - r) / (1 + abs(r))) }
        #expect(worst < 1e-3)
    }

    /// du/dp₁ of ROBER at t = 40 by a `Dual<1, Double>` solve with KenCarp4 (through the generic LU)
    /// against central differences of plain solves, `δ = 1e-4·p₁` (measured agreement 1e-9 to
    /// 2e-8 relative; the difference quotient's own truncation and solve noise are about 1e-8).
    @Test func dualParameterSensitivityMatchesCentralDifferences() throws {
        typealias D = Dual<1, Double>
        let p: [Double] = [0.04, 3e7, 1e4]
        let options = SolveOptions(reltol: 1e-10, abstol: [1e-12, 1e-16, 1e-12], saveEverystep: false)
        let dualProb = TestProblems.rober(D.self, tEnd: 40).remake(p: [D(p[0], seed: 0), D(p[1]), D(p[2])])
        let sol = try KenCarp4().solve(dualProb, options: options)
        #expect(sol.retcode == .success)
        let y = try #require(sol.u.last)
        let delta = 1e-4 * p[0]
        let plus = try KenCarp4().solve(TestProblems.rober(tEnd: 40).remake(p: [p[0] + delta, p[1], p[2]]), options: options)
        let minus = try KenCarp4().solve(TestProblems.rober(tEnd: 40).remake(p: [p[0] - delta, p[1], p[2]]), options: options)
        for i in 0..<3 {
            let fd = (plus.u.last![i] - minus.u.last![i]) / (2 * delta)
            let ad = y[i].partials[0]
            #expect(abs(ad - fd) <= 1e-6 * abs(fd), "component \(i): AD \(ad), central differences \(fd)")
            // The value part is the plain solve's answer.
            #expect(abs(y[i].value - (plus.u.last![i] + minus.u.last![i]) / 2) <= 1e-6 * abs(y[i].value))
        }
    }

    // MARK: Integrator use

    @Test func steppingByHandMatchesSolve() throws {
        let options = SolveOptions(reltol: 1e-6, abstol: 1e-6)
        let sol = try Kvaerno5().solve(TestProblems.hires(), options: options)
        var integrator = try Kvaerno5().makeIntegrator(TestProblems.hires(), options: options)
        var steps = 0
        while integrator.step() { steps += 1 }
        #expect(integrator.retcode == .success)
        #expect(integrator.u == sol.u.last!)
        #expect(integrator.stats == sol.stats)
        #expect(steps + 1 == sol.stats.naccept)
    }

    @Test(arguments: SDIRKMethod.allCases)
    func backwardInTime(method: SDIRKMethod) throws {
        // u' = 5(u - cos t) - sin t has the solution cos t and, integrated from t = 2 back to 0,
        // damps perturbations (λ = 5 > 0 is the stable sign backward in time).
        let prob = ODEProblem(
            f: { (du: inout [Double], u: [Double], p: [Double], t: Double) in
                du[0] = 5 * (u[0] - Double.cos(t)) - Double.sin(t)
            }, u0: [Double.cos(2)], tspan: (2, 0))
        let sol = try method.solve(prob, options: SolveOptions(reltol: 1e-8, abstol: 1e-10))
        #expect(sol.retcode == .success)
        #expect(sol.t.last == 0)
        #expect(abs(sol.u.last![0] - 1) < 1e-6)
        #expect(abs(try sol(1.0)[0] - Double.cos(1)) < 1e-5)
    }
}
