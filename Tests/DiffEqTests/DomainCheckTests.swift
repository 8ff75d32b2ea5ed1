// `isOutOfDomain` (DifferentialEquations.jl's `isoutofdomain`): a native integrator never accepts
// a state that fails the user's domain test; it retries smaller steps, and ends with a clear
// return code when no step keeps the state inside.
import DiffEq
import Foundation
import Testing
import ProblemLibrary
import SundialsBridge

private struct Decay: ODEModel {
    func rhs<S: DiffEqScalar>(_ du: inout [S], _ u: [S], _ p: [S], _ t: S) { du[0] = -p[0] * u[0] }
}

private struct ConstantFall: ODEModel {
    func rhs<S: DiffEqScalar>(_ du: inout [S], _ u: [S], _ p: [S], _ t: S) { du[0] = -1 }
}

private let anyNegative: DomainCheck = { u, _, _ in u.contains { $0 < 0 } }

@Suite struct DomainCheckTests {
    /// ROBER on [0, 1e11] at reltol 1e-2 (with the test set's abstol, 1e-4 · reltol) was the
    /// known case: with TRBDF2 (and Kvaerno5) y2 crossed zero (about −4e-6) and the solution
    /// blew up to |y| ~ 1e7 while every step passed the error test. That was the SDIRK Newton
    /// iteration accepting stages solved with a stale Jacobian (issue #13, fixed in
    /// `SDIRKStepper`): now the plain solve stays non-negative too. With the domain test every
    /// accepted state stays non-negative and the end state stays near the published reference;
    /// that a state outside the domain is rejected is shown by the tests below.
    @Test(arguments: ["TRBDF2", "Kvaerno5"])
    func roberStaysNonNegativeAtALooseTolerance(_ method: String) throws {
        let problem = TestProblems.rober()
        let reltol = 1e-2
        let abstol = TestProblems.roberInfo.testSetAbstol(reltol: reltol)
        func run(_ check: DomainCheck?) throws -> ODESolution<Double> {
            let options = SolveOptions(reltol: reltol, abstol: .scalar(abstol), isOutOfDomain: check)
            return method == "TRBDF2" ? try solve(problem, TRBDF2(), options: options)
                : try solve(problem, Kvaerno5(), options: options)
        }
        let plain = try run(nil)
        let guarded = try run(anyNegative)
        #expect(guarded.retcode == .success, "\(guarded.message ?? "")")
        #expect(guarded.u.allSatisfy { $0.allSatisfy { $0 >= 0 } })
        // Without the test the same solve used to leave the domain; since issue #13 it does not
        // (a return of the stale-Jacobian defect would show here first).
        #expect(plain.retcode == .success)
        #expect(plain.u.allSatisfy { $0.allSatisfy { $0 >= 0 } })
        let end = try #require(guarded.u.last)
        let reference = TestProblems.roberReference.u
        // Mass conservation y1 + y2 + y3 = 1 holds for every method up to the tolerance, and
        // y1, y3 within 10% of the reference (a loose-tolerance run: the point is no blow-up).
        #expect(abs(end.reduce(0, +) - 1) < 1e-2)
        #expect(abs(end[0] - reference[0]) <= 0.1 * reference[0] + 1e-6)
        #expect(abs(end[2] - reference[2]) <= 0.1 * reference[2])
    }

    /// u' = −1 from u = 1 must leave [0, ∞) at t = 1: the solve ends there with dtLessThanMin
    /// and a message naming the domain test, with no saved state below zero.
    @Test func aSolutionThatMustLeaveTheDomainEndsWithAClearReturnCode() throws {
        let problem = ODEProblem(model: ConstantFall(), u0: [1.0], tspan: (0, 2), p: [])
        for sol in [
            try solve(problem, Tsit5(), reltol: 1e-6, abstol: 1e-8, isOutOfDomain: anyNegative),
            try solve(problem, Rodas5P(), reltol: 1e-6, abstol: 1e-8, isOutOfDomain: anyNegative),
        ] {
            #expect(sol.retcode == .dtLessThanMin)
            #expect(sol.message?.contains("isOutOfDomain") == true, "\(sol.message ?? "")")
            #expect(sol.u.allSatisfy { $0[0] >= 0 })
            let tEnd = try #require(sol.t.last)
            #expect(abs(tEnd - 1) < 1e-6, "stopped at t = \(tEnd)")
        }
    }

    /// A fixed-step method cannot shrink its step: the first step that leaves the domain ends
    /// the solve (explicit Euler on u' = −50u with dt = 0.05 overshoots to u < 0 at once).
    @Test func fixedStepsEndAtTheFirstStepOutside() throws {
        let problem = ODEProblem(model: Decay(), u0: [1.0], tspan: (0, 1), p: [50.0])
        let plain = try solve(problem, Euler(), dt: 0.05)
        #expect(plain.retcode == .success)
        let sol = try solve(problem, Euler(), dt: 0.05, isOutOfDomain: anyNegative)
        #expect(sol.retcode == .dtLessThanMin)
        #expect(sol.message?.contains("fixed steps") == true, "\(sol.message ?? "")")
        #expect(sol.u.count == 1)
    }

    /// The test sees the parameters and the time of the candidate state, and parameter changes
    /// through the integrator interface.
    @Test func theTestSeesParametersAndTime() throws {
        let problem = ODEProblem(model: Decay(), u0: [1.0], tspan: (0, 1), p: [2.0])
        // "Outside" once u falls below p[0]/4: exp(−2t) = 0.5 at t = ln 2 / 2.
        let check: DomainCheck = { u, p, _ in u[0] < p[0] / 4 }
        let sol = try solve(problem, Tsit5(), reltol: 1e-8, abstol: 1e-10, isOutOfDomain: check)
        #expect(sol.retcode == .dtLessThanMin)
        #expect(abs(try #require(sol.t.last) - 0.5 * Foundation.log(2.0)) < 1e-6)
        let late: DomainCheck = { _, _, t in t > 0.25 }
        let stopped = try solve(problem, Tsit5(), reltol: 1e-8, abstol: 1e-10, isOutOfDomain: late)
        #expect(abs(try #require(stopped.t.last) - 0.25) < 1e-6)
        var integrator = try Tsit5().makeIntegrator(
            problem, options: SolveOptions(reltol: 1e-8, abstol: 1e-10, isOutOfDomain: check))
        integrator.p = [2.0, 7.0]  // a longer parameter vector must not trip the test's buffers
        integrator.advance(to: 0.2)
        #expect(integrator.retcode == nil)
    }

    /// Dual-number solves test the primal state; ForwardSensitivity's augmented state (u, S) is
    /// tested on u alone.
    @Test func sensitivitySolvesTestTheStateOnly() throws {
        let problem = ODEProblem(model: Decay(), u0: [1.0], tspan: (0, 1), p: [2.0])
        let sizeChecked: DomainCheck = { u, _, _ in u.count != 1 || u[0] < 0 }
        let options = SolveOptions(reltol: 1e-8, abstol: 1e-10, saveat: .times([1.0]), isOutOfDomain: sizeChecked)
        let a = try gradient(of: SumOfSquaresLoss(), problem, algorithm: Tsit5(), options: options, sensealg: ForwardSensitivity())
        let b = try gradient(of: SumOfSquaresLoss(), problem, algorithm: Tsit5(), options: options, sensealg: ForwardDiffSensitivity())
        for r in [a, b] {
            // L = u(1)² with u(1) = u0 e^{−p}: dL/dp = −2 u(1)².
            let u1 = Foundation.exp(-2.0)
            #expect(abs(r.dp[0] - (-2 * u1 * u1)) < 1e-7, "\(r.dp)")
        }
    }

    /// CVODE has no hook before it accepts a step: it refuses the option instead of ignoring
    /// it. (The fixed-size forms run on the one loop and have the test:
    /// `FixedSizeLoopTests.isOutOfDomainOnAFixedSizeState`, `StaticRosenbrockLoopTests`.)
    @Test func methodsWithoutTheTestRefuseIt() {
        let problem = ODEProblem(model: Decay(), u0: [1.0], tspan: (0, 1), p: [2.0])
        #expect(throws: DiffEqError.self) {
            _ = try solve(problem, CVODE_BDF(), isOutOfDomain: anyNegative)
        }
    }
}
