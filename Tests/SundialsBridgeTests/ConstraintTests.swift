import DiffEqCore
import Foundation
import ProblemLibrary
import SundialsBridge
import Testing

/// E5 (stiff DETEST; Hull, Enright & Lindberg 1975; the IVP test set's problem E5), written
/// here for the CVODE measurement only: `A = 7.89e-10`, `B = 1.1e7`, `CM = 1.13e9`, `C = 1.13e3`.
private struct E5: ODEModel {
    func rhs<S: DiffEqScalar>(_ du: inout [S], _ y: [S], _ p: [S], _ t: S) {
        let (a, b, cm, c) = (p[0], p[1], p[2], p[3])
        let prod1 = a * y[0], prod2 = b * y[0] * y[2], prod3 = cm * y[1] * y[2], prod4 = c * y[3]
        du[0] = S.zero - prod1 - prod2
        du[1] = prod1 - prod3
        du[3] = prod2 - prod4
        du[2] = du[1] - du[3]
    }
}

/// The IVP test set's reference for E5 at t = 1e13 (F. Mazzia and C. Magherini, Test Set for
/// Initial Value Problem Solvers, release 2.4, University of Bari 2008, problem E5).
private let e5Reference: [Double] = [0.1152903278711829e-290, 0.8867655517642120e-22, 0.8854814626268838e-22, 0]

@Suite struct ConstraintTests {
    /// Largest error in tolerances against a reference.
    private func tolerances(_ u: [Double], _ ref: [Double], reltol: Double, abstol: Double) -> Double {
        zip(u, ref).map { abs($0 - $1) / (abstol + reltol * abs($1)) }.max() ?? 0
    }

    @Test func roberAtLooseToleranceStaysNonNegativeWithConstraints() throws {
        // ROBER at reltol 1e-4 (abstol 1e-8, the test set's ratio) to 1.25e11, every step
        // saved, y(1e11) by saveat-free dense output. Plain CVODE_BDF leaves the positive orthant
        // and reports success: the measurement is printed and in CVODE_BDF's documentation.
        let (reltol, abstol) = (1e-4, 1e-8)
        let prob = TestProblems.rober(tEnd: 1.25e11)
        let ref = TestProblems.roberReference.u
        let options = SolveOptions(reltol: reltol, abstol: .scalar(abstol), saveEverystep: true, dense: true)
        let plain = try solve(prob, CVODE_BDF(), options: options)
        let plainMin = plain.u.map { $0.min()! }.min()!
        let plainMax = plain.u.map { $0.max()! }.max()!
        let plainAt = try plain(1e11)
        print(
            "ROBER plain CVODE_BDF reltol 1e-4: \(plain.retcode), \(plain.t.count) points, smallest component \(plainMin), "
                + "largest \(plainMax), y(1e11) = \(plainAt), \(tolerances(plainAt, ref, reltol: reltol, abstol: abstol)) tolerances")

        let constrained = try solve(
            prob, CVODE_BDF(constraints: [.nonNegative, .nonNegative, .nonNegative]), options: options)
        #expect(constrained.retcode == .success)
        #expect(constrained.t.last == 1.25e11)
        let smallest = constrained.u.map { $0.min()! }.min()!
        let at = try constrained(1e11)
        let error = tolerances(at, ref, reltol: reltol, abstol: abstol)
        print(
            "ROBER constrained CVODE_BDF reltol 1e-4: \(constrained.t.count) points, smallest component \(smallest), "
                + "y(1e11) = \(at), \(error) tolerances; \(constrained.stats)")
        #expect(smallest >= 0)
        #expect(error < 10)
    }

    @Test func e5AtLooseTolerance() throws {
        // Measured for the documentation: E5 at reltol 1e-4 (abstol 1e-24 as the project judges
        // E5), plain and with every component constrained non-negative.
        let (reltol, abstol) = (1e-4, 1e-24)
        let prob = ODEProblem(model: E5(), u0: [1.76e-3, 0, 0, 0], tspan: (0, 1e13), p: [7.89e-10, 1.1e7, 1.13e9, 1.13e3])
        let options = SolveOptions(reltol: reltol, abstol: .scalar(abstol))
        for (name, algorithm) in [
            ("plain", CVODE_BDF()), ("constrained", CVODE_BDF(constraints: [CVODEConstraint](repeating: .nonNegative, count: 4))),
        ] {
            let sol = try solve(prob, algorithm, options: options)
            let u = sol.u.last!
            print("E5 \(name) CVODE_BDF reltol 1e-4: \(sol.retcode), y(1e13) = \(u), \(tolerances(u, e5Reference, reltol: reltol, abstol: abstol)) tolerances")
        }
    }

    @Test func badConstraintsThrowBeforeAnyWork() throws {
        let prob = TestProblems.rober(tEnd: 1)
        #expect(throws: DiffEqError.dimensionMismatch(what: "CVODE_BDF constraints", expected: 3, got: 2)) {
            try solve(prob, CVODE_BDF(constraints: [.nonNegative, .nonNegative]), options: SolveOptions())
        }
        #expect(throws: DiffEqError.dimensionMismatch(what: "CVODE_Adams constraints", expected: 3, got: 4)) {
            try solve(prob, CVODE_Adams(constraints: [.none, .none, .none, .none]), options: SolveOptions())
        }
        // y2(0) = 0 is not > 0.
        #expect(throws: DiffEqError.invalidStepOption("CVODE_BDF: u0[1] = 0.0 violates its constraint positive")) {
            try solve(prob, CVODE_BDF(constraints: [.positive, .positive, .none]), options: SolveOptions())
        }
    }

    @Test func adamsKeepsAConstraintToo() throws {
        // u' = -u - 1 from u = 1 reaches 0 at t = ln 2 and goes negative; with u ≥ 0 CVODE cannot
        // step past the crossing and fails before it (measured: CV_CONV_FAILURE at t = 0.661,
        // cutting steps whose corrected states were negative) instead of returning negative
        // states with success.
        let prob = ODEProblem(f: { du, u, _, _ in du[0] = -u[0] - 1 }, u0: [1.0], tspan: (0, 2))
        let plain = try solve(prob, CVODE_Adams(), options: SolveOptions(reltol: 1e-8, abstol: 1e-10))
        #expect(plain.retcode == .success && plain.u.last![0] < 0)
        let kept = try solve(
            prob, CVODE_Adams(constraints: [.nonNegative]), options: SolveOptions(reltol: 1e-8, abstol: 1e-10))
        print("Adams with u >= 0 across a crossing: \(kept.retcode), t = \(kept.t.last!), \(kept.message ?? "")")
        #expect(!kept.retcode.isSuccessful)
        #expect(kept.u.allSatisfy { $0[0] >= 0 })
        #expect(kept.t.last! > 0.5 && kept.t.last! <= log(2))
    }
}
