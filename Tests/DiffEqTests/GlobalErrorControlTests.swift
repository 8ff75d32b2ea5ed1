import DiffEq
import Testing
import ProblemLibrary
import SundialsBridge

/// ``GlobalErrorControl``'s contract: what it estimates and where, what it returns when it cannot
/// meet the tolerance, and that it wraps any algorithm (CVODE included). The accuracy over the
/// methods and published problems is tested beside the plain methods' (ExplicitRKTests'
/// `ReferenceProblemTests`, StiffSolversTests' `StiffGlobalErrorControlTests`).
@Suite struct GlobalErrorControlTests {
    /// The Arenstorf orbit returns to its initial state after one period (HNW I, §II.0).
    static func arenstorfError(_ u: [Double], tol: Double) -> Double {
        zip(u, TestProblems.arenstorfReference.u).map { abs($0 - $1) / (tol + tol * abs($1)) }.max()!
    }

    @Test func invalidSettingsThrowBeforeAnyWork() {
        let prob = TestProblems.arenstorf()
        let options = SolveOptions(reltol: 1e-6, abstol: 1e-6)
        #expect(throws: DiffEqError.self) { try solve(prob, GlobalErrorControl(DP5(), maxSolves: 1), options: options) }
        #expect(throws: DiffEqError.self) { try solve(prob, GlobalErrorControl(DP5(), firstReduction: 1), options: options) }
        #expect(throws: DiffEqError.self) { try solve(prob, GlobalErrorControl(DP5(), target: 1.5), options: options) }
        #expect(throws: DiffEqError.self) { try solve(prob, GlobalErrorControl(DP5(), minimumReltol: 0), options: options) }
        #expect(throws: DiffEqError.self) { try solve(prob, GlobalErrorControl(DP5(), exponent: -1), options: options) }
        #expect(throws: DiffEqError.self) { try solve(prob, GlobalErrorControl(DP5(), exponent: 10), options: options) }
        #expect(throws: DiffEqError.self) { try solve(prob, GlobalErrorControl(DP5()), options: SolveOptions(reltol: -1)) }
        // Fixed-step methods do not control their error through the tolerances.
        #expect(throws: DiffEqError.self) {
            try solve(prob, GlobalErrorControl(Euler()), options: SolveOptions(dt: 0.01))
        }
        #expect(throws: DiffEqError.self) {
            try solve(prob, GlobalErrorControl(DP5()), options: SolveOptions(dt: 0.01, adaptive: false))
        }
    }

    @Test func exponentsFollowTheOrdersOfTheEmbeddedPairs() {
        #expect(DP5().toleranceExponent == 1)
        #expect(Vern9().toleranceExponent == 1)
        #expect(DP8().toleranceExponent == 1)
        #expect(BS3().toleranceExponent == 1)
        #expect(Euler().toleranceExponent == nil)
        // RK4's residual estimate behaves like h^4 (an embedded order 3), Heun's and Midpoint's
        // embedded Euler step like h^2: the error follows the tolerance (α = 1).
        #expect(RK4().toleranceExponent == 1)
        #expect(Heun().toleranceExponent == 1)
        #expect(Midpoint().toleranceExponent == 1)
        #expect(abs(TRBDF2().toleranceExponent! - 2.0 / 3) < 1e-15)
        #expect(abs(Rosenbrock23().toleranceExponent! - 2.0 / 3) < 1e-15)
        #expect(Rodas5P().toleranceExponent == 1)
        #expect(KenCarp4().toleranceExponent == 1)
        #expect(GlobalErrorControl(TRBDF2(), exponent: 0.5).toleranceExponent == 0.5)
    }

    /// Two solves are not enough on Arenstorf at 1e-6 (the pair's estimate is ~10³ tolerances):
    /// the result says so, keeps the second solve, and counts the work of both.
    @Test func aSolveBudgetTooSmallIsReportedWithTheWorkOfEverySolve() throws {
        let prob = TestProblems.arenstorf()
        let sol = try solve(prob, GlobalErrorControl(DP5(), maxSolves: 2), reltol: 1e-6, abstol: 1e-6, saveEverystep: false)
        #expect(sol.retcode == .globalToleranceNotMet)
        #expect(!sol.retcode.isSuccessful)
        let estimate = try #require(sol.globalErrorEstimate)
        #expect(estimate > 1)
        #expect(sol.message?.contains("global error estimate") == true)
        let first = try solve(prob, DP5(), reltol: 1e-6, abstol: 1e-6, saveEverystep: false)
        let second = try solve(prob, DP5(), reltol: 1e-7, abstol: 1e-7, saveEverystep: false)
        #expect(sol.stats.nf == first.stats.nf + second.stats.nf)
        #expect(sol.stats.naccept == first.stats.naccept + second.stats.naccept)
        #expect(sol.u.last == second.u.last)
        // The estimate is of the right size: the second solve's true error.
        let actual = Self.arenstorfError(second.u.last!, tol: 1e-6)
        #expect(estimate > actual / 10 && estimate < actual * 10, "estimate \(estimate), actual \(actual)")
    }

    /// An abstol that underflows to 0 when scaled down must not turn into an error about an
    /// abstol the user never passed.
    @Test func aTinyAbstolStaysPositiveWhenScaled() throws {
        let sol = try solve(
            TestProblems.detestA2(), GlobalErrorControl(DP5()), reltol: 1e-6, abstol: .scalar(5e-324),
            saveEverystep: false)
        #expect(sol.retcode == .success, "\(sol.message ?? "")")
        #expect(try #require(sol.globalErrorEstimate) <= 1)
    }

    @Test func theToleranceFloorStopsTheTightening() throws {
        let sol = try solve(
            TestProblems.arenstorf(), GlobalErrorControl(DP5(), minimumReltol: 1e-7),
            reltol: 1e-6, abstol: 1e-6, saveEverystep: false)
        #expect(sol.retcode == .globalToleranceNotMet)
        #expect(sol.message?.contains("minimumReltol") == true)
    }

    /// A step limit just above what the first solve needs: the second (tighter) solve stops, and
    /// the first, complete one comes back.
    @Test func aFailedTighterSolveReturnsThePreviousCompleteOne() throws {
        let prob = TestProblems.arenstorf()
        let plain = try solve(prob, DP5(), reltol: 1e-6, abstol: 1e-6)
        let limit = plain.stats.naccept + plain.stats.nreject + 5
        let first = try solve(prob, DP5(), reltol: 1e-6, abstol: 1e-6, maxiters: limit)
        #expect(first.retcode == .success)
        try #require(try solve(prob, DP5(), reltol: 1e-7, abstol: 1e-7, maxiters: limit).retcode == .maxIters)
        let sol = try solve(prob, GlobalErrorControl(DP5()), reltol: 1e-6, abstol: 1e-6, maxiters: limit)
        #expect(sol.retcode == .globalToleranceNotMet)
        #expect(sol.t.last == TestProblems.arenstorfPeriod)
        #expect(sol.u.last == first.u.last)
        #expect(sol.globalErrorEstimate == nil)
        #expect(sol.stats.nf > first.stats.nf)
        let message = try #require(sol.message)
        #expect(message.hasPrefix("GlobalErrorControl(DP5)") && message.contains("MaxIters"), "\(message)")
        // A failing first solve comes back as it is, with the wrapper named.
        let early = try solve(prob, GlobalErrorControl(DP5()), reltol: 1e-6, abstol: 1e-6, maxiters: 50)
        #expect(early.retcode == .maxIters)
        #expect(early.message?.hasPrefix("GlobalErrorControl(DP5)") == true)
    }

    /// With `saveat` the estimate covers every saved point; checked against a solve 100 times
    /// more accurate.
    @Test func savedPointsAreControlledAlongTheOrbit() throws {
        let prob = TestProblems.arenstorf()
        let period = TestProblems.arenstorfPeriod
        let times = (0...8).map { period * Double($0) / 8 }
        let sol = try solve(prob, GlobalErrorControl(Tsit5()), reltol: 1e-6, abstol: 1e-6, saveat: .times(times))
        #expect(sol.retcode == .success)
        #expect(sol.t == times)
        #expect(try #require(sol.globalErrorEstimate) <= 1)
        let fine = try solve(prob, GlobalErrorControl(Vern9()), reltol: 1e-8, abstol: 1e-8, saveat: .times(times))
        #expect(fine.retcode == .success)
        for (u, v) in zip(sol.u, fine.u) {
            let error = zip(u, v).map { abs($0 - $1) / (1e-6 + 1e-6 * abs($1)) }.max()!
            #expect(error <= 10, "error \(error) tolerances at a saved point")
        }
    }

    /// Saving every step: the tighter solve's dense output is compared at the looser solve's
    /// steps; the returned solution keeps its own steps and interpolant.
    @Test func everyStepSavedWithDenseOutput() throws {
        let prob = TestProblems.arenstorf()
        let sol = try solve(prob, GlobalErrorControl(DP5()), reltol: 1e-6, abstol: 1e-6)
        #expect(sol.retcode == .success)
        #expect(sol.t.count > 100)
        #expect(try #require(sol.globalErrorEstimate) <= 1)
        #expect(Self.arenstorfError(sol.u.last!, tol: 1e-6) <= 10)
        let half = TestProblems.arenstorfPeriod / 2
        let fine = try solve(prob, Vern9(), reltol: 1e-13, abstol: 1e-13, saveat: .times([half]))
        let mid = try sol(half)
        let error = zip(mid, fine.u[0]).map { abs($0 - $1) / (1e-6 + 1e-6 * abs($1)) }.max()!
        #expect(error <= 10, "interpolated error \(error) tolerances at T/2")
    }

    /// The fixed-size form runs the same solves as the array form (whose steps it reproduces bit
    /// for bit), so the iteration takes the same path: same end state, same work.
    @Test(arguments: [1e-6, 1e-8])
    func fixedSizeFormTakesTheSamePath(tol: Double) throws {
        func exponent<A: StaticODEAlgorithm>(_ a: A) -> Double? { a.toleranceExponent }
        #expect(exponent(DP5()) == 1)
        #expect(abs(exponent(Rosenbrock23())! - 2.0 / 3) < 1e-15)
        let fixed = try solve(
            TestProblems.staticArenstorf(), GlobalErrorControl(DP5()), reltol: tol, abstol: .scalar(tol),
            saveEverystep: false)
        let array = try solve(
            TestProblems.arenstorf(), GlobalErrorControl(DP5()), reltol: tol, abstol: .scalar(tol),
            saveEverystep: false)
        #expect(fixed.retcode == .success)
        #expect(fixed.u.last!.array == array.u.last!)
        #expect(fixed.stats == array.stats)
        #expect(fixed.globalErrorEstimate == array.globalErrorEstimate)
        #expect(try #require(fixed.globalErrorEstimate) <= 1)
        #expect(Self.arenstorfError(fixed.u.last!.array, tol: tol) <= 10)
    }

    /// Any algorithm: CVODE_BDF on the stiff problems of the IVP test set, whose plain solves
    /// miss 10·reltol on HIRES (6.8, 43), OREGO (343 with stability limit detection, 79) and
    /// VDPOL (18, 32) at reltol 1e-6 and 1e-8.
    @Test(arguments: StiffTestSet.fiveWithPublishedSweeps)
    func cvodeUnderGlobalErrorControl(problem: StiffTestSet) throws {
        let method = GlobalErrorControl(CVODE_BDF(stabilityLimitDetection: true))
        for reltol in [1e-6, 1e-8] {
            let abstol = problem.info.testSetAbstol(reltol: reltol)
            let options = SolveOptions(reltol: reltol, abstol: .scalar(abstol), saveEverystep: false)
            let sol: ODESolution<Double>
            switch problem {
            case .rober: sol = try solve(TestProblems.rober(), method, options: options)
            case .hires: sol = try solve(TestProblems.hires(), method, options: options)
            case .pollu: sol = try solve(TestProblems.pollution(), method, options: options)
            case .orego: sol = try solve(TestProblems.orego(), method, options: options)
            case .vdpol: sol = try solve(TestProblems.vanDerPol(), method, options: options)
            case .e5: sol = try solve(TestProblems.detestE5(), method, options: options)
            case .vdpolm: sol = try solve(TestProblems.unscaledVanDerPol(), method, options: options)
            }
            #expect(sol.retcode == .success, "\(sol.message ?? "")")
            #expect(try #require(sol.globalErrorEstimate) <= 1)
            let error = zip(sol.u.last!, problem.reference.u).map { abs($0 - $1) / (abstol + reltol * abs($1)) }.max()!
            #expect(error <= 10, "\(problem) at \(reltol): \(error) tolerances")
        }
    }
}
