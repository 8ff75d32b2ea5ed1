import Foundation
import Testing
import DiffEqCore
import ExplicitRK
import ProblemLibrary
import Sensitivity
import StiffSolvers
import SundialsBridge
import SensitivityCVODES

/// `u' = -u` with no parameters.
private struct UnitDecay: ODEModel {
    func rhs<S: DiffEqScalar>(_ du: inout [S], _ u: [S], _ p: [S], _ t: S) { du[0] = -u[0] }
}

/// `u' = -sqrt(p) u`: NaN from the first evaluation when `p < 0`.
private struct SquareRootDecay: ODEModel {
    func rhs<S: DiffEqScalar>(_ du: inout [S], _ u: [S], _ p: [S], _ t: S) { du[0] = -S.sqrt(p[0]) * u[0] }
}

/// `u' = p u²`: `u(t) = u0 / (1 - p u0 t)` blows up at `t = 1 / (p u0)`.
private struct Blowup: ODEModel {
    func rhs<S: DiffEqScalar>(_ du: inout [S], _ u: [S], _ p: [S], _ t: S) { du[0] = p[0] * u[0] * u[0] }
}

/// `g(u) = sqrt(u_0 - 10)`: NaN, and a NaN gradient, for the states of the tests that use it.
private struct SquareRootLoss: PointLoss {
    func callAsFunction<S: DiffEqScalar>(_ u: [S], _ t: Double) -> S { S.sqrt(u[0] - S(10.0)) }
}

@Suite struct CVODESSensitivityTests {
    static let lvP = [1.5, 1.0, 3.0, 1.0]
    static let lvU0 = [1.0, 1.0]

    private func lvProblem(_ tspan: (Double, Double) = (0, 10)) -> ODEProblem<GenericRHS<LotkaVolterra, Double>> {
        ODEProblem(model: LotkaVolterra(), u0: Self.lvU0, tspan: tspan, p: Self.lvP)
    }

    @Test func lotkaVolterraMatchesForwardDiffAndCentralDifferences() throws {
        let prob = lvProblem()
        let options = SolveOptions(reltol: 1e-10, abstol: .scalar(1e-10), saveat: .every(0.1))
        let loss = SumOfSquaresLoss()
        let reference = try centralDifferences(
            LotkaVolterra(), u0: Self.lvU0, p: Self.lvP, tspan: (0, 10), saveat: .every(0.1), algorithm: Tsit5(),
            reltol: 1e-12, abstol: 1e-12)
        let fd = try gradient(of: loss, prob, algorithm: Tsit5(), options: options, sensealg: ForwardDiffSensitivity())
        // The algorithm argument is not used by the CVODES methods: any algorithm is accepted.
        // LV is not stiff: the adjoint runs Adams with CVODES' polynomial interpolation, whose
        // accuracy matches the long Adams steps (cubic Hermite limits it to about 7e-6 here).
        let results = [
            try gradient(of: loss, prob, algorithm: Tsit5(), options: options, sensealg: CVODESForward()),
            try gradient(of: loss, prob, algorithm: CVODE_Adams(), options: options, sensealg: CVODESForward(method: .adams)),
            try gradient(
                of: loss, prob, algorithm: Tsit5(), options: options,
                sensealg: CVODESAdjoint(method: .adams, interpolation: .polynomial)),
        ]
        print("LV central differences: dp = \(reference.dp), du0 = \(reference.du0)")
        print("LV ForwardDiff: dp = \(fd.dp), du0 = \(fd.du0)")
        for r in results {
            let ep = relativeError(r.dp, reference.dp), eu = relativeError(r.du0, reference.du0)
            let fp = relativeError(r.dp, fd.dp), fu = relativeError(r.du0, fd.du0)
            print(
                "LV \(r.method): vs central differences dp \(ep), du0 \(eu); vs ForwardDiff dp \(fp), du0 \(fu); "
                    + "loss rel diff \(abs(r.loss - fd.loss) / fd.loss); \(r.stats)")
            #expect(ep < 1e-6, "\(r.method) dp \(r.dp) vs \(reference.dp)")
            #expect(eu < 1e-6, "\(r.method) du0 \(r.du0) vs \(reference.du0)")
            #expect(fp < 1e-6, "\(r.method) dp \(r.dp) vs \(fd.dp)")
            #expect(fu < 1e-6, "\(r.method) du0 \(r.du0) vs \(fd.du0)")
            #expect(abs(r.loss - fd.loss) <= 1e-7 * fd.loss)
        }
        // Per-component absolute tolerances (CVodeSVtolerances; the sensitivities' follow them).
        let perComponent = SolveOptions(reltol: 1e-10, abstol: .perComponent([1e-10, 1e-12]), saveat: .every(0.1))
        for sensealg in [CVODESForward(method: .adams), CVODESAdjoint(method: .adams, interpolation: .polynomial)] as [any SensitivityAlgorithm] {
            func run<S: SensitivityAlgorithm>(_ s: S) throws -> SensitivityResult {
                try gradient(of: loss, prob, algorithm: Tsit5(), options: perComponent, sensealg: s)
            }
            let r = try run(sensealg)
            let ep = relativeError(r.dp, reference.dp), eu = relativeError(r.du0, reference.du0)
            print("LV \(r.method), per-component abstol: vs central differences dp \(ep), du0 \(eu)")
            #expect(ep < 1e-6 && eu < 1e-6)
        }
        // The default adjoint (BDF, Hermite) is limited here by BDF's global error in the forward
        // state at reltol 1e-10 (the loss is off by ~2e-8, the smallest gradient component by
        // ~1.4e-6 against central differences); the error falls with the tolerance (about 5e-8
        // at 1e-11, 9e-9 at 1e-12 against tight forward mode), so it is checked at 1e-11.
        let bdf = try gradient(of: loss, prob, algorithm: Tsit5(), options: options, sensealg: CVODESAdjoint())
        let tighter = SolveOptions(reltol: 1e-11, abstol: .scalar(1e-11), saveat: .every(0.1))
        let bdfTight = try gradient(of: loss, prob, algorithm: Tsit5(), options: tighter, sensealg: CVODESAdjoint())
        for (r, tol) in [(bdf, 1e-10), (bdfTight, 1e-11)] {
            print(
                "LV \(r.method) at reltol \(tol): vs central differences dp \(relativeError(r.dp, reference.dp)), "
                    + "du0 \(relativeError(r.du0, reference.du0)); loss rel diff \(abs(r.loss - fd.loss) / fd.loss); \(r.stats)")
        }
        #expect(relativeError(bdfTight.dp, reference.dp) < 1e-6, "\(bdfTight.dp) vs \(reference.dp)")
        #expect(relativeError(bdfTight.du0, reference.du0) < 1e-6, "\(bdfTight.du0) vs \(reference.du0)")
        #expect(relativeError(bdfTight.dp, reference.dp) < relativeError(bdf.dp, reference.dp))
    }

    @Test func roberSensitivitiesAgreeAcrossMethods() throws {
        let p = [0.04, 3e7, 1e4], u0 = [1.0, 0.0, 0.0]
        let prob = ODEProblem(model: Rober(), u0: u0, tspan: (0, 40), p: p)
        let options = SolveOptions(reltol: 1e-10, abstol: 1e-14, saveat: .every(4))
        let loss = SumOfSquaresLoss()
        let results = [
            try gradient(of: loss, prob, algorithm: Rodas5P(), options: options, sensealg: ForwardDiffSensitivity()),
            try gradient(of: loss, prob, algorithm: Rodas5P(), options: options, sensealg: InterpolatingAdjoint()),
            try gradient(of: loss, prob, algorithm: CVODE_BDF(), options: options, sensealg: CVODESForward()),
            try gradient(of: loss, prob, algorithm: CVODE_BDF(), options: options, sensealg: CVODESAdjoint()),
        ]
        // dL/dlog k: the rate constants span nine orders of magnitude, so each sensitivity is
        // compared on its own scale rather than against the largest one.
        func scaled(_ dp: [Double]) -> [Double] { zip(dp, p).map { $0 * $1 } }
        for r in results { print("ROBER \(r.method): p·dL/dp = \(scaled(r.dp)), du0 = \(r.du0); \(r.stats)") }
        for (i, a) in results.enumerated() {
            for b in results[(i + 1)...] {
                let ep = relativeError(scaled(a.dp), scaled(b.dp), floor: 0)
                let eu = relativeError(a.du0, b.du0, floor: 0)
                print("ROBER \(a.method) vs \(b.method): p·dp rel diff \(ep), du0 rel diff \(eu)")
                #expect(ep < 1e-5, "\(a.method) \(scaled(a.dp)) vs \(b.method) \(scaled(b.dp))")
                #expect(eu < 1e-5, "\(a.method) \(a.du0) vs \(b.method) \(b.du0)")
            }
        }
    }

    @Test func exponentialGrowthMatchesClosedForm() throws {
        // L = Σ_k u(t_k)² = Σ_k u0² e^(2 a t_k): dL/da = Σ 2 t_k u(t_k)², dL/du0 = Σ 2 u(t_k)² / u0.
        // The observations include t0 and a repeated time.
        let a = -0.7, u0 = 1.3
        let times = [0, 0.5, 1, 1, 1.75, 2]
        let prob = ODEProblem(model: Growth(), u0: [u0], tspan: (0, 2), p: [a])
        var exactDa = 0.0, exactDu0 = 0.0, exactL = 0.0
        for t in times {
            let u2 = u0 * u0 * Foundation.exp(2 * a * t)
            exactL += u2
            exactDa += 2 * t * u2
            exactDu0 += 2 * u2 / u0
        }
        let options = SolveOptions(reltol: 1e-10, abstol: 1e-12, saveat: .times(times))
        let methods: [any SensitivityAlgorithm] = [
            CVODESForward(), CVODESForward(method: .adams, corrector: .staggered), CVODESAdjoint(),
            // Nd = 7 below Adams' largest order (12) let CVODES read past its stored points
            // (it crashed on Lotka-Volterra; issue #14); it is refused now, so Nd = 13.
            CVODESAdjoint(method: .adams, stepsBetweenCheckpoints: 13, interpolation: .polynomial),
        ]
        func run<S: SensitivityAlgorithm>(_ s: S, _ options: SolveOptions) throws -> SensitivityResult {
            try gradient(of: SumOfSquaresLoss(), prob, algorithm: Tsit5(), options: options, sensealg: s)
        }
        for method in methods {
            let r = try run(method, options)
            let e = max(abs(r.dp[0] - exactDa) / abs(exactDa), abs(r.du0[0] - exactDu0) / exactDu0)
            print("growth \(r.method): rel err vs closed form \(e); \(r.stats)")
            #expect(e < 1e-7, "\(r.method): \(r.dp) \(r.du0) vs \(exactDa) \(exactDu0)")
            #expect(abs(r.loss - exactL) < 1e-8 * exactL)
            // No saveat: L = u(T)², dL/da = 2 T u(T)², dL/du0 = 2 u(T)² / u0.
            let end = try run(method, SolveOptions(reltol: 1e-10, abstol: 1e-12))
            let uT2 = u0 * u0 * Foundation.exp(2 * a * 2)
            let eEnd = max(abs(end.dp[0] - 4 * uT2) / (4 * uT2), abs(end.du0[0] - 2 * uT2 / u0) / (2 * uT2 / u0))
            print("growth, end state only, \(end.method): rel err \(eEnd)")
            #expect(eEnd < 1e-7)
        }
    }

    @Test func problemWithoutParameters() throws {
        // u' = -u, L = Σ_k u(t_k)², u(t) = u0 e^(-t): dL/du0 = Σ 2 u0 e^(-2 t_k).
        let u0 = 0.8, times = [0.5, 1.0, 2.0]
        let prob = ODEProblem(model: UnitDecay(), u0: [u0], tspan: (0, 2), p: [])
        let options = SolveOptions(reltol: 1e-10, abstol: 1e-12, saveat: .times(times))
        let exact = times.reduce(0.0) { $0 + 2 * u0 * Foundation.exp(-2 * $1) }
        for r in [
            try gradient(of: SumOfSquaresLoss(), prob, algorithm: Tsit5(), options: options, sensealg: CVODESForward()),
            try gradient(of: SumOfSquaresLoss(), prob, algorithm: Tsit5(), options: options, sensealg: CVODESAdjoint()),
        ] {
            print("no parameters \(r.method): du0 rel err \(abs(r.du0[0] - exact) / exact)")
            #expect(r.dp.isEmpty)
            #expect(abs(r.du0[0] - exact) < 1e-7 * exact)
        }
    }

    @Test func statisticsAreReported() throws {
        let prob = lvProblem()
        let options = SolveOptions(reltol: 1e-8, abstol: .scalar(1e-8), saveat: .every(0.1))
        let loss = SumOfSquaresLoss()
        let forward = try gradient(of: loss, prob, algorithm: Tsit5(), options: options, sensealg: CVODESForward())
        #expect(forward.stats.forwardSteps > 0)
        #expect(forward.stats.forwardEvaluations > forward.stats.forwardSteps)
        #expect(forward.stats.jacobians > 0)
        #expect(forward.stats.backwardEvaluations == 0 && forward.stats.vjps == 0 && forward.stats.checkpoints == 0)
        #expect(forward.stats.peakStoredStates == 101)

        let stride = 50
        let adjoint = try gradient(
            of: loss, prob, algorithm: Tsit5(), options: options, sensealg: CVODESAdjoint(stepsBetweenCheckpoints: stride))
        let s = adjoint.stats
        print("LV CVODESAdjoint(Nd = \(stride)): \(s)")
        #expect(s.forwardSteps > stride)
        #expect(s.backwardSteps > 0 && s.backwardEvaluations > s.backwardSteps)
        // One VJP per backward right-hand side and per quadrature node.
        #expect(s.vjps == s.backwardEvaluations)
        #expect(s.jacobians > 0)
        // A checkpoint at t0 and one every Nd steps.
        #expect(s.checkpoints == s.forwardSteps / stride + 1)
        // At least two vectors per checkpoint, 2 (Nd + 1) Hermite vectors, 101 observed states.
        #expect(s.peakStoredStates >= 2 * s.checkpoints + 2 * (stride + 1) + 101)

        // One checkpoint interval holding every step: nothing is recomputed, so fewer forward
        // evaluations and more stored vectors. The recomputation from a checkpoint restarts the
        // Newton iteration with a fresh Jacobian, so its steps match the forward pass's only to
        // the corrector's tolerance: the two gradients differ by less than either's error
        // against forward mode at this tolerance (reltol 1e-8), not to rounding.
        let whole = try gradient(
            of: loss, prob, algorithm: Tsit5(), options: options, sensealg: CVODESAdjoint(stepsBetweenCheckpoints: 100_000))
        print("LV CVODESAdjoint(Nd = 100000): \(whole.stats)")
        #expect(whole.stats.checkpoints == 1)
        #expect(whole.stats.forwardSteps == s.forwardSteps)
        #expect(whole.stats.forwardEvaluations < s.forwardEvaluations)
        #expect(whole.stats.peakStoredStates > s.peakStoredStates)
        let fd = try gradient(of: loss, prob, algorithm: Tsit5(), options: options, sensealg: ForwardDiffSensitivity())
        let difference = relativeError(whole.dp + whole.du0, adjoint.dp + adjoint.du0)
        let errors = (
            relativeError(adjoint.dp + adjoint.du0, fd.dp + fd.du0), relativeError(whole.dp + whole.du0, fd.dp + fd.du0)
        )
        print("LV CVODESAdjoint at reltol 1e-8: Nd = 50 vs Nd = 100000 rel diff \(difference); vs ForwardDiff \(errors)")
        #expect(difference < 1e-5)
        #expect(difference < errors.0 && difference < errors.1)
        #expect(errors.0 < 1e-4 && errors.1 < 1e-4)
    }

    @Test func replayGuardStopsTheRecomputationAndTheGradientIsRecomputedWithoutCheckpoints() throws {
        // The guard is made to fire after 10 recomputed steps of a 50-step checkpoint interval
        // (in normal use it fires only when a recomputation needs more steps than the forward
        // pass, where CVODES would write past its storage): the gradient is computed again with
        // one checkpoint interval, and equals that of a run that never recomputes.
        let prob = lvProblem()
        let options = SolveOptions(reltol: 1e-8, abstol: .scalar(1e-8), saveat: .every(0.1))
        var guarded = CVODESAdjoint(stepsBetweenCheckpoints: 50)
        guarded._replayGuardStride = 10
        let r = try gradient(of: SumOfSquaresLoss(), prob, algorithm: Tsit5(), options: options, sensealg: guarded)
        let whole = try gradient(
            of: SumOfSquaresLoss(), prob, algorithm: Tsit5(), options: options,
            sensealg: CVODESAdjoint(stepsBetweenCheckpoints: 100_000))
        print("guarded: \(r.stats); one interval: \(whole.stats)")
        #expect(r.stats.checkpoints == 1)
        #expect(r.dp == whole.dp && r.du0 == whole.du0 && r.loss == whole.loss)
        #expect(r.stats.vjps == r.stats.backwardEvaluations)
    }

    @Test func failuresThrowWithTheSundialsMessage() throws {
        func message<S: SensitivityAlgorithm>(_ sensealg: S, _ problem: ODEProblem<GenericRHS<some ODEModel, Double>>,
            loss: some PointLoss = SumOfSquaresLoss(), options: SolveOptions) -> String? {
            do {
                let r = try gradient(of: loss, problem, algorithm: Tsit5(), options: options, sensealg: sensealg)
                Issue.record("\(sensealg.name) did not throw: \(r.dp) \(r.du0)")
                return nil
            } catch {
                guard case .solveFailed(let phase, let code, let message) = error, let message else {
                    Issue.record("\(sensealg.name): unexpected error \(error)")
                    return nil
                }
                print("\(sensealg.name) failed in \(phase) with \(code): \(message)")
                #expect(!code.isSuccessful)
                return message
            }
        }
        let options = SolveOptions(reltol: 1e-8, abstol: 1e-10, saveat: .every(0.5))
        // NaN from f at the first evaluation.
        let nan = ODEProblem(model: SquareRootDecay(), u0: [1.0], tspan: (0, 2), p: [-1.0])
        for m in [message(CVODESForward(), nan, options: options), message(CVODESAdjoint(), nan, options: options)] {
            #expect(m?.contains("NaN") == true, "\(m ?? "")")
            #expect(m?.contains("CVode") == true, "\(m ?? "")")
        }
        // A solution that blows up at t = 1 inside the span.
        let blowup = ODEProblem(model: Blowup(), u0: [1.0], tspan: (0, 2), p: [1.0])
        for m in [message(CVODESForward(), blowup, options: options), message(CVODESAdjoint(), blowup, options: options)] {
            #expect(m?.isEmpty == false)
        }
        // A NaN gradient of the loss poisons the adjoint at the last observation.
        let decay = ODEProblem(model: Growth(), u0: [1.0], tspan: (0, 2), p: [-0.5])
        let poisoned = message(CVODESAdjoint(), decay, loss: SquareRootLoss(), options: options)
        #expect(poisoned?.contains("NaN") == true, "\(poisoned ?? "")")
        // Settings rejected before any work.
        #expect(throws: SensitivityError.self) {
            _ = try gradient(
                of: SumOfSquaresLoss(), decay, algorithm: Tsit5(), options: options,
                sensealg: CVODESAdjoint(stepsBetweenCheckpoints: 0))
        }
        #expect(throws: SensitivityError.self) {
            _ = try gradient(
                of: SumOfSquaresLoss(), decay, algorithm: Tsit5(), options: options, sensealg: CVODESForward(maxOrder: 6))
        }
    }
}
