import DiffEqCore
import Glibc
import SundialsBridge
import ProblemLibrary
import Testing

@Suite struct AccuracyTests {
    // At reltol 1e-10 the global error of a variable-order multistep solve is a modest multiple
    // of the local tolerance (measured: 1.4e-10 Adams, 3.9e-9 BDF, whose lower maximum order
    // takes smaller steps); 1e-7 leaves room for step-sequence changes.
    @Test(arguments: Method.allCases)
    func exponentialDecayMatchesTheAnalyticSolution(method: Method) throws {
        let sol = try method.algorithm.solve(decayProblem(), options: SolveOptions(reltol: 1e-10, abstol: 1e-12))
        #expect(sol.retcode == .success)
        #expect(sol.algorithm == method.rawValue)
        #expect(sol.t.first == 0 && sol.t.last == 2)
        #expect(sol.t.count > 10)
        for (t, u) in zip(sol.t, sol.u) {
            #expect(relativeError(u[0], exp(-0.5 * t)) < 1e-7)
        }
    }

    @Test(arguments: Method.allCases)
    func backwardSolveOfDecay(method: Method) throws {
        // From u(2) = e^-1 back to u(0) = 1.
        let prob = decayProblem(u0: exp(-1.0), tspan: (2, 0))
        let sol = try method.algorithm.solve(prob, options: SolveOptions(reltol: 1e-10, abstol: 1e-12))
        #expect(sol.retcode == .success)
        #expect(sol.t.first == 2 && sol.t.last == 0)
        #expect(zip(sol.t, sol.t.dropFirst()).allSatisfy { $0 > $1 })
        #expect(relativeError(sol.u.last![0], 1) < 1e-7)
        for (t, u) in zip(sol.t, sol.u) {
            #expect(relativeError(u[0], exp(-0.5 * t)) < 1e-7)
        }
    }

    // Two different methods at reltol 1e-10 on a smooth periodic orbit: each is within ~1e-8
    // of the true solution at t = 10 (measured difference 3.6e-8), so they agree to 1e-6.
    @Test func lotkaVolterraAdamsAgreesWithBDF() throws {
        let options = SolveOptions(reltol: 1e-10, abstol: 1e-12)
        let adams = try solve(lotkaVolterraProblem(), CVODE_Adams(), options: options)
        let bdf = try solve(lotkaVolterraProblem(), CVODE_BDF(), options: options)
        #expect(adams.retcode == .success && bdf.retcode == .success)
        #expect(adams.t.last == 10 && bdf.t.last == 10)
        for i in 0..<2 {
            #expect(relativeError(adams.u.last![i], bdf.u.last![i]) < 1e-6)
        }
        // The Newton variant of Adams computes the same solution.
        let adamsNewton = try solve(lotkaVolterraProblem(), CVODE_Adams(nonlinearSolver: .newton), options: options)
        #expect(adamsNewton.retcode == .success)
        #expect(adamsNewton.stats.njacs > 0)
        for i in 0..<2 {
            #expect(relativeError(adams.u.last![i], adamsNewton.u.last![i]) < 1e-6)
        }
    }

    // ROBER at the tolerances of the brief (reltol 1e-8, abstol 1e-10) against the IVP test set
    // reference at t = 1e11. y3 ≈ 1 is controlled by reltol: 1e-8. y1(1e11) = 2.08e-8, so
    // abstol = 1e-10 allows a local error of 0.5% of y1 at every late step: y1 can only be
    // checked to a few times that, 2e-2 (measured 7.7e-3). y2 is slaved to y1 by the
    // quasi-steady state k1·y1 ≈ k3·y2·y3 (so y2 ≈ 4e-6·y1 = 8.33e-14): its relative error
    // equals y1's (measured equal to 7 digits), so it gets the same bound, not a looser one.
    // The next test checks all three to 1e-5 with abstols sized to the components.
    @Test func roberWithBDFMatchesTheReferenceAtTheBriefTolerances() throws {
        let sol = try solve(roberProblem(), CVODE_BDF(), options: SolveOptions(reltol: 1e-8, abstol: 1e-10))
        #expect(sol.retcode == .success)
        #expect(sol.t.last == 1e11)
        let y = try #require(sol.u.last)
        #expect(relativeError(y[0], roberReference[0]) < 2e-2)
        #expect(relativeError(y[1], roberReference[1]) < 2e-2)
        #expect(relativeError(y[2], roberReference[2]) < 1e-8)
        // y2 really follows y1: the two relative errors agree to 1e-6.
        let e1 = (y[0] - roberReference[0]) / roberReference[0]
        let e2 = (y[1] - roberReference[1]) / roberReference[1]
        #expect(abs(e1 - e2) < 1e-6)
    }

    // Per-component abstol sized to each component's smallest magnitude on the span times ~1e-8
    // (y1 >= 2e-8, y2 >= 8e-14 after the transient, y3 ≈ 1): every component is then
    // controlled relatively, and all three match the reference to 1e-5 (measured 2.3e-7).
    @Test(arguments: [false, true])
    func roberWithPerComponentAbstolMatchesTheReference(analyticJacobian: Bool) throws {
        let counter = CallCounter()
        let prob = roberProblem(analyticJacobian: analyticJacobian, jacobianCounter: counter)
        let sol = try solve(
            prob, CVODE_BDF(), options: SolveOptions(reltol: 1e-8, abstol: [1e-16, 1e-22, 1e-10]))
        #expect(sol.retcode == .success)
        let y = try #require(sol.u.last)
        for i in 0..<3 {
            #expect(relativeError(y[i], roberReference[i]) < 1e-5)
        }
        #expect(sol.stats.njacs > 0)
        #expect(counter.count == (analyticJacobian ? sol.stats.njacs : 0))
    }

    @Test func perComponentAbstolTightensOnlyItsComponent() throws {
        // Two decoupled decays; the second lives at 1e-6. With abstol 1e-10 for both it is
        // controlled only to 1e-10 absolute (1e-4 relative); with its own abstol 1e-20 it is
        // controlled relatively.
        let prob = ODEProblem(
            f: { (du: inout [Double], u: [Double], _: [Double], _: Double) in
                du[0] = -0.5 * u[0]
                du[1] = -3 * u[1]
            },
            u0: [1, 1e-6], tspan: (0, 2))
        let loose = try solve(prob, CVODE_BDF(), options: SolveOptions(reltol: 1e-8, abstol: 1e-10))
        let tight = try solve(prob, CVODE_BDF(), options: SolveOptions(reltol: 1e-8, abstol: [1e-10, 1e-20]))
        let exact = 1e-6 * exp(-6.0)
        let looseError = relativeError(loose.u.last![1], exact)
        let tightError = relativeError(tight.u.last![1], exact)
        #expect(tightError < 1e-6)
        #expect(tightError < looseError)
        #expect(tight.stats.naccept > loose.stats.naccept)
    }

    @Test func analyticJacobianGivesTheSameAnswerAsDifferenceQuotients() throws {
        let counter = CallCounter()
        let options = SolveOptions(reltol: 1e-8, abstol: [1e-16, 1e-22, 1e-10])
        let analytic = try solve(
            roberProblem(analyticJacobian: true, jacobianCounter: counter), CVODE_BDF(), options: options)
        let quotients = try solve(roberProblem(), CVODE_BDF(), options: options)
        // The same problem with the Jacobian present but switched off.
        let counterOff = CallCounter()
        let switchedOff = try solve(
            roberProblem(analyticJacobian: true, jacobianCounter: counterOff),
            CVODE_BDF(useAnalyticJacobian: false), options: options)
        #expect(analytic.retcode == .success && quotients.retcode == .success && switchedOff.retcode == .success)
        for i in 0..<3 {
            #expect(relativeError(analytic.u.last![i], quotients.u.last![i]) < 1e-5)
        }
        #expect(counter.count == analytic.stats.njacs && counter.count > 0)
        #expect(counterOff.count == 0)
        #expect(switchedOff.stats.njacs > 0)
        // Difference quotients cost 3 f calls per Jacobian; the analytic Jacobian none.
        #expect(quotients.stats.nf >= quotients.stats.nnonliniter + 3 * quotients.stats.njacs)
        #expect(switchedOff.u.last! == quotients.u.last!)
    }

    // Float states: f runs in Float, CVODE in Double. Float rounding in f (6e-8) is far below
    // reltol 1e-6; measured error 6e-6, bound 1e-4.
    @Test(arguments: Method.allCases)
    func floatProblem(method: Method) throws {
        let prob = ODEProblem(
            f: { (du: inout [Float], u: [Float], p: [Float], _: Float) in du[0] = p[0] * u[0] },
            u0: [Float(1)], tspan: (0, 2), p: [-0.5])
        let sol: ODESolution<Float> = try method.algorithm.solve(prob, options: SolveOptions(reltol: 1e-6, abstol: 1e-8))
        #expect(sol.retcode == .success)
        #expect(relativeError(Double(sol.u.last![0]), exp(-1.0)) < 1e-4)
        let mid = try sol(1.0)
        #expect(relativeError(Double(mid[0]), exp(-0.5)) < 1e-4)
    }
}

/// `CVODE_BDF(stabilityLimitDetection: true)` against the published OREGO reference (Mazzia &
/// Magherini, `TestProblems.oregoReference`). At reltol = abstol = 1e-6 plain CVODE_BDF
/// (SUNDIALS 6.4.1) stops at t ≈ 159 with `CV_ERR_FAILURE`: order 5 on OREGO's oscillatory
/// Jacobian. With the detection the solve completes; its global error, 3.4e-4 relative, is what
/// CVODE gets on OREGO at neighbouring tolerances (8e-5 at 3e-6, 1e-5 at 1e-7).
@Suite struct StabilityLimitDetectionTests {
    @Test func oregoCompletesAndMatchesTheReference() throws {
        let sol = try solve(
            TestProblems.orego(), CVODE_BDF(stabilityLimitDetection: true),
            options: SolveOptions(reltol: 1e-6, abstol: 1e-6, saveEverystep: false))
        #expect(sol.retcode == .success, "\(sol.message ?? "")")
        #expect(sol.t.last == 360)
        let reference = TestProblems.oregoReference.u
        for (u, r) in zip(try #require(sol.u.last), reference) {
            #expect(abs(u - r) / abs(r) < 1e-3, "\(u) vs \(r)")
        }
    }
}
