import DiffEqCore
import ProblemLibrary
import StiffSolvers
import Testing

/// Why plain TRBDF2 ends 10³-10⁴ tolerances off on HIRES and OREGO at tight tolerances (issue
/// #13, item 6; the known issues of `SDIRKAccuracyTests`): measured, not assumed.
///
/// TRBDF2's embedded estimate is Hosea & Shampine's companion-formula difference filtered
/// through `W⁻¹ = (I − dhJ)⁻¹` (M. E. Hosea and L. F. Shampine, "Analysis and implementation of
/// TR-BDF2", Appl. Numer. Math. 20 (1996) 21-37), as `SDIRKStepper.stagesAndError` does for every
/// (E)SDIRK method. Each test steps the method by hand and, every k-th accepted step, measures
/// the step's true local error against Rodas5P run from the same `(t_n, u_n)` over the same
/// step at reltol 1e-13 (its own error is below 1e-3 of the tolerance), in the solve's RMS error
/// norm (1 = the tolerance).
///
/// Measured at reltol 1e-8 (issue #13's `abstol`: `1e-4·reltol` for HIRES, `reltol` for OREGO),
/// sampling about 150 steps (this test samples fewer):
///
/// | problem | steps | local error: max, mean | steps × mean | global error |
/// |---------|-------|------------------------|--------------|--------------|
/// | HIRES   | 3554  | 0.60, 0.35             | 1.24e3       | 1.36e3       |
/// | OREGO, J refreshed every step | 17161 | 0.41, 0.35 | 5.9e3 | 4.33e3 |
/// | OREGO   | 17091 | 51, 0.67               | 1.1e4        | 4.34e3       |
///
/// (at 1e-10: HIRES 17094 steps, local max 0.89, steps × mean 6.8e3, global 4.4e3; OREGO 80178
/// steps, global 2.0e4). So the estimate is filtered and holds every sampled step of HIRES to
/// the tolerance, and the global error is what thousands of such steps add up to: errors
/// accumulate (global ≈ steps × mean local error), they are not amplified by the problem, and
/// they are not missed by the estimate. A second-order method needs 10³-10⁵ steps at these
/// tolerances; per-step control cannot promise a global error below steps × tolerance.
/// `GlobalErrorControl(TRBDF2())` reduces HIRES to 249 and OREGO to 927 tolerances at 1e-8 and
/// says so (`globalToleranceNotMet`), rather than returning them as success.
///
/// OREGO also showed a separate defect (the table's last row, measured before the SDIRK stepper
/// took RADAU5's Jacobian refresh rule): with the Jacobian reused across steps, accepted steps at
/// t ≈ 152-195 (h ≈ 0.206) have local errors of 4-51 tolerances; refreshing `J` after every
/// step brings every sampled step below 0.42 but leaves the global error where it was (4.33e3),
/// so it is not what item 6 measures. Comparing the unfiltered estimate with the filtered one did
/// not catch those steps (re-solving with a fresh `J` when only the filter made a step pass
/// changed nothing), so the stale `J` acts through the Newton iteration rather than the filter.
@Suite struct TRBDF2ErrorAccumulationTests {
    struct Measurement {
        var steps = 0
        var sampled = 0
        var maxLocal = 0.0
        var sumLocal = 0.0
        var global = 0.0
        var meanLocal: Double { sumLocal / Double(sampled) }
        /// Global error over what the sampled local errors add up to over all steps.
        var accumulationRatio: Double { global / (Double(steps) * meanLocal) }
    }

    static func measure<F: ODEFunction>(
        _ prob: ODEProblem<F>, reference: [Double], reltol: Double, abstol: Double, samples: Int,
        newton: SDIRKNewtonOptions = .init()
    ) throws -> Measurement where F.Scalar == Double {
        let options = SolveOptions(reltol: reltol, abstol: .scalar(abstol), saveEverystep: false)
        let method = TRBDF2(newton: newton)
        let plain = try method.solve(prob, options: options)
        #expect(plain.retcode == .success)
        var m = Measurement()
        m.global = errorInTolerances(try #require(plain.u.last), reference, reltol: reltol, abstol: abstol)
        let every = Swift.max(1, plain.stats.naccept / samples)
        let tight = SolveOptions(reltol: 1e-13, abstol: .scalar(abstol * 1e-6), saveEverystep: false)
        var integrator = try method.makeIntegrator(prob, options: options)
        while true {
            let t0 = integrator.t
            let u0 = integrator.u
            guard integrator.step() else { break }
            m.steps += 1
            guard m.steps % every == 0 else { continue }
            let u1 = integrator.u
            let local = try Rodas5P().solve(prob.remake(u0: u0, tspan: (t0, integrator.t)), options: tight)
            let exact = try #require(local.u.last)
            var sum = 0.0
            for i in u1.indices {
                let scale = abstol + reltol * Swift.max(Swift.abs(u0[i]), Swift.abs(u1[i]))
                sum += (u1[i] - exact[i]) * (u1[i] - exact[i]) / (scale * scale)
            }
            let e = (sum / Double(u1.count)).squareRoot()
            m.maxLocal = Swift.max(m.maxLocal, e)
            m.sumLocal += e
            m.sampled += 1
        }
        // `step()` returns false for the step that lands on the end (not sampled).
        #expect(integrator.retcode == .success && m.steps + 1 == plain.stats.naccept)
        m.steps = plain.stats.naccept
        return m
    }

    @Test func hiresGlobalErrorIsAccumulatedLocalError() throws {
        let reltol = 1e-8
        let m = try Self.measure(
            TestProblems.hires(), reference: TestProblems.hiresReference.u, reltol: reltol, abstol: 1e-4 * reltol,
            samples: 40)
        // The estimate holds every sampled step to the tolerance ...
        #expect(m.maxLocal <= 1, "largest sampled local error \(m.maxLocal) tolerances")
        // ... and the known failure is the sum of those steps.
        #expect(m.global >= 100, "global error \(m.global) tolerances")
        #expect(m.accumulationRatio >= 0.5 && m.accumulationRatio <= 2, "global / (steps × mean local) = \(m.accumulationRatio)")
    }

    @Test func oregoGlobalErrorIsAccumulatedLocalError() throws {
        let reltol = 1e-8
        let fresh = SDIRKNewtonOptions(slowConvergenceRate: 0, refactorThreshold: 0)
        let m = try Self.measure(
            TestProblems.orego(), reference: TestProblems.oregoReference.u, reltol: reltol, abstol: reltol,
            samples: 40, newton: fresh)
        #expect(m.maxLocal <= 1, "largest sampled local error \(m.maxLocal) tolerances")
        #expect(m.global >= 100, "global error \(m.global) tolerances")
        #expect(m.accumulationRatio >= 0.5 && m.accumulationRatio <= 2, "global / (steps × mean local) = \(m.accumulationRatio)")
    }

    /// POLLU at reltol 1e-8 (abstol = reltol, the test set's; `SDIRKAccuracyTests`' known issue,
    /// 25.6 tolerances): the same measurement on every step. Measured: 247 accepted steps, every
    /// one within 0.315 tolerances of its true local error (mean 0.255), steps × mean = 63, global
    /// error 25.6, ratio 0.41. Not a missed estimate and not amplification: the global error is
    /// less than half of what the 247 steps' local errors add up to; a second-order method's
    /// steps, each at the tolerance, sum past 10 tolerances in a few dozen steps.
    @Test func polluGlobalErrorIsAccumulatedLocalError() throws {
        let reltol = 1e-8
        let m = try Self.measure(
            TestProblems.pollution(), reference: TestProblems.pollutionReference.u, reltol: reltol, abstol: reltol,
            samples: 1000)
        #expect(m.sampled + 1 == m.steps, "every step but the last is measured")
        #expect(m.maxLocal <= 1, "largest local error \(m.maxLocal) tolerances")
        #expect(m.global >= 10, "global error \(m.global) tolerances")
        #expect(m.accumulationRatio >= 0.2 && m.accumulationRatio <= 1, "global / (steps × mean local) = \(m.accumulationRatio)")
    }

    /// The stale-Jacobian steps of OREGO (see the suite's note): at the old reuse rule (refresh
    /// `J` when the contraction rate exceeds 0.3) accepted steps near t = 152-195 carried 4-51
    /// tolerances of local error; with RADAU5's rule (refresh above 0.001, and a measured rate
    /// on the first stage of a step with an older `J`, issue #13 item 3) every sampled step holds.
    /// Measured with the refresh rates 0.03 and 0.05 (and the measured first-stage rate): the
    /// largest sampled local error is 93 and 80 tolerances, which is why the rate stays 0.001.
    @Test func oregoStepsWithAReusedJacobian() throws {
        let reltol = 1e-8
        let m = try Self.measure(
            TestProblems.orego(), reference: TestProblems.oregoReference.u, reltol: reltol, abstol: reltol,
            samples: 400)
        #expect(m.maxLocal <= 1, "largest sampled local error \(m.maxLocal) tolerances")
    }
}
