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
    /// Jacobian in the SDIRK Newton iteration (``SDIRKNewtonOptions/slowConvergenceRate`` 0.001
    /// and a measured rate on every step with an older `J`):
    ///
    /// | KenCarp4 | Kvaerno5 | TRBDF2 | Rosenbrock23 | Rodas4 | Rodas5P | AutoVern7(Rodas5P) |
    /// |---|---|---|---|---|---|---|
    /// | 0.67, 2.9 | 0.27, 1.5 | 8.4, 57 | 5.6, 11.4 | 0.34, 1.1 | 0.20, 0.28 | 0.20, 0.52 |
    ///
    /// Before it, KenCarp4 and Kvaerno5 at 1e-4 returned x(2000) = −1.205 (1.1e4 tolerances,
    /// `success`): one step from t = 1137 to 2000 across the jump, its stages accepted after one
    /// Newton iteration with residuals of 1e6 tolerances. The two second-order methods at 1e-6
    /// stay known issues: TRBDF2's error grows with its step count as on VDPOL
    /// (`SDIRKAccuracyTests`, 45 tolerances there; 28 to 61 here for refresh rates 0.03 to
    /// 0.05), Rosenbrock23's reaches 11.4. With the refresh rate 0.3 of before issue #13
    /// KenCarp4 at 1e-4 is 135 tolerances off, with 0.1 still 31 (the table on
    /// ``SDIRKNewtonOptions/slowConvergenceRate``).
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
    /// Measured error/tolerance with ``DetestE5``'s Jacobian keeping `wᵀJ = 0` in its first
    /// column (``e5Rodas4WithThePublishedJacobian(reltol:)`` says why), reltol 1e-4, 1e-5, 1e-6,
    /// 1e-7, 1e-8:
    ///
    /// | Rodas5P | AutoVern7(Rodas5P) | Rodas4 | Rosenbrock23 | KenCarp4 |
    /// |---|---|---|---|---|
    /// | 3.66, 2.73, 1.76, 0.12, 0.013 | 7.82, 6.89, 1.25, 0.0085, 0.022 | 0.60, 0.37, 1.18, 0.23, 0.36 | 0.15, 0.17, 0.25, 0.42, MaxIters | 2.1, 0.85, 0.039, 0.097, 0.16 |
    ///
    /// (Kvaerno5 0.09 ... 0.23, TRBDF2 0.42 ... 0.52; largest `|y₂ − y₃ − y₄|` over the run
    /// 2e-23 (AutoVern7(Rodas5P) at 1e-4), at most 2.7e-24 from 1e-6 on.) Before the refined stage solves of the
    /// Rosenbrock methods (``StageRefinement``): Rodas5P 2.3e4 (1e-4), 1.2e3 (1e-6), 2.0e3
    /// (1e-8); AutoVern7(Rodas5P) 3.4e4, 170, 353; all with `success`. With the published
    /// Jacobian (before `wᵀJ = 0` was kept): Rodas4 383, 222, 116, 52, 23, `success` (the case
    /// kept in ``e5Rodas4WithThePublishedJacobian(reltol:)``), AutoVern7(Rodas5P) 13.5 at 1e-4.
    /// Rosenbrock23 at 1e-8 stops at `maxiters` (1e5 steps at t ≈ 1.2e6; it needs 1.3e5, see
    /// ``StiffTestSet/maxiters``), a failing return code with a message.
    ///
    /// **At 1e-4 and 1e-5 the margin is small** (AutoVern7(Rodas5P) 7.8 and 6.9): E5's end
    /// point at reltol 1e-4 needs the invariant kept to about 1e-13 of `y₂` at t ≈ 1e4, far below
    /// what the tolerance asks of any step, so it follows a walk of the invariant by rounding
    /// (±(2 ... 13)e-24 per step for t in [1e4, 1e5] before this `J`); Rodas5P alone moved between
    /// 0.36 and 27 tolerances at 1e-4 with `J` rounded differently in its last bits. At 1e-6 and
    /// tighter every method is within 1.8 tolerances.
    @Test(arguments: [Method.rodas5P, .autoVern7Rodas5P, .rodas4, .rosenbrock23, .kenCarp4], [1e-4, 1e-6, 1e-8])
    func e5EndPoint(method: Method, reltol: Double) throws {
        let options = SolveOptions(reltol: reltol, abstol: .scalar(1e-24), saveEverystep: false)
        let sol = try method.solve(TestProblems.detestE5(), options: options)
        let reference = TestProblems.detestE5Reference
        let error = tolerancesOfError(try #require(sol.u.last), reference.u, reltol: reltol, abstol: 1e-24)
        Self.expectWithinTenOrFailure(sol, error: error, "\(method) E5 \(reltol)")
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

    /// E5 with the Jacobian entries exactly as the test set publishes them (e5.f, subroutine
    /// jeval): `J₂₁ = A` instead of ``DetestE5``'s `J₃₁ + J₄₁`. `J₃₁ = A − B·y₃` adds `A = 7.89e-10` to `B·y₃ ≈ 9e-5` and loses `A`'s low
    /// bits, so `wᵀJ ≠ 0` (`w = (0, 1, −1, −1)`) by up to `ulp(B·y₃)/2 ≈ 7e-21`, by the same
    /// amount step after step while `B·y₃` stays in one binade.
    struct E5PublishedJacobian: ODEModel, Sendable {
        func rhs<S: DiffEqScalar>(_ du: inout [S], _ u: [S], _ p: [S], _ t: S) { DetestE5().rhs(&du, u, p, t) }
        var hasAnalyticJacobian: Bool { true }
        var isAutonomous: Bool { true }
        func jacobian<S: DiffEqScalar>(_ J: inout [S], _ u: [S], _ p: [S], _ t: S) {
            DetestE5().jacobian(&J, u, p, t)
            J[1 + 0 * 4] = p[0]
        }
    }

    static func e5WithThePublishedJacobian() -> ODEProblem<GenericRHS<E5PublishedJacobian, Double>> {
        ODEProblem(
            model: E5PublishedJacobian(), u0: [1.76e-3, 0, 0, 0], tspan: (0, 1e13), p: [7.89e-10, 1.1e7, 1.13e9, 1.13e3])
    }

    /// Rodas4 with a Jacobian whose rounding breaks a linear invariant (known issue, `success`
    /// with a wrong answer): E5 with the published `J` ends 383, 116, 23 tolerances off at
    /// reltol 1e-4, 1e-6, 1e-8 (largest `|y₂ − y₃ − y₄|` 4.8e-22, 1.8e-22, 4.3e-23), where
    /// ``DetestE5``'s `J` (first column invariant-exact) gives 0.60, 1.18, 0.36 (8.2e-24,
    /// 2.3e-24, 5.8e-25), and with the third column made exact as well 1.39, 0.032, 0.22. The
    /// cause is the Jacobian, not the implementation: Rodas4's tableau is rodas.f's (ROCOE,
    /// METH = 1, every digit as in Hairer & Wanner's code). With only the third column made exact
    /// (its rounding changes sign from step to step) it ends 386, 113, 23. A
    /// Rosenbrock method run with such a `J` is a W-method whose `wᵀu` drifts by
    /// `h Σ_i b_i wᵀ(J̃ − J)U_i` per step, and Rodas4 (not a W-method) makes that sum far larger
    /// than Rodas5P does (adding 1e-20 to `J₂₁` of the invariant-exact `J` gives Rodas4 953,
    /// Rodas5P 1.9, Rosenbrock23 3.4 tolerances at 1e-4). The drift, 1e-23 ... 4e-23 per step for
    /// t in [1e3, 4e4] where `y₂ ≈ 1e-10`, is 1e9 times below each step's tolerance, so no local
    /// error estimate can see it; it becomes the whole answer because E5 keeps `y₂ − y₃` while
    /// `y₂, y₃` decay to 9e-23. What a user sees instead of the silent drift:
    /// ``GlobalErrorControl`` (``e5Rodas4UnderGlobalErrorControl(reltol:)``).
    @Test(arguments: [1e-4, 1e-6, 1e-8])
    func e5Rodas4WithThePublishedJacobian(reltol: Double) throws {
        let sol = try Rodas4().solve(
            Self.e5WithThePublishedJacobian(), options: SolveOptions(reltol: reltol, abstol: .scalar(1e-24), saveEverystep: false))
        let error = tolerancesOfError(try #require(sol.u.last), TestProblems.detestE5Reference.u, reltol: reltol, abstol: 1e-24)
        withKnownIssue("Rodas4 with E5's published J: wᵀJ ≠ 0 by the rounding of J₃₁ = A − B·y₃, a W-method drift of the invariant (measured 383, 116, 23 tolerances; 0.60, 1.18, 0.36 with DetestE5's J, whose first column keeps wᵀJ = 0)") {
            Self.expectWithinTenOrFailure(sol, error: error, "Rodas4 E5 (published J) \(reltol)")
        }
    }

    /// ``GlobalErrorControl`` around Rodas4 on E5 with the published `J` does not pass the drift
    /// as success: at 1e-4 and 1e-6 it returns `globalToleranceNotMet` (measured estimates 1.36,
    /// 1.14; errors 10.9, 5.5), at 1e-8 `success` within 10 tolerances (estimate 0.98, error 3.8).
    @Test(arguments: [1e-4, 1e-6, 1e-8])
    func e5Rodas4UnderGlobalErrorControl(reltol: Double) throws {
        let sol = try GlobalErrorControl(Rodas4()).solve(
            Self.e5WithThePublishedJacobian(), options: SolveOptions(reltol: reltol, abstol: .scalar(1e-24), saveEverystep: false))
        let error = tolerancesOfError(try #require(sol.u.last), TestProblems.detestE5Reference.u, reltol: reltol, abstol: 1e-24)
        if sol.retcode.isSuccessful {
            #expect(try #require(sol.globalErrorEstimate) <= 1)
        }
        Self.expectWithinTenOrFailure(sol, error: error, "GlobalErrorControl(Rodas4) E5 \(reltol)")
    }

    // MARK: GlobalErrorControl

    /// The three cases of issue #13 item 4 where ``GlobalErrorControl``'s solves agreed on a
    /// wrong answer and it returned `success`: Kvaerno5 on VDPOLM at 1e-4 (estimate 0.15, error
    /// 1.1e4), Rodas4 on E5 at 1e-6 (0.71, 110; run here with the published `J` it had then),
    /// AutoVern7(Rodas5P) on E5 at 1e-8 (0.89, 27; with ``DetestE5``'s Jacobian now).
    /// After the two fixes above (measured): 0.13 tolerances with estimate 0.015 (`success`);
    /// `globalToleranceNotMet` with estimate 1.14 after 5 solves (error 5.5); 0.18 with
    /// estimate 0.023 (`success`).
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
            Self.e5WithThePublishedJacobian(), options: SolveOptions(reltol: 1e-6, abstol: .scalar(1e-24), saveEverystep: false))
        try check(rodas4, reference, reltol: 1e-6, abstol: 1e-24, "Rodas4 E5 1e-6")
        let auto = try GlobalErrorControl(AutoVern7(Rodas5P())).solve(
            e5, options: SolveOptions(reltol: 1e-8, abstol: .scalar(1e-24), saveEverystep: false))
        try check(auto, reference, reltol: 1e-8, abstol: 1e-24, "AutoVern7(Rodas5P) E5 1e-8")
    }
}
