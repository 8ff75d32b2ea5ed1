import DiffEqCore
import ProblemLibrary
import StiffSolvers
import Testing

/// Issue #13: problems of the IVP test set this project had not used before, against their
/// published references (ProblemLibrary cites the source beside every number): VDPOLM, the
/// unscaled van der Pol oscillator (μ = 1000, one relaxation jump in [0, 2000]), and E5 of the
/// stiff DETEST set over [0, 1e13]. Error in tolerances is
/// `max_i |u_i − ref_i| / (abstol + reltol·|ref_i|)` (``tolerancesOfError(_:_:reltol:abstol:)``);
/// every case ends within 10 tolerances or with a failing return code and a message.
@Suite struct OutsideReferenceTests {
    enum Method: String, CaseIterable, Sendable, CustomTestStringConvertible {
        case kenCarp4 = "KenCarp4", kvaerno5 = "Kvaerno5", trbdf2 = "TRBDF2"
        case rosenbrock23 = "Rosenbrock23", rodas4 = "Rodas4", rodas5P = "Rodas5P"
        case autoVern7Rodas5P = "AutoVern7(Rodas5P)"
        var testDescription: String { rawValue }

        func solve<F: ODEFunction>(_ problem: ODEProblem<F>, options: SolveOptions) throws -> ODESolution<F.Scalar> {
            switch self {
            case .kenCarp4: return try KenCarp4().solve(problem, options: options)
            case .kvaerno5: return try Kvaerno5().solve(problem, options: options)
            case .trbdf2: return try TRBDF2().solve(problem, options: options)
            case .rosenbrock23: return try Rosenbrock23().solve(problem, options: options)
            case .rodas4: return try Rodas4().solve(problem, options: options)
            case .rodas5P: return try Rodas5P().solve(problem, options: options)
            case .autoVern7Rodas5P: return try AutoVern7(Rodas5P()).solve(problem, options: options)
            }
        }
    }

    /// Within 10 tolerances, or a failing return code that says why.
    static func expectWithinTenOrFailure(_ sol: ODESolution<Double>, error: Double, _ label: String) {
        if sol.retcode.isSuccessful {
            #expect(error <= 10, "\(label): \(error) tolerances with \(sol.retcode)")
        } else {
            #expect(sol.message?.isEmpty == false, "\(label): \(sol.retcode) without a message")
        }
    }

    // MARK: VDPOLM

    /// Measured error/tolerance (reltol 1e-4, 1e-6; abstol = reltol) after the fix of the stale
    /// Jacobian in the SDIRK Newton iteration (``SDIRKNewtonOptions/slowConvergenceRate``):
    ///
    /// | KenCarp4 | Kvaerno5 | TRBDF2 | Rosenbrock23 | Rodas4 | Rodas5P | AutoVern7(Rodas5P) |
    /// |---|---|---|---|---|---|---|
    /// | 0.67, 2.9 | 0.27, 1.5 | 8.4, 57 | 5.6, 11.4 | 0.34, 1.1 | 0.20, 0.28 | 0.20, 0.52 |
    ///
    /// Before it, KenCarp4 and Kvaerno5 at 1e-4 returned x(2000) = −1.205 (1.1e4 tolerances,
    /// `success`): one step from t = 1137 to 2000 across the jump, its stages accepted after one
    /// Newton iteration with residuals of 1e6 tolerances. The two second-order methods at 1e-6
    /// stay known issues: TRBDF2's error grows with its step count as on VDPOL
    /// (`SDIRKAccuracyTests`, 48 tolerances there), Rosenbrock23's reaches 11.4.
    @Test(arguments: Method.allCases, [1e-4, 1e-6])
    func vdpolmEndPoint(method: Method, reltol: Double) throws {
        let options = SolveOptions(reltol: reltol, abstol: .scalar(reltol), saveEverystep: false)
        let sol = try method.solve(TestProblems.unscaledVanDerPol(), options: options)
        let reference = TestProblems.unscaledVanDerPolReference
        #expect(sol.t.last == reference.t || !sol.retcode.isSuccessful)
        let error = tolerancesOfError(try #require(sol.u.last), reference.u, reltol: reltol, abstol: reltol)
        let known = reltol == 1e-6 && (method == .trbdf2 || method == .rosenbrock23)
        if known {
            withKnownIssue("second-order method, global error above 10 tolerances (measured: TRBDF2 57, Rosenbrock23 11.4)") {
                Self.expectWithinTenOrFailure(sol, error: error, "\(method) VDPOLM \(reltol)")
            }
        } else {
            Self.expectWithinTenOrFailure(sol, error: error, "\(method) VDPOLM \(reltol)")
        }
    }

    /// The stale-Jacobian mechanism itself: on VDPOLM at 1e-4, no accepted step of KenCarp4 or
    /// Kvaerno5 may cross the jump (near t = 807 and t = 1614, where x passes ±1) in one stride;
    /// before the fix the last step ran from t = 1137 to 2000.
    @Test(arguments: [Method.kenCarp4, .kvaerno5])
    func noStepStridesOverTheJump(method: Method) throws {
        let sol = try method.solve(TestProblems.unscaledVanDerPol(), options: SolveOptions(reltol: 1e-4, abstol: .scalar(1e-4)))
        #expect(sol.retcode == .success)
        // x changes sign exactly twice in [0, 2000], each time inside a step shorter than 1.
        var crossings = 0
        for k in 1..<sol.u.count where (sol.u[k - 1][0] > 0) != (sol.u[k][0] > 0) {
            crossings += 1
            #expect(sol.t[k] - sol.t[k - 1] < 1, "step across x = 0 from t = \(sol.t[k - 1]) to \(sol.t[k])")
        }
        #expect(crossings == 2)
    }

    // MARK: E5

    /// E5 at abstol 1e-24 (issue #13) with the methods the issue names, reltol 1e-4 ... 1e-8.
    /// Measured error/tolerance after the refined stage solves of the Rosenbrock methods
    /// (``StageRefinement``), reltol 1e-4, 1e-5, 1e-6, 1e-7, 1e-8:
    ///
    /// | Rodas5P | AutoVern7(Rodas5P) | Rodas4 | Rosenbrock23 | KenCarp4 |
    /// |---|---|---|---|---|
    /// | 0.36, 0.89, 0.12, 0.61, 0.03 | 13.5, 4.0, 0.27, 0.16, 0.29 | 383, 222, 116, 52, 23 | 1.8, 0.49, 0.39, 0.26, MaxIters | 3.0, 0.46, 0.008, 0.04, 0.02 |
    ///
    /// Before: Rodas5P 2.3e4 (1e-4), 1.2e3 (1e-6), 2.0e3 (1e-8); AutoVern7(Rodas5P) 3.4e4, 170,
    /// 353; all with `success`. Rodas4 and AutoVern7(Rodas5P) at 1e-4 remain known issues: their
    /// invariant `y₂ − y₃ − y₄` still drifts by 1e-23 per step with the refined solve, a drift
    /// the refinement cannot remove (the analytic `J` itself breaks `wᵀJ = 0` by rounding,
    /// `ε·|J|`, which `W` carries into every stage). Rosenbrock23 at 1e-8 stops at `maxiters`
    /// (1e5 steps at t ≈ 1.2e6), a failing return code with a message.
    @Test(arguments: [Method.rodas5P, .autoVern7Rodas5P, .rodas4, .rosenbrock23, .kenCarp4], [1e-4, 1e-6, 1e-8])
    func e5EndPoint(method: Method, reltol: Double) throws {
        let options = SolveOptions(reltol: reltol, abstol: .scalar(1e-24), saveEverystep: false)
        let sol = try method.solve(TestProblems.detestE5(), options: options)
        let reference = TestProblems.detestE5Reference
        let error = tolerancesOfError(try #require(sol.u.last), reference.u, reltol: reltol, abstol: 1e-24)
        let known = method == .rodas4 || (method == .autoVern7Rodas5P && reltol == 1e-4)
        if known {
            withKnownIssue("invariant drift through the rounding of J (measured: Rodas4 383, 116, 23; AutoVern7(Rodas5P) 13.5 at 1e-4)") {
                Self.expectWithinTenOrFailure(sol, error: error, "\(method) E5 \(reltol)")
            }
        } else {
            Self.expectWithinTenOrFailure(sol, error: error, "\(method) E5 \(reltol)")
        }
    }

    /// The mechanism: Rodas5P keeps E5's exact invariant `y₂ − y₃ − y₄ = 0` within 10 abstols
    /// over the whole span (measured: largest 2.4e-24 at reltol 1e-6). Before the refined stage
    /// solves it drifted by 1e-21 per step for t in [1e2, 1e4] (γh|J| up to 4e6), reached 3.1e-21
    /// and ended at 1.3e-21.
    @Test func e5InvariantHeldByRodas5P() throws {
        let sol = try Method.rodas5P.solve(
            TestProblems.detestE5(), options: SolveOptions(reltol: 1e-6, abstol: .scalar(1e-24)))
        #expect(sol.retcode == .success)
        var worst = 0.0
        for u in sol.u { worst = Swift.max(worst, Swift.abs(u[1] - u[2] - u[3])) }
        #expect(worst <= 1e-23, "largest |y2 - y3 - y4| = \(worst)")
    }

    // MARK: GlobalErrorControl

    /// The three cases of issue #13 item 4 where ``GlobalErrorControl``'s solves agreed on a
    /// wrong answer and it returned `success`: Kvaerno5 on VDPOLM at 1e-4 (estimate 0.15, error
    /// 1.1e4), Rodas4 on E5 at 1e-6 (0.71, 110), AutoVern7(Rodas5P) on E5 at 1e-8 (0.89, 27).
    /// After the two fixes above (measured): 0.13 tolerances with estimate 0.015 (`success`);
    /// `globalToleranceNotMet` with estimate 1.14 after 5 solves (error 5.5); 0.045 with
    /// estimate 0.037 (`success`).
    @Test func globalErrorControlCasesOfTheIssue() throws {
        func check(_ sol: ODESolution<Double>, _ reference: [Double], reltol: Double, abstol: Double, _ label: String) throws {
            let error = tolerancesOfError(try #require(sol.u.last), reference, reltol: reltol, abstol: abstol)
            if sol.retcode.isSuccessful {
                #expect(try #require(sol.globalErrorEstimate) <= 1, "\(label)")
            }
            Self.expectWithinTenOrFailure(sol, error: error, label)
        }
        let vdpolm = try GlobalErrorControl(Kvaerno5()).solve(
            TestProblems.unscaledVanDerPol(), options: SolveOptions(reltol: 1e-4, abstol: .scalar(1e-4), saveEverystep: false))
        try check(vdpolm, TestProblems.unscaledVanDerPolReference.u, reltol: 1e-4, abstol: 1e-4, "Kvaerno5 VDPOLM 1e-4")
        let e5 = TestProblems.detestE5(), reference = TestProblems.detestE5Reference.u
        let rodas4 = try GlobalErrorControl(Rodas4()).solve(
            e5, options: SolveOptions(reltol: 1e-6, abstol: .scalar(1e-24), saveEverystep: false))
        try check(rodas4, reference, reltol: 1e-6, abstol: 1e-24, "Rodas4 E5 1e-6")
        let auto = try GlobalErrorControl(AutoVern7(Rodas5P())).solve(
            e5, options: SolveOptions(reltol: 1e-8, abstol: .scalar(1e-24), saveEverystep: false))
        try check(auto, reference, reltol: 1e-8, abstol: 1e-24, "AutoVern7(Rodas5P) E5 1e-8")
    }
}
